/**
 * @module bench/baselines/rows. The database both durable baselines of issue 12 write (the
 * minimal durable server and the raw insert): WAL with synchronous=FULL, and per ledger write an
 * entry row (index, key, SHA-256 of the value, size, timestamp), a value row and a head row (key
 * -> latest index and version). One definition, so that both baselines write the same rows.
 */

import { Database, type Statement } from "bun:sqlite";

export interface BaselineRows {
  db: Database;
  insertEntry: Statement<unknown, [number, string, Uint8Array, number, number]>;
  insertValue: Statement<unknown, [number, Uint8Array]>;
  /** The upsert of a key's head (each baseline adds what it needs back, e.g. RETURNING version). */
  upsertHeadSql: string;
  /** The next free index: a run may continue a database an earlier slice filled (bench/lib/alternate.ts). */
  nextIndex: number;
}

export function openBaselineRows(path: string): BaselineRows {
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec(`
  CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, key TEXT NOT NULL, value_hash BLOB NOT NULL, value_bytes INTEGER NOT NULL, ts INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS vals (idx INTEGER PRIMARY KEY, value BLOB NOT NULL);
  CREATE TABLE IF NOT EXISTS heads (key TEXT PRIMARY KEY, idx INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
`);
  return {
    db,
    insertEntry: db.prepare<unknown, [number, string, Uint8Array, number, number]>("INSERT INTO entries (idx, key, value_hash, value_bytes, ts) VALUES (?, ?, ?, ?, ?)"),
    insertValue: db.prepare<unknown, [number, Uint8Array]>("INSERT INTO vals (idx, value) VALUES (?, ?)"),
    upsertHeadSql: "INSERT INTO heads (key, idx, version) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET idx = excluded.idx, version = version + 1",
    nextIndex: (db.query<{ idx: number | null }, []>("SELECT MAX(idx) AS idx FROM entries").get()?.idx ?? -1) + 1,
  };
}

/** What one write of a committed batch got: its index, its key's version and its value's SHA-256. */
export interface RowReceipt {
  index: number;
  version: number;
  valueHash: Uint8Array;
}

/** Spins for `us` microseconds: stands in for CPU work of a known cost (bench/worker-split.ts). */
export function busyWait(us: number): void {
  if (us <= 0) return;
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/**
 * The minimal durable server's commit: ONE transaction per batch with, per write, a SHA-256 of
 * the value, an entry row, a value row and a head row (the version counted by the upsert), plus
 * `busyUsPerWrite` of busy waiting per write inside the transaction (0 for the baseline). A
 * batch that fails writes nothing and uses no index.
 */
export function batchWriter(rows: BaselineRows, busyUsPerWrite = 0): (keys: readonly string[], values: readonly Uint8Array[]) => RowReceipt[] {
  const { db, insertEntry, insertValue } = rows;
  const upsertHead = db.prepare<{ version: number }, [string, number]>(rows.upsertHeadSql + " RETURNING version");
  let nextIndex = rows.nextIndex;
  const write = db.transaction((keys: readonly string[], values: readonly Uint8Array[], receipts: RowReceipt[]) => {
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]!;
      const valueHash = Bun.SHA256.hash(value) as Uint8Array;
      const index = nextIndex + i;
      insertEntry.run(index, keys[i]!, valueHash, value.length, now);
      insertValue.run(index, value);
      const { version } = upsertHead.get(keys[i]!, index)!;
      receipts.push({ index, version, valueHash });
      busyWait(busyUsPerWrite);
    }
  });
  return (keys, values) => {
    const receipts: RowReceipt[] = [];
    write(keys, values, receipts);
    nextIndex += keys.length;
    return receipts;
  };
}
