/**
 * HotStore.transaction on a real SQLite file: what `fn` writes is kept when it returns, nothing of
 * it when it throws (the error goes up, the database is usable after), and a transaction inside
 * another is a savepoint: its failure undoes its own writes only.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HotStore } from "../../src/storage/index.ts";
import { tempDir } from "../support/node-process.ts";

const dir = tempDir("scribe-hot-transaction-");
afterAll(() => dir.remove());

function rows(store: HotStore): string[] {
  return store.db.query<{ k: string }, []>("SELECT k FROM meta WHERE k LIKE 't%' ORDER BY k").all().map((r) => r.k);
}

function put(store: HotStore, k: string): void {
  store.db.run("INSERT INTO meta (k, v) VALUES (?, 1)", [k]);
}

test("a transaction commits what it wrote, or nothing of it when it throws", () => {
  const store = HotStore.open(join(dir.path, "a.db"), { sync: "normal" });
  expect(store.transaction(() => (put(store, "t1"), 42))).toBe(42);
  expect(rows(store)).toEqual(["t1"]);
  expect(() =>
    store.transaction(() => {
      put(store, "t2");
      throw new Error("boom");
    }),
  ).toThrow("boom");
  expect(store.db.inTransaction).toBe(false);
  expect(rows(store)).toEqual(["t1"]);
  // A failing statement inside (a duplicate key) rolls back the whole transaction too.
  expect(() =>
    store.transaction(() => {
      put(store, "t3");
      put(store, "t1");
    }),
  ).toThrow();
  expect(rows(store)).toEqual(["t1"]);
  store.transaction(() => put(store, "t4"));
  store.close();
  const reopened = HotStore.open(join(dir.path, "a.db"), { sync: "normal" });
  expect(rows(reopened)).toEqual(["t1", "t4"]);
  reopened.close();
});

test("a transaction inside another is a savepoint: its failure undoes only its own writes", () => {
  const store = HotStore.open(join(dir.path, "b.db"), { sync: "normal" });
  store.transaction(() => {
    put(store, "t1");
    expect(() =>
      store.transaction(() => {
        put(store, "t2");
        throw new Error("inner");
      }),
    ).toThrow("inner");
    expect(store.db.inTransaction).toBe(true);
    store.transaction(() => put(store, "t3"));
  });
  expect(rows(store)).toEqual(["t1", "t3"]);
  // The outer one failing undoes the inner one's writes as well.
  expect(() =>
    store.transaction(() => {
      store.transaction(() => put(store, "t5"));
      throw new Error("outer");
    }),
  ).toThrow("outer");
  expect(rows(store)).toEqual(["t1", "t3"]);
  store.close();
});
