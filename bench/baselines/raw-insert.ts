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

import { join } from "node:path";
import { flagValue } from "../lib/proc.ts";
import { openBaselineRows } from "./rows.ts";

const dir = flagValue(Bun.argv, "dir");
if (!dir) {
  console.error("usage: bun bench/baselines/raw-insert.ts --dir DIR [--seconds 10] [--rows-per-txn 1000] [--value-bytes 100]");
  process.exit(2);
}
const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
const rowsPerTransaction = Number(flagValue(Bun.argv, "rows-per-txn") ?? 1000);
const valueBytes = Number(flagValue(Bun.argv, "value-bytes") ?? 100);

const { db, insertEntry, insertValue, upsertHeadSql, nextIndex: firstFree } = openBaselineRows(join(dir, "raw-insert.db"));
const upsertHead = db.prepare<unknown, [string, number]>(upsertHeadSql);
let index = firstFree;
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
