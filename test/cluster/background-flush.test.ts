/**
 * The background flush of a persist step (src/cluster/node-storage.ts, HotStore.flushWal): a sole
 * voter never uses it (what its step applies is readable at once, so the step is fsync'd before
 * it returns), and the flush itself resolves once the WAL is on disk, on a file database and on
 * an in-memory one. The Ready loop's side (nothing counts as persisted before the flush) is in
 * ready-loop.test.ts.
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import { join } from "node:path";
import { ScribeLedger } from "../../src/index.ts";
import { HotStore } from "../../src/storage/hot.ts";
import { tempDir } from "../support/node-process.ts";

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

test("a sole voter's writes are fsync'd in their commit, never left to a background flush", async () => {
  const dir = tempDir("scribe-flush-");
  dirs.push(dir);
  const flushes = spyOn(HotStore.prototype, "flushWal");
  const modes = spyOn(HotStore.prototype, "setSyncFull");
  try {
    const ledger = await ScribeLedger.open(dir.path);
    modes.mockClear();
    await ledger.put("a", "1");
    await ledger.batch([{ op: "put", key: "b", value: "2" }, { op: "delete", key: "a" }]);
    await ledger.close();
    expect(flushes).not.toHaveBeenCalled();
    // Every write transaction was committed with synchronous = FULL.
    expect(modes.mock.calls.length).toBeGreaterThan(0);
    expect(modes.mock.calls.every(([full]) => full === true)).toBe(true);
  } finally {
    flushes.mockRestore();
    modes.mockRestore();
  }
});

test("flushWal resolves after a NORMAL commit, on a file database and an in-memory one", async () => {
  const dir = tempDir("scribe-flush-");
  dirs.push(dir);
  const path = join(dir.path, "hot.db");
  for (const where of [path, ":memory:"]) {
    const store = HotStore.open(where, { sync: "full" });
    store.setSyncFull(false);
    store.transaction(() => store.setMeta("probe", 1));
    await store.flushWal();
    await store.flushWal();
    store.close();
  }
  const reopened = HotStore.open(path, { sync: "full" });
  expect(reopened.meta("probe")).toBe(1);
  reopened.close();
});
