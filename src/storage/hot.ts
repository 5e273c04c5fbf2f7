/**
 * @module hot. The hot tier: ledger entries, values and node metadata in one SQLite database
 * (bun:sqlite, WAL). Every commit cycle is one transaction; with `sync = "full"` each commit is
 * fsync'd before it returns, which is what makes an acknowledged write durable.
 *
 * Tables: `entries` (one row per ledger index, with its version), `vals` (the value of
 * each put, by index; a row may leave the hot tier once the cold tier holds it), `meta` (small
 * named values such as counters and the applied index). Nothing is updated in place or deleted by
 * normal operation.
 */

import { Database, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { closeSync, fdatasync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { AppliedOp, Entry, KeyHead, KeyRange, KeyState, Op, StoredEntry } from "../ledger/index.ts";
import { assert, compareUtf8, fail, prefixUpperBound, utf8Successor } from "../lib/index.ts";
import { createPrivateFile, ensurePrivateDir } from "./file-modes.ts";
import { KeyFilter } from "./key-filter.ts";

/**
 * Rows of `entries` the key filter reads while the database opens; a larger ledger's remaining
 * keys are read in steps of this size afterwards (buildKeyFilter), so opening stays quick.
 * 200k rows take about 0.1 s here.
 */
export const keyFilterStepRowsMax = 200_000;

/** An `entries` row as SQLite returns it. */
export interface EntryRow {
  idx: number;
  op: number;
  key: string;
  value_hash: Uint8Array;
  value_bytes: number;
  content_type: string;
  ts: number;
  prev_idx: number;
  version: number;
}

/** The columns of an `entries` row, in EntryRow's order. */
export const entryColumns = "idx, op, key, value_hash, value_bytes, content_type, ts, prev_idx, version";

/** The entry an `entries` row holds. */
export function rowToEntry(row: EntryRow): StoredEntry {
  return {
    index: row.idx,
    op: row.op === 0 ? "put" : "delete",
    key: row.key,
    valueHash: row.value_hash,
    valueBytes: row.value_bytes,
    contentType: row.content_type,
    timestampMs: row.ts,
    prevIndex: row.prev_idx,
    version: row.version,
  };
}

/**
 * Keys in byte order with their latest entry, without reading every version: a loose index scan
 * of `entries_key_version` (each step seeks the first key above the previous one, O(log n)), then
 * the latest version of each key found (one more seek). A page costs O(limit log n) whatever the
 * table holds (the final ORDER BY sorts only the page); test/storage/hot-keys.test.ts checks the
 * plan has no scan of `entries`.
 * ?1 lower bound (inclusive), ?2 upper bound (exclusive, NULL for none), ?3 most keys. Exported for
 * the plan test.
 */
export const keysQuery = `
  WITH RECURSIVE walk(key) AS (
    SELECT (SELECT key FROM entries WHERE key >= ?1 ORDER BY key LIMIT 1)
    UNION ALL
    SELECT (SELECT key FROM entries WHERE key > walk.key ORDER BY key LIMIT 1) FROM walk
      WHERE walk.key IS NOT NULL AND (?2 IS NULL OR walk.key < ?2)
    LIMIT ?3
  )
  SELECT e.key, e.idx, e.version, e.op FROM walk
    JOIN entries e ON e.key = walk.key AND e.version = (SELECT MAX(m.version) FROM entries m WHERE m.key = walk.key)
    WHERE ?2 IS NULL OR walk.key < ?2
    ORDER BY walk.key`;

/**
 * Rows one INSERT statement writes when an append holds many entries: SQLite's fixed cost per
 * statement run (bind, step, reset) is paid once per this many rows; the rest go one per
 * statement. 32 rows of 9 columns stay far below SQLite's bound-variable limit (32766).
 */
const insertRowsMax = 32;
const entryColumnCount = 9;

export interface HotStoreOptions {
  /** "full" fsyncs every commit; "normal" may lose the last commits on power loss. */
  sync: "full" | "normal";
  /** Rows of `entries` the key filter reads while opening (default keyFilterStepRowsMax; tests set fewer). */
  keyFilterOpenRows?: number;
}

export interface HotStats {
  entries: number;
  liveKeys: number;
  /** Distinct keys ever written (entries with version 1); never decreases: deletes keep history. */
  keysWritten: number;
  valueBytes: number;
}

export class HotStore {
  readonly db: Database;
  private readonly statements: {
    latest: Statement<EntryRow, [string]>;
    byVersion: Statement<EntryRow, [string, number]>;
    at: Statement<EntryRow, [string, number]>;
    entry: Statement<EntryRow, [number]>;
    range: Statement<EntryRow, [number, number]>;
    rangeWithValues: Statement<EntryRow & { value: Uint8Array | null }, [number, number]>;
    variableBytes: Statement<{ n: number }, [number, number]>;
    history: Statement<EntryRow, [string, number, number]>;
    keys: Statement<{ key: string; idx: number; version: number; op: number }, [string, string | null, number]>;
    value: Statement<{ value: Uint8Array }, [number]>;
    insertEntry: Statement<unknown, SQLQueryBindings[]>;
    insertValue: Statement<unknown, SQLQueryBindings[]>;
    insertEntries: Statement<unknown, SQLQueryBindings[]>;
    insertValues: Statement<unknown, SQLQueryBindings[]>;
    getMeta: Statement<{ v: number | string | Uint8Array }, [string]>;
    setMeta: Statement<unknown, [string, number | string | Uint8Array]>;
  };
  private nextIndexValue: number;
  private stats: HotStats;
  /**
   * Every key the ledger holds (entries below keyFilterScanned, read from `entries`, and every
   * key appended since the store opened): a key the filter never saw has no entry, so its head
   * needs no read. Until the scan reaches keyFilterScanEnd, every key is "maybe".
   */
  private readonly keyFilter: KeyFilter;
  private keyFilterScanned = 0;
  private readonly keyFilterScanEnd: number;
  private readonly keyFilterScan: Statement<{ key: string }, [number, number]>;
  private constructor(db: Database, keyFilterOpenRows: number) {
    this.db = db;
    this.statements = {
      latest: db.prepare(`SELECT ${entryColumns} FROM entries WHERE key = ? ORDER BY version DESC LIMIT 1`),
      byVersion: db.prepare(`SELECT ${entryColumns} FROM entries WHERE key = ? AND version = ?`),
      at: db.prepare(`SELECT ${entryColumns} FROM entries WHERE key = ? AND idx <= ? ORDER BY version DESC LIMIT 1`),
      entry: db.prepare(`SELECT ${entryColumns} FROM entries WHERE idx = ?`),
      range: db.prepare(`SELECT ${entryColumns} FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?`),
      rangeWithValues: db.prepare(`SELECT ${entryColumns.replace(/(\w+)/g, "e.$1")}, v.value AS value FROM entries e LEFT JOIN vals v ON v.idx = e.idx WHERE e.idx >= ? ORDER BY e.idx LIMIT ?`),
      // A TEXT cast to BLOB is its UTF-8 bytes (the database's encoding).
      variableBytes: db.prepare("SELECT length(CAST(key AS BLOB)) + length(CAST(content_type AS BLOB)) + value_bytes AS n FROM entries WHERE idx >= ? ORDER BY idx LIMIT ?"),
      history: db.prepare(`SELECT ${entryColumns} FROM entries WHERE key = ? AND version >= ? ORDER BY version LIMIT ?`),
      keys: db.prepare(keysQuery),
      value: db.prepare(`SELECT value FROM vals WHERE idx = ?`),
      insertEntry: db.prepare(`INSERT INTO entries (${entryColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertValue: db.prepare(`INSERT INTO vals (idx, value) VALUES (?, ?)`),
      insertEntries: db.prepare(`INSERT INTO entries (${entryColumns}) VALUES ${Array(insertRowsMax).fill(`(${Array(entryColumnCount).fill("?").join(", ")})`).join(", ")}`),
      insertValues: db.prepare(`INSERT INTO vals (idx, value) VALUES ${Array(insertRowsMax).fill("(?, ?)").join(", ")}`),
      getMeta: db.prepare(`SELECT v FROM meta WHERE k = ?`),
      setMeta: db.prepare(`INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`),
    };
    const last = db.query<{ idx: number | null }, []>("SELECT MAX(idx) AS idx FROM entries").get();
    this.nextIndexValue = (last?.idx ?? -1) + 1;
    this.stats = this.loadStats();
    this.keyFilter = new KeyFilter(this.stats.keysWritten);
    this.keyFilterScanEnd = this.nextIndexValue;
    this.keyFilterScan = db.prepare("SELECT key FROM entries WHERE idx >= ? AND idx < ? AND version = 1");
    this.buildKeyFilter(keyFilterOpenRows);
  }

  /**
   * Reads the keys of up to `rowsMax` more entries written before the store opened into the key
   * filter; true once every such key is in it (from then on an unknown key needs no read).
   */
  buildKeyFilter(rowsMax: number): boolean {
    if (this.keyFilterScanned >= this.keyFilterScanEnd) return true;
    const to = Math.min(this.keyFilterScanEnd, this.keyFilterScanned + rowsMax);
    for (const row of this.keyFilterScan.iterate(this.keyFilterScanned, to)) this.keyFilter.add(row.key);
    this.keyFilterScanned = to;
    return to >= this.keyFilterScanEnd;
  }

  /** True when `key` certainly has no entry (the key filter never saw it): no read needed. */
  private knownAbsent(key: string): boolean {
    return this.keyFilterScanned >= this.keyFilterScanEnd && !this.keyFilter.mayContain(key);
  }

  /** The key filter's state, for metrics. */
  keyFilterStats(): { bytes: number; complete: boolean; gave_up: boolean } {
    return { bytes: this.keyFilter.size, complete: this.keyFilterScanned >= this.keyFilterScanEnd, gave_up: this.keyFilter.full };
  }

  /**
   * The counters as persisted in `meta`. `keys_written` is absent from databases written before it
   * existed: it is then counted once (entries with version 1) and persisted by the next append.
   */
  private loadStats(): HotStats {
    const keysWritten =
      this.meta("keys_written") ??
      (this.nextIndexValue === 0 ? 0 : (this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM entries WHERE version = 1").get()?.n ?? 0));
    return {
      entries: this.nextIndexValue,
      liveKeys: Number(this.meta("live_keys") ?? 0),
      keysWritten: Number(keysWritten),
      valueBytes: Number(this.meta("value_bytes") ?? 0),
    };
  }

  /**
   * Opens (creating if needed) the database at `path`. A new database and its directory are
   * private (0600 in a 0700 directory); SQLite gives the `-wal` and `-shm` files the same mode.
   */
  static open(path: string, options: HotStoreOptions): HotStore {
    if (path !== ":memory:") {
      ensurePrivateDir(dirname(path));
      createPrivateFile(path);
    }
    const db = new Database(path, { create: true, strict: false });
    // Wait for locks first: switching to WAL needs one (e.g. right after another process closed the file).
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`);
    db.exec("PRAGMA mmap_size = 268435456");
    db.exec(`
      CREATE TABLE IF NOT EXISTS entries (
        idx INTEGER PRIMARY KEY,
        op INTEGER NOT NULL,
        key TEXT NOT NULL,
        value_hash BLOB NOT NULL,
        value_bytes INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        ts INTEGER NOT NULL,
        prev_idx INTEGER NOT NULL,
        version INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX IF NOT EXISTS entries_key_version ON entries (key, version);
      CREATE TABLE IF NOT EXISTS vals (idx INTEGER PRIMARY KEY, value BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
    `);
    const store = new HotStore(db, options.keyFilterOpenRows ?? keyFilterStepRowsMax);
    store.syncFull = options.sync === "full";
    store.path = path;
    return store;
  }

  /** The index the next appended entry gets (= number of entries). */
  get nextIndex(): number {
    return this.nextIndexValue;
  }

  getStats(): HotStats {
    return { ...this.stats };
  }

  latest(key: string): StoredEntry | undefined {
    if (this.knownAbsent(key)) return undefined;
    const row = this.statements.latest.get(key);
    return row ? rowToEntry(row) : undefined;
  }

  head(key: string): KeyHead | undefined {
    if (this.knownAbsent(key)) return undefined;
    const row = this.statements.latest.get(key);
    return row ? { index: row.idx, version: row.version, op: (row.op === 0 ? "put" : "delete") as Op } : undefined;
  }

  byVersion(key: string, version: number): StoredEntry | undefined {
    const row = this.statements.byVersion.get(key, version);
    return row ? rowToEntry(row) : undefined;
  }

  /** The key's latest entry with index <= `index`. */
  at(key: string, index: number): StoredEntry | undefined {
    const row = this.statements.at.get(key, index);
    return row ? rowToEntry(row) : undefined;
  }

  entry(index: number): StoredEntry | undefined {
    const row = this.statements.entry.get(index);
    return row ? rowToEntry(row) : undefined;
  }

  /** Up to `limit` entries from index `from` on, in index order. */
  entries(from: number, limit: number): StoredEntry[] {
    return this.statements.range.all(from, limit).map(rowToEntry);
  }

  /**
   * For up to `limit` entries from index `from` on, in index order: the UTF-8 bytes of the key and
   * the content type plus the value's bytes (what a record's size depends on), without reading
   * the entries themselves.
   */
  variableBytes(from: number, limit: number): number[] {
    return this.statements.variableBytes.all(from, limit).map((row) => row.n);
  }

  /**
   * Up to `limit` entries from index `from` on, in index order, each with its value (undefined
   * when absent from the hot tier: a delete, or evicted): one range query instead of a point read
   * per value (the archiver reads whole segments this way).
   */
  entriesWithValues(from: number, limit: number): { entry: StoredEntry; value: Uint8Array | undefined }[] {
    return this.statements.rangeWithValues.all(from, limit).map((row) => ({ entry: rowToEntry(row), value: row.value ?? undefined }));
  }

  /** Up to `limit` versions of `key`, from version `fromVersion` on. */
  history(key: string, fromVersion: number, limit: number): StoredEntry[] {
    return this.statements.history.all(key, fromVersion, limit).map(rowToEntry);
  }

  /**
   * Up to `range.limit` keys that start with `range.prefix` and come strictly after `range.after`,
   * in UTF-8 byte order (SQLite's BINARY collation compares TEXT as UTF-8 bytes), each with its
   * latest entry. One statement: the page is one consistent snapshot.
   */
  keys(range: KeyRange): KeyState[] {
    assert(Number.isSafeInteger(range.limit) && range.limit >= 1, `keys: limit must be a positive integer, got ${range.limit}`);
    const afterNext = range.after === undefined ? undefined : utf8Successor(range.after);
    const lower = afterNext !== undefined && compareUtf8(afterNext, range.prefix) > 0 ? afterNext : range.prefix;
    const rows = this.statements.keys.all(lower, prefixUpperBound(range.prefix) ?? null, range.limit);
    const states = rows.map((row) => ({ key: row.key, index: row.idx, version: row.version, deleted: row.op !== 0 }));
    for (let i = 1; i < states.length; i++) assert(compareUtf8(states[i - 1]!.key, states[i]!.key) < 0, "keys: the page is not in byte order");
    return states;
  }

  /** The value stored at `index`, or undefined when absent from the hot tier. */
  value(index: number): Uint8Array | undefined {
    return this.statements.value.get(index)?.value;
  }

  meta(name: string): number | string | Uint8Array | undefined {
    return this.statements.getMeta.get(name)?.v;
  }

  setMeta(name: string, value: number | string | Uint8Array): void {
    this.statements.setMeta.run(name, value);
  }

  // ---- cold tier bookkeeping --------------------------------------------------------------

  /**
   * What the cold tier has done to this hot tier, as persisted in `meta`: entries below
   * `archivedIndex` are in verified S3 segments; values below `evictedIndex` may be absent from
   * `vals` (evictedIndex <= archivedIndex always).
   */
  coldProgress(): { archivedIndex: number; evictedIndex: number } {
    return { archivedIndex: Number(this.meta("cold_archived_index") ?? 0), evictedIndex: Number(this.meta("cold_evicted_index") ?? 0) };
  }

  /** Records (durably, with the next commit) that entries below `nextIndex` are archived in S3. */
  recordArchived(nextIndex: number): void {
    const { archivedIndex } = this.coldProgress();
    assert(Number.isSafeInteger(nextIndex) && nextIndex <= this.nextIndexValue, `recordArchived: ${nextIndex} is beyond the ledger (${this.nextIndexValue})`);
    if (nextIndex > archivedIndex) this.setMeta("cold_archived_index", nextIndex);
  }

  /**
   * Drops the `vals` rows of [from, toExclusive): the only physical removal in the hot tier, and
   * only for a range recorded archived (asserted): entries and tree hashes stay. One transaction
   * deletes the rows and records the new evicted index. Returns the number of rows removed.
   */
  evictValues(from: number, toExclusive: number): number {
    const { archivedIndex, evictedIndex } = this.coldProgress();
    assert(from === evictedIndex, `evictValues: from ${from} but the evicted index is ${evictedIndex}`);
    assert(toExclusive > from && toExclusive <= archivedIndex, `evictValues: [${from}, ${toExclusive}) is not inside the archived range [0, ${archivedIndex})`);
    return this.transaction(() => {
      const removed = this.db.prepare("DELETE FROM vals WHERE idx >= ? AND idx < ?").run(from, toExclusive).changes;
      this.setMeta("cold_evicted_index", toExclusive);
      return removed;
    });
  }

  private syncFull = true;
  private path = ":memory:";
  /** A descriptor of the `-wal` file for `flushWal`, opened at its first call. */
  private walFd: number | undefined;

  /**
   * Chooses whether the next commits fsync (FULL) or not (NORMAL). In WAL mode a NORMAL commit
   * still reaches the disk, in order, with the next FULL commit; a crash can lose only a suffix of
   * NORMAL commits. Callers use NORMAL only for writes they can rebuild (re-applying a durable log).
   */
  setSyncFull(full: boolean): void {
    if (full === this.syncFull) return;
    this.db.exec(`PRAGMA synchronous = ${full ? "FULL" : "NORMAL"}`);
    this.syncFull = full;
  }

  /**
   * Makes every commit so far durable without blocking the thread: fdatasync of the WAL file on
   * Bun's I/O threads, what a FULL commit does on the calling thread (SQLite's WAL mode syncs the
   * WAL, only, on a FULL commit). Call after a NORMAL commit; the promise resolves once the disk
   * has it, and rejects if the flush failed (nothing of it can be trusted then). An in-memory
   * database has nothing to flush.
   */
  flushWal(): Promise<void> {
    if (this.path === ":memory:") return Promise.resolve();
    this.walFd ??= openSync(`${this.path}-wal`, "r");
    const fd = this.walFd;
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  }

  /** Runs `fn` in one transaction (one fsync on commit with sync = full). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Appends applied operations at the next indexes. Call inside `transaction`. Each op's `wasLive`
   * (the key had a live value before it) keeps the live-key counter.
   */
  append(applied: readonly AppliedOp[]): void {
    // Rows are gathered and written insertRowsMax to a statement; the remainder one by one below.
    const entryRows: SQLQueryBindings[] = new Array(insertRowsMax * entryColumnCount);
    const valueRows: SQLQueryBindings[] = new Array(insertRowsMax * 2);
    let entryCount = 0;
    let valueCount = 0;
    for (let i = 0; i < applied.length; i++) {
      const { entry, value, wasLive } = applied[i]!;
      const version = entry.version;
      if (entry.index !== this.nextIndexValue) fail(`append: index ${entry.index} but next is ${this.nextIndexValue}`);
      const at = entryCount * entryColumnCount;
      entryRows[at] = entry.index;
      entryRows[at + 1] = entry.op === "put" ? 0 : 1;
      entryRows[at + 2] = entry.key;
      entryRows[at + 3] = entry.valueHash;
      entryRows[at + 4] = entry.valueBytes;
      entryRows[at + 5] = entry.contentType;
      entryRows[at + 6] = entry.timestampMs;
      entryRows[at + 7] = entry.prevIndex;
      entryRows[at + 8] = version;
      if (++entryCount === insertRowsMax) {
        this.statements.insertEntries.run(...entryRows);
        entryCount = 0;
      }
      if (version === 1) {
        this.stats.keysWritten++;
        this.keyFilter.add(entry.key);
      }
      if (entry.op === "put") {
        valueRows[2 * valueCount] = entry.index;
        valueRows[2 * valueCount + 1] = value;
        if (++valueCount === insertRowsMax) {
          this.statements.insertValues.run(...valueRows);
          valueCount = 0;
        }
        this.stats.valueBytes += value.length;
        if (!wasLive) this.stats.liveKeys++;
      } else if (wasLive) {
        this.stats.liveKeys--;
      }
      this.nextIndexValue++;
      this.stats.entries++;
    }
    for (let at = 0; at < entryCount * entryColumnCount; at += entryColumnCount) this.statements.insertEntry.run(...entryRows.slice(at, at + entryColumnCount));
    for (let at = 0; at < valueCount * 2; at += 2) this.statements.insertValue.run(...valueRows.slice(at, at + 2));
    this.setMeta("live_keys", this.stats.liveKeys);
    this.setMeta("keys_written", this.stats.keysWritten);
    this.setMeta("value_bytes", this.stats.valueBytes);
  }

  /** Re-reads counters after a failed transaction rolled back. */
  reloadCounters(): void {
    const last = this.db.query<{ idx: number | null }, []>("SELECT MAX(idx) AS idx FROM entries").get();
    this.nextIndexValue = (last?.idx ?? -1) + 1;
    this.stats = this.loadStats();
  }

  close(): void {
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
    this.db.close();
  }
}
