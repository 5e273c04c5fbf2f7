/**
 * HotStore.keys: the keys of a real SQLite file in UTF-8 byte order with their latest entry,
 * checked against a naive model (every key's last op, sorted by its UTF-8 bytes) over seeded
 * random histories with deletes and non-ASCII keys; and the query plan seeks the
 * (key, version) index instead of scanning the table.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { AppliedOp } from "../../src/ledger/index.ts";
import { SeededRandom } from "../../src/lib/index.ts";
import type { KeyState } from "../../src/ledger/index.ts";
import { HotStore, keysQuery } from "../../src/storage/index.ts";
import { tempDir } from "../support/node-process.ts";

const dir = tempDir("scribe-hot-keys-");
afterAll(() => dir.remove());

/** Reference order: compare the UTF-8 encodings byte by byte. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const alphabet = ["a", "b", "/", "é", "\u00ff", "\uffff", "\u{1f600}", "\u{10ffff}", "\u0000", "Z"];

function randomKey(random: SeededRandom): string {
  let key = "";
  const length = 1 + random.int(3);
  for (let i = 0; i < length; i++) key += alphabet[random.int(alphabet.length)];
  return key;
}

/** Appends `count` random puts and deletes; returns the model: key → latest state. */
function fillRandom(store: HotStore, random: SeededRandom, count: number): Map<string, KeyState> {
  const model = new Map<string, KeyState>();
  store.transaction(() => {
    for (let i = 0; i < count; i++) {
      const key = randomKey(random);
      const previous = model.get(key);
      const op = previous && !previous.deleted && random.int(4) === 0 ? "delete" : "put";
      const index = store.nextIndex;
      const value = op === "put" ? new Uint8Array([i & 0xff]) : new Uint8Array(0);
      const applied: AppliedOp = {
        entry: { index, op, key, valueHash: new Uint8Array(32), valueBytes: value.length, contentType: "", timestampMs: 0, prevIndex: previous?.index ?? -1, version: (previous?.version ?? 0) + 1 },
        wasLive: previous !== undefined && !previous.deleted,
        value,
      };
      store.append([applied]);
      model.set(key, { key, index, version: applied.entry.version, deleted: op === "delete" });
    }
  });
  return model;
}

function expected(model: Map<string, KeyState>, prefix: string, after?: string): KeyState[] {
  return [...model.values()].filter((s) => s.key.startsWith(prefix) && (after === undefined || byteOrder(s.key, after) > 0)).sort((x, y) => byteOrder(x.key, y.key));
}

/** Every page of `limit` keys, following the cursor, concatenated. */
function pageThrough(store: HotStore, prefix: string, limit: number): KeyState[] {
  const all: KeyState[] = [];
  let after: string | undefined;
  for (;;) {
    const page = store.keys({ prefix, after, limit });
    all.push(...page);
    if (page.length < limit) return all;
    after = page[page.length - 1]!.key;
  }
}

test("keys match the model for every prefix and cursor, in byte order, deleted keys included", () => {
  const store = HotStore.open(join(dir.path, "random.db"), { sync: "normal" });
  try {
    const random = new SeededRandom(1502);
    const model = fillRandom(store, random, 3000);
    expect([...model.values()].some((s) => s.deleted)).toBe(true);
    const prefixes = ["", "a", "é", "\u{10ffff}", "\uffff", "\u{1f600}a", "\u0000", "zz", "a/b"];
    for (const prefix of prefixes) {
      const all = expected(model, prefix);
      expect(store.keys({ prefix, limit: 10_000 }), `prefix ${JSON.stringify(prefix)}`).toEqual(all);
      for (const limit of [1, 3, 64]) expect(pageThrough(store, prefix, limit)).toEqual(all);
      for (let i = 0; i < 20; i++) {
        const after = randomKey(random);
        expect(store.keys({ prefix, after, limit: 5 }), `prefix ${JSON.stringify(prefix)} after ${JSON.stringify(after)}`).toEqual(expected(model, prefix, after).slice(0, 5));
      }
    }
  } finally {
    store.close();
  }
});

test("the plan seeks the (key, version) index: no scan of the entries table", () => {
  const store = HotStore.open(join(dir.path, "plan.db"), { sync: "normal" });
  try {
    fillRandom(store, new SeededRandom(7), 500);
    store.db.exec("ANALYZE");
    for (const upper of ["b", null]) {
      const plan = store.db.query<{ detail: string }, [string, string | null, number]>(`EXPLAIN QUERY PLAN ${keysQuery}`).all("a", upper, 100).map((row) => row.detail);
      expect(plan.filter((detail) => /entries/.test(detail)).length).toBeGreaterThanOrEqual(3);
      for (const detail of plan) {
        if (/\b(entries|e|m)\b/.test(detail)) expect(detail, plan.join("\n")).toMatch(/^SEARCH .* USING (COVERING )?INDEX entries_key_version \(key/);
      }
      expect(plan.some((detail) => /^SCAN (entries|e|m)\b/.test(detail)), plan.join("\n")).toBe(false);
    }
  } finally {
    store.close();
  }
});
