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
