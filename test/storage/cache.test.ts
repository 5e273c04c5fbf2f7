import { expect, test } from "bun:test";
import { LruCache } from "../../src/storage/index.ts";

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
