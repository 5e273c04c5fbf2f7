/**
 * @module bench/baselines/raw-insert. Baseline (b) of issue 12: raw bun:sqlite inserts of the
 * rows one ledger write needs, with no HTTP, no JSON and no Raft: per row a SHA-256 of a 100-byte
 * value, an entry row, a value row and a head row (a new key each, as the batch bench sends),
 * 1,000 rows per transaction, WAL with synchronous=FULL (one fsync per transaction). Scribe's
 * POST /batch of 1,000 x 100 B is compared with this.
 *
 *   bun bench/baselines/raw-insert.ts --dir DIR [--seconds 10] [--rows-per-txn 1000] [--value-bytes 100]
 *
 * Prints one JSON line: {rows, transactions, seconds, rows_per_sec, cpu_seconds}.
 */

import { Database } from "bun:sqlite";
import { join } from "node:path";
import { flagValue } from "../lib/proc.ts";

const dir = flagValue(Bun.argv, "dir");
if (!dir) {
  console.error("usage: bun bench/baselines/raw-insert.ts --dir DIR [--seconds 10] [--rows-per-txn 1000] [--value-bytes 100]");
  process.exit(2);
}
const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
const rowsPerTransaction = Number(flagValue(Bun.argv, "rows-per-txn") ?? 1000);
const valueBytes = Number(flagValue(Bun.argv, "value-bytes") ?? 100);

const db = new Database(join(dir, "raw-insert.db"), { create: true });
db.exec("PRAGMA journal_mode = WAL");
db.exec("PRAGMA synchronous = FULL");
db.exec(`
  CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, key TEXT NOT NULL, value_hash BLOB NOT NULL, value_bytes INTEGER NOT NULL, ts INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS vals (idx INTEGER PRIMARY KEY, value BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS heads (key TEXT PRIMARY KEY, idx INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
`);
const insertEntry = db.prepare<unknown, [number, string, Uint8Array, number, number]>("INSERT INTO entries (idx, key, value_hash, value_bytes, ts) VALUES (?, ?, ?, ?, ?)");
const insertValue = db.prepare<unknown, [number, Uint8Array]>("INSERT INTO vals (idx, value) VALUES (?, ?)");
const upsertHead = db.prepare<unknown, [string, number]>(
  "INSERT INTO heads (key, idx, version) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET idx = excluded.idx, version = version + 1",
);

// A run may continue a database an earlier slice filled (bench/lib/alternate.ts): go on after it.
let index = (db.query<{ idx: number | null }, []>("SELECT MAX(idx) AS idx FROM entries").get()?.idx ?? -1) + 1;
const firstIndex = index;
const insertBatch = db.transaction((count: number) => {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    // A distinct value per row (its index in the first 8 bytes), so every hash is real work.
    const value = new Uint8Array(valueBytes).fill(118);
    new DataView(value.buffer).setFloat64(0, index);
    const hash = Bun.SHA256.hash(value) as Uint8Array;
    insertEntry.run(index, `raw/${index}`, hash, value.length, now);
    insertValue.run(index, value);
    upsertHead.run(`raw/${index}`, index);
    index++;
  }
});

const cpuStart = process.cpuUsage();
const started = performance.now();
const deadline = started + seconds * 1000;
let transactions = 0;
while (performance.now() < deadline) {
  insertBatch(rowsPerTransaction);
  transactions++;
}
const elapsedSeconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
db.close();
const rows = index - firstIndex;
console.log(JSON.stringify({ rows, transactions, seconds: elapsedSeconds, rows_per_sec: rows / elapsedSeconds, cpu_seconds: (cpu.user + cpu.system) / 1e6 }));
