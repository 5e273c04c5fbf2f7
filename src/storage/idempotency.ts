/**
 * @module storage/idempotency. The idempotency records of src/ledger/idempotency.ts in SQLite,
 * written in the same transaction as the entries their commands appended:
 *
 *   idempotency       the window: one row per key whose record may still be live (key → seq,
 *                     fingerprint, first and last ledger index, clock, expiries). Looked up once
 *                     per keyed command; pruned of records that can never be live again, a bounded
 *                     step at a time, so it holds about api.idempotency_keys_max rows at most.
 *   idempotency_log   every record ever made, by first ledger index: what a follower that catches
 *                     up by ledger range fetches with each range (GET /cluster/idempotency), so
 *                     its window ends up the same as the leader's. One small row per keyed write,
 *                     kept like the ledger's own entries.
 *
 * The clock and count (the last record's) are kept in memory and reloaded after a failed
 * transaction. On a database created before these tables, and on a disk too full to create them
 * at open, they are created with the first record (a ledger without them holds no record).
 */

import type { Database, Statement } from "bun:sqlite";
import { emptyIdempotencyClock, isLiveRecord, recordSequenceProblem, type IdempotencyClock, type IdempotencyRecord } from "../ledger/index.ts";
import { assert, ScribeError } from "../lib/index.ts";

/**
 * Fewest window rows one prune step may delete (twice the rows the transaction added when that is
 * more). Each transaction that records runs one step, so the dead rows at the front go faster
 * than new ones come; 256 keeps a step to well under a millisecond.
 */
export const idempotencyPruneStepRowsMax = 256;

/** Most records one range read returns (a catch-up page holds at most 1000 entries). */
export const idempotencyRangeRecordsMax = 10_000;

interface RecordRow {
  idem_key: string;
  seq: number;
  fingerprint: Uint8Array;
  first_idx: number;
  last_idx: number;
  recorded_ms: number;
  expires_ms: number;
  expires_seq: number;
}

const columns = "idem_key, seq, fingerprint, first_idx, last_idx, recorded_ms, expires_ms, expires_seq";

const schemaSql = `
  CREATE TABLE IF NOT EXISTS idempotency_log (
    first_idx INTEGER PRIMARY KEY, idem_key TEXT NOT NULL, seq INTEGER NOT NULL, fingerprint BLOB NOT NULL,
    last_idx INTEGER NOT NULL, recorded_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, expires_seq INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS idempotency (
    idem_key TEXT PRIMARY KEY, seq INTEGER NOT NULL, fingerprint BLOB NOT NULL, first_idx INTEGER NOT NULL,
    last_idx INTEGER NOT NULL, recorded_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, expires_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idempotency_seq ON idempotency (seq);`;

function rowToRecord(row: RecordRow): IdempotencyRecord {
  return {
    key: row.idem_key,
    fingerprint: row.fingerprint,
    firstIndex: row.first_idx,
    lastIndex: row.last_idx,
    seq: row.seq,
    recordedMs: row.recorded_ms,
    expiresMs: row.expires_ms,
    expiresSeq: row.expires_seq,
  };
}

function recordParams(r: IdempotencyRecord): [string, number, Uint8Array, number, number, number, number, number] {
  return [r.key, r.seq, r.fingerprint, r.firstIndex, r.lastIndex, r.recordedMs, r.expiresMs, r.expiresSeq];
}

interface Statements {
  lookup: Statement<RecordRow, [string]>;
  last: Statement<RecordRow, []>;
  count: Statement<{ n: number }, []>;
  insertLog: Statement<unknown, ReturnType<typeof recordParams>>;
  deleteKey: Statement<unknown, [string]>;
  insertWindow: Statement<unknown, ReturnType<typeof recordParams>>;
  oldest: Statement<RecordRow, [number]>;
  deleteThrough: Statement<unknown, [number]>;
  range: Statement<RecordRow, [number, number, number]>;
}

export class IdempotencyStore {
  private statements: Statements | undefined;
  private clockValue: IdempotencyClock = emptyIdempotencyClock;
  private windowRows = 0;
  readonly counters = { recorded: 0, pruned: 0 };

  constructor(private readonly db: Database) {
    try {
      this.open();
    } catch (error) {
      // A full disk at start: the tables are made with the first record (see the module comment).
      if (!isMissingOrFull(error)) throw error;
    }
  }

