/**
 * @module bench/baselines/fsync. The cost of durability on this machine's disk, measured the way
 * a group commit pays it: fdatasync after appending 4 KiB to a file, and one bun:sqlite WAL
 * transaction with synchronous=FULL of 1 and of 64 rows (entry + value + head rows, 100-byte
 * values). Latencies in ms (median and p99 of `--count` repetitions each).
 *
 *   bun bench/baselines/fsync.ts --dir DIR [--count 300]
 *
 * Prints one JSON line: {fdatasync_4k_ms: {p50, p99}, sqlite_full_txn_1_ms: {...}, sqlite_full_txn_64_ms: {...}}.
 */

import { Database } from "bun:sqlite";
import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { flagValue } from "../lib/proc.ts";

const dir = flagValue(Bun.argv, "dir");
if (!dir) {
  console.error("usage: bun bench/baselines/fsync.ts --dir DIR [--count 300]");
  process.exit(2);
}
const count = Number(flagValue(Bun.argv, "count") ?? 300);

function quantiles(samplesMs: number[]): { p50: number; p99: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length / 2)]!, p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! };
}

function timeEach(run: () => void): { p50: number; p99: number } {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return quantiles(samples);
}

const fd = openSync(join(dir, "fsync-probe.bin"), "a");
const block = new Uint8Array(4096).fill(1);
const fdatasync4k = timeEach(() => {
  writeSync(fd, block);
  fdatasyncSync(fd);
});
closeSync(fd);

const db = new Database(join(dir, "fsync-probe.db"), { create: true });
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = FULL");
db.exec(`
  CREATE TABLE entries (idx INTEGER PRIMARY KEY, key TEXT NOT NULL, value_hash BLOB NOT NULL, value_bytes INTEGER NOT NULL, ts INTEGER NOT NULL);
  CREATE TABLE vals (idx INTEGER PRIMARY KEY, value BLOB NOT NULL);
  CREATE TABLE heads (key TEXT PRIMARY KEY, idx INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
`);
const insertEntry = db.prepare("INSERT INTO entries (idx, key, value_hash, value_bytes, ts) VALUES (?, ?, ?, ?, ?)");
const insertValue = db.prepare("INSERT INTO vals (idx, value) VALUES (?, ?)");
const upsertHead = db.prepare("INSERT INTO heads (key, idx, version) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET idx = excluded.idx, version = version + 1");
let index = 0;
const value = new Uint8Array(100).fill(118);
const transaction = db.transaction((rows: number) => {
  for (let i = 0; i < rows; i++, index++) {
    insertEntry.run(index, `k/${index}`, Bun.SHA256.hash(value) as Uint8Array, value.length, Date.now());
    insertValue.run(index, value);
    upsertHead.run(`k/${index}`, index);
  }
});
const txn1 = timeEach(() => transaction(1));
const txn64 = timeEach(() => transaction(64));
db.close();
console.log(JSON.stringify({ fdatasync_4k_ms: fdatasync4k, sqlite_full_txn_1_ms: txn1, sqlite_full_txn_64_ms: txn64, count }));
