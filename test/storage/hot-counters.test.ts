/**
 * HotStore's counters on a real SQLite file: live keys, keys ever written (distinct keys, deleted
 * ones included; behind scribe_ledger_storage_keys_total) and value bytes match a naive model of a
 * seeded random history with deletes, survive a reopen, and a database written before
 * `keys_written` existed gets it counted at open.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { AppliedOp } from "../../src/ledger/index.ts";
import { SeededRandom } from "../../src/lib/index.ts";
import { HotStore } from "../../src/storage/index.ts";
import { tempDir } from "../support/node-process.ts";

const dir = tempDir("scribe-hot-counters-");
afterAll(() => dir.remove());

test("live keys, keys written and value bytes follow the history, across reopens and for old files", () => {
  const path = join(dir.path, "scribe.db");
  const random = new SeededRandom(7);
  const latest = new Map<string, { index: number; version: number; deleted: boolean }>();
  let valueBytes = 0;
  let store = HotStore.open(path, { sync: "normal" });
  store.transaction(() => {
    for (let i = 0; i < 400; i++) {
      const key = `k${random.int(60)}`;
      const previous = latest.get(key);
      const op = previous && !previous.deleted && random.int(3) === 0 ? "delete" : "put";
      const value = op === "put" ? new Uint8Array(1 + random.int(9)) : new Uint8Array(0);
      const index = store.nextIndex;
      const applied: AppliedOp = {
        entry: { index, op, key, valueHash: new Uint8Array(32), valueBytes: value.length, contentType: "", timestampMs: 0, prevIndex: previous?.index ?? -1, version: (previous?.version ?? 0) + 1 },
        wasLive: previous !== undefined && !previous.deleted,
        value,
      };
      store.append([applied]);
      latest.set(key, { index, version: applied.entry.version, deleted: op === "delete" });
      valueBytes += value.length;
    }
  });
  const live = [...latest.values()].filter((s) => !s.deleted).length;
  expect(latest.size).toBeGreaterThan(live); // some keys are deleted: the two counts differ
  const expected = { entries: 400, liveKeys: live, keysWritten: latest.size, valueBytes };
  expect(store.getStats()).toEqual(expected);
  store.close();

  store = HotStore.open(path, { sync: "normal" });
  expect(store.getStats()).toEqual(expected);
  // A file from before keys_written: the count is rebuilt from the entries at open.
  store.db.run("DELETE FROM meta WHERE k = 'keys_written'");
  store.close();
  store = HotStore.open(path, { sync: "normal" });
  expect(store.getStats()).toEqual(expected);
  store.close();
});

test("one append of many entries stores every entry and value, whatever the count (rows go 32 to a statement, the rest one by one)", () => {
  const store = HotStore.open(join(dir.path, "bulk.db"), { sync: "normal" });
  let total = 0;
  for (const count of [1, 31, 32, 33, 100, 64]) {
    const ops: AppliedOp[] = [];
    for (let i = 0; i < count; i++) {
      const index = store.nextIndex + i;
      const deleted = i % 7 === 3; // a delete of the key put just before it
      const key = deleted ? `bulk-${index - 1}` : `bulk-${index}`;
      const value = deleted ? new Uint8Array(0) : new Uint8Array([index & 0xff, count]);
      const entry = { index, op: deleted ? ("delete" as const) : ("put" as const), key, valueHash: new Uint8Array(32).fill(index & 0xff), valueBytes: value.length, contentType: deleted ? "" : "application/octet-stream", timestampMs: index, prevIndex: deleted ? index - 1 : -1, version: deleted ? 2 : 1 };
      ops.push({ entry, wasLive: deleted, value });
    }
    store.transaction(() => store.append(ops));
    total += count;
    expect(store.nextIndex).toBe(total);
    const stored = store.entries(total - count, count);
    expect(stored.map((e) => [e.index, e.op, e.key, e.version, e.prevIndex, e.timestampMs, e.contentType, e.valueHash[0]])).toEqual(
      ops.map(({ entry }) => [entry.index, entry.op, entry.key, entry.version, entry.prevIndex, entry.timestampMs, entry.contentType, entry.index & 0xff]),
    );
    for (const { entry, value } of ops) expect(store.value(entry.index)).toEqual(entry.op === "put" ? value : undefined);
  }
  store.close();
});