  private open(): Statements {
    if (this.statements) return this.statements;
    const exists = this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master WHERE name IN ('idempotency', 'idempotency_log', 'idempotency_seq')").get()?.n === 3;
    if (!exists) this.db.exec(schemaSql);
    const db = this.db;
    this.statements = {
      lookup: db.prepare(`SELECT ${columns} FROM idempotency WHERE idem_key = ?`),
      last: db.prepare(`SELECT ${columns} FROM idempotency_log ORDER BY first_idx DESC LIMIT 1`),
      count: db.prepare("SELECT COUNT(*) AS n FROM idempotency"),
      insertLog: db.prepare(`INSERT INTO idempotency_log (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteKey: db.prepare("DELETE FROM idempotency WHERE idem_key = ?"),
      insertWindow: db.prepare(`INSERT INTO idempotency (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      oldest: db.prepare(`SELECT ${columns} FROM idempotency ORDER BY seq LIMIT ?`),
      deleteThrough: db.prepare("DELETE FROM idempotency WHERE seq <= ?"),
      range: db.prepare(`SELECT ${columns} FROM idempotency_log WHERE first_idx >= ? AND first_idx < ? ORDER BY first_idx LIMIT ?`),
    };
    this.reload();
    return this.statements;
  }

  /** Re-reads the clock and the row count (at open, and after a transaction that wrote records failed). */
  reload(): void {
    const s = this.statements;
    if (!s) return;
    const last = s.last.get();
    this.clockValue = last ? { clockMs: last.recorded_ms, seq: last.seq } : emptyIdempotencyClock;
    this.windowRows = s.count.get()?.n ?? 0;
  }

  /** The idempotency clock and count after the last record. */
  clock(): IdempotencyClock {
    return this.clockValue;
  }

  /** The window's record under `key`, live or not yet pruned; undefined when none. One indexed lookup. */
  lookup(key: string): IdempotencyRecord | undefined {
    const row = this.statements?.lookup.get(key);
    return row ? rowToRecord(row) : undefined;
  }

  /**
   * Keeps `records` (made by the state machine, in order) and runs one prune step. Call inside the
   * transaction that appends their entries. `source` names records received from another node
   * (catch-up): they are checked and refused with verification_failed instead of asserted.
   */
  append(records: readonly IdempotencyRecord[], source?: string): void {
    if (records.length === 0) return;
    const s = this.open();
    let clock = this.clockValue;
    for (const record of records) {
      const problem = recordSequenceProblem(clock, record);
      if (problem !== undefined && source !== undefined) throw new ScribeError("verification_failed", `${source}: idempotency ${problem}`);
      assert(problem === undefined, `idempotency: ${problem}`);
      const params = recordParams(record);
      s.insertLog.run(...params);
      // A key's earlier record is replaced only once it is not live (the state machine judged so).
      if (s.deleteKey.run(record.key).changes === 0) this.windowRows++;
      s.insertWindow.run(...params);
      clock = { clockMs: record.recordedMs, seq: record.seq };
    }
    this.clockValue = clock;
    this.counters.recorded += records.length;
    // Twice the rows just added: a steady stream of records keeps the window at its bound.
    this.prune(Math.max(idempotencyPruneStepRowsMax, 2 * records.length));
  }

  /**
   * Deletes the window's oldest rows while they can never be live again (isLiveRecord at the
   * current clock and count is false, and both only grow), at most `rowsMax`; stops at the first
   * live one, so a step reads one row when nothing is due. Records made under one window and
   * count die in the order they were made; after a change of api.idempotency_* a dead row behind
   * a live one waits for it. Returns how many rows were deleted.
   */
  prune(rowsMax: number): number {
    const s = this.statements;
    if (!s || this.windowRows === 0) return 0;
    let lastDead = -1;
    let pruned = 0;
    for (const row of s.oldest.iterate(rowsMax)) {
      if (isLiveRecord(rowToRecord(row), this.clockValue.clockMs, this.clockValue.seq)) break;
      lastDead = row.seq;
      pruned++;
    }
    if (pruned === 0) return 0;
    s.deleteThrough.run(lastDead);
    this.windowRows -= pruned;
    this.counters.pruned += pruned;
    return pruned;
  }

  /** The records made by commands whose first index is in [fromIndex, toIndex), in order (catch-up). */
  range(fromIndex: number, toIndex: number): IdempotencyRecord[] {
    const s = this.statements;
    if (!s || toIndex <= fromIndex) return [];
    return s.range.all(fromIndex, toIndex, idempotencyRangeRecordsMax).map(rowToRecord);
  }

  stats(): { window_rows: number; records: number; clock_ms: number; recorded: number; pruned: number } {
    return { window_rows: this.windowRows, records: this.clockValue.seq, clock_ms: this.clockValue.clockMs, ...this.counters };
  }
}

/** SQLite could not create the tables now: the disk is full, or the database is read-only. */
function isMissingOrFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_FULL") || code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_IOERR"));
}
