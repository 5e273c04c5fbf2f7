import { expect, test } from "bun:test";
import { IndexSlots, LruCache } from "../../src/storage/index.ts";

test("LRU evicts least recently used entries past its byte bound", () => {
  const cache = new LruCache<string, Uint8Array>(10, (v) => v.length);
  cache.set("a", new Uint8Array(4));
  cache.set("b", new Uint8Array(4));
  expect(cache.get("a")).toBeDefined(); // a is now most recent
  cache.set("c", new Uint8Array(4)); // evicts b
  expect(cache.get("b")).toBeUndefined();
  expect(cache.get("a")).toBeDefined();
  expect(cache.get("c")).toBeDefined();
  expect(cache.weight).toBe(8);
  cache.set("huge", new Uint8Array(11)); // larger than the bound: not kept
  expect(cache.get("huge")).toBeUndefined();
  expect(cache.hits).toBe(3);
  expect(cache.misses).toBe(2);
});

test("a stream of new entries past the bound keeps the weight bounded and the entries read since the hand passed", () => {
  const cache = new LruCache<number, number>(100, () => 1);
  for (let i = 0; i < 100; i++) cache.set(i, i);
  for (let i = 0; i < 10; i++) expect(cache.get(i)).toBe(i); // read: a second chance
  for (let i = 100; i < 150; i++) cache.set(i, i);
  expect(cache.size).toBe(100);
  expect(cache.weight).toBe(100);
  for (let i = 0; i < 10; i++) expect(cache.get(i)).toBe(i);
  for (let i = 10; i < 60; i++) expect(cache.get(i)).toBeUndefined(); // never read: left first, in insertion order
  for (let i = 100; i < 150; i++) expect(cache.get(i)).toBe(i);
  cache.delete(120);
  expect(cache.get(120)).toBeUndefined();
  cache.set(500, 500); // reuses the freed slot, evicts nothing
  expect(cache.size).toBe(100);
  cache.set(7, -7); // replaces in place
  expect(cache.get(7)).toBe(-7);
  expect(cache.size).toBe(100);
});

test("an entry set past the bound is never the one evicted for itself", () => {
  const cache = new LruCache<string, Uint8Array>(10, (v) => v.length);
  cache.set("a", new Uint8Array(5));
  cache.get("a");
  cache.set("b", new Uint8Array(5));
  cache.get("b");
  cache.set("c", new Uint8Array(6)); // both others referenced: the sweep clears them, then evicts
  expect(cache.get("c")).toBeDefined();
  expect(cache.weight).toBeLessThanOrEqual(10);
  cache.set("c", new Uint8Array(11)); // now too large: dropped
  expect(cache.get("c")).toBeUndefined();
  expect(cache.weight).toBeLessThanOrEqual(10);
});

test("a cache of ledger indexes (IndexSlots) keeps, evicts and forgets them like one over a Map", () => {
  const byIndex = new LruCache<number, number>(1500, () => 1, new IndexSlots());
  const byMap = new LruCache<number, number>(1500, () => 1);
  // Indexes in several chunks, far apart, with reads, deletes and replacements between them.
  const indexes = [...Array.from({ length: 2000 }, (_, i) => i), 5_000_000_000, 1023, 1024, 2047, 2048, 3_000_000];
  for (const [n, i] of indexes.entries()) {
    for (const cache of [byIndex, byMap]) {
      cache.set(i, n);
      if (n % 7 === 0) cache.get(i - 3);
      if (n % 11 === 0) cache.delete(i - 5);
    }
  }
  for (const i of [...indexes, 4_999_999_999, 5_000_000_001, -1]) expect(byIndex.get(i)).toBe(byMap.get(i));
  expect(byIndex.size).toBe(byMap.size);
  expect(byIndex.weight).toBe(byMap.weight);
  expect(byIndex.size).toBeLessThanOrEqual(1500);
  byIndex.clear();
  expect(byIndex.get(2000 - 1)).toBeUndefined();
  expect(byIndex.size).toBe(0);
});

test("setIfHeld replaces a held key's value and adds no key the cache does not hold", () => {
  const cache = new LruCache<string, number>(2, () => 1);
  cache.set("a", 1);
  cache.setIfHeld("a", 2);
  cache.setIfHeld("b", 3);
  expect(cache.size).toBe(1);
  expect(cache.get("a")).toBe(2);
  expect(cache.get("b")).toBeUndefined();
  expect(cache.hits).toBe(1);
  expect(cache.misses).toBe(1);
});
