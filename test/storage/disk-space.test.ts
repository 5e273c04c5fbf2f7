/**
 * The free-space reading (src/storage/disk-space.ts): statfs at every read near the reserve, at
 * most every 100 ms far above it; a failed statfs never refuses writes; which SQLite errors mean
 * a full disk. And a real statfs of a real directory.
 */
import { expect, test } from "bun:test";
import { DiskSpace, freeBytesOf, isStorageFullError } from "../../src/storage/index.ts";
import { tempDir } from "../support/node-process.ts";

const MiB = 1024 * 1024;

test("far above the reserve a reading is reused for 100 ms; near it every read calls statfs", () => {
  const clock = { now: 0 };
  let free = 1024 * MiB;
  let calls = 0;
  const disk = new DiskSpace({ dir: "/x", minFreeBytes: 64 * MiB, now: () => clock.now, statfs: () => (calls++, free) });
  expect(disk.read()).toEqual({ freeBytes: 1024 * MiB, belowReserve: false });
  free = 10 * MiB;
  clock.now += 99;
  expect(disk.read().freeBytes).toBe(1024 * MiB); // reused
  clock.now += 1;
  expect(disk.read()).toEqual({ freeBytes: 10 * MiB, belowReserve: true });
  expect(calls).toBe(2);
  // Within the headroom (64 MiB above the reserve), every read is a statfs.
  free = 100 * MiB;
  disk.read();
  disk.read();
  expect(calls).toBe(4);
  expect(disk.read().belowReserve).toBe(false);
  expect(disk.counters.reads).toBe(5);
});

test("a reserve of 0 never refuses; a failed statfs is reported and never refuses", () => {
  const off = new DiskSpace({ dir: "/x", minFreeBytes: 0, now: () => 0, statfs: () => 0 });
  expect(off.read()).toEqual({ freeBytes: 0, belowReserve: false });
  const failing = new DiskSpace({ dir: "/x", minFreeBytes: MiB, now: () => 0, statfs: () => {
    throw new Error("ENOENT: no such directory");
  } });
  expect(failing.read()).toEqual({ freeBytes: null, belowReserve: false, error: "ENOENT: no such directory" });
});

test("a real directory's free bytes; SQLite's full-disk codes, and not a failed fsync", () => {
  const dir = tempDir();
  try {
    expect(freeBytesOf(dir.path)).toBeGreaterThan(0);
  } finally {
    dir.remove();
  }
  for (const code of ["SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_TRUNCATE"]) expect(isStorageFullError({ code })).toBe(true);
  for (const error of [{ code: "SQLITE_IOERR_FSYNC" }, { code: "SQLITE_CORRUPT" }, new Error("x"), null]) expect(isStorageFullError(error)).toBe(false);
});
