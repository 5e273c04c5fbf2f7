/**
 * The key filter that answers "never written" for new keys without a SQLite read: it never
 * forgets a key (a "no" is always right), its false "maybe" rate stays small as it grows in
 * layers, and a HotStore reopened on a ledger finds every old key's head whether the filter was
 * read at open or in later steps (until then every key is looked up).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { AppliedOp } from "../../src/ledger/index.ts";
import { HotStore, KeyFilter, keyFilterKeysMin } from "../../src/storage/index.ts";
import { tempDir } from "../support/node-process.ts";

const dir = tempDir("scribe-key-filter-");
afterAll(() => dir.remove());

test("every added key is 'maybe'; few absent keys are, also once it grew past its first layer", () => {
  const filter = new KeyFilter();
  const added = keyFilterKeysMin + 300_000; // past the first layer's capacity: a second layer
  for (let i = 0; i < added; i++) filter.add(`key/${i}`);
  let forgotten = 0;
  for (let i = 0; i < added; i++) if (!filter.mayContain(`key/${i}`)) forgotten++;
  expect(forgotten).toBe(0);
  let falseMaybes = 0;
  const probes = 200_000;
  for (let i = 0; i < probes; i++) if (filter.mayContain(`other/${i}`)) falseMaybes++;
  expect(falseMaybes / probes).toBeLessThan(0.02);
  expect(filter.full).toBe(false);
  expect(filter.size).toBeGreaterThan(0);
});

test("unicode keys and keys that differ in one code unit are told apart", () => {
  const filter = new KeyFilter();
  filter.add("ключ/日本");
  filter.add("a:b");
  expect(filter.mayContain("ключ/日本")).toBe(true);
  expect(filter.mayContain("a:b")).toBe(true);
  let maybes = 0;
  for (const key of ["ключ/日", "a:c", "b:b", "a:bb", "", "A:b"]) if (filter.mayContain(key)) maybes++;
  expect(maybes).toBeLessThan(2);
});

function put(store: HotStore, key: string, version: number, prevIndex: number, wasLive = false): AppliedOp {
  const index = store.nextIndex;
  const value = new Uint8Array([1, 2, 3]);
  return { entry: { index, op: "put", key, valueHash: new Uint8Array(32), valueBytes: 3, contentType: "", timestampMs: 0, prevIndex, version }, wasLive, value };
}

test("a reopened store finds every old key, with the filter read at open or in steps", () => {
  const path = join(dir.path, "scribe.db");
  let store = HotStore.open(path, { sync: "normal" });
  store.transaction(() => {
    for (let i = 0; i < 500; i++) store.append([put(store, `k${i}`, 1, -1)]);
    store.append([put(store, "k7", 2, 7, true)]);
  });
  expect(store.head("k7")).toEqual({ index: 500, version: 2, op: "put" });
  expect(store.head("new")).toBeUndefined();
  store.close();

  // Read in steps of 64 rows: until the scan is done nothing is "known absent", so old keys are found all along.
  store = HotStore.open(path, { sync: "normal", keyFilterOpenRows: 64 });
  expect(store.keyFilterStats().complete).toBe(false);
  for (let i = 0; i < 500; i += 37) expect(store.head(`k${i}`)?.version).toBe(i === 7 ? 2 : 1);
  store.transaction(() => store.append([put(store, "late", 1, -1)]));
  let steps = 0;
  while (!store.buildKeyFilter(64)) steps++;
  expect(steps).toBe(6); // 500 rows: 64 at open, then 7 more steps (the last one returns true)
  expect(store.keyFilterStats().complete).toBe(true);
  for (let i = 0; i < 500; i++) expect(store.head(`k${i}`)?.version).toBe(i === 7 ? 2 : 1);
  expect(store.head("late")?.version).toBe(1);
  expect(store.latest("k499")?.key).toBe("k499");
  expect(store.head("never")).toBeUndefined();
  store.close();
});
