/**
 * @module raft-log. The Raft log, hard state and membership in SQLite (tables `raft_log` and
 * `raft_state`), implementing the core's read-only RaftStorage plus the writes the driver makes
 * while persisting a Ready. Writes are meant to run inside the driver's transaction, so a Ready's
 * log entries, hard state and the ledger entries it applies become durable together.
 *
 * The compacted point (index and term of the last discarded entry) is kept in `raft_state`, so
 * term(firstIndex - 1) stays answerable after compaction.
 */

import type { Database, Statement } from "bun:sqlite";
import { assert } from "../lib/index.ts";
import { CompactedError, UnavailableError, entryBytes, type Entry, type HardState, type InitialState, type Membership, type RaftStorage } from "../raft/index.ts";

interface LogRow {
  idx: number;
  term: number;
  type: number;
  data: Uint8Array;
}

const typeCodes = { normal: 0, config: 1 } as const;

/**
 * appendApplied calls between two prunings of the applied points it compacted past: one small
 * range DELETE per 1024 group commits instead of a row deleted (and a page written) in each.
 */
const appliedPointsPruneEvery = 1024;

function rowToEntry(row: LogRow): Entry {
  return { index: row.idx, term: row.term, type: row.type === 1 ? "config" : "normal", data: row.data };
}

export class SqliteRaftStorage implements RaftStorage {
  private readonly statements: {
    range: Statement<LogRow, [number, number]>;
    insert: Statement<unknown, [number, number, number, Uint8Array]>;
    deleteFrom: Statement<unknown, [number]>;
    deleteUpTo: Statement<unknown, [number]>;
    deleteAll: Statement<unknown, []>;
    getState: Statement<{ v: string }, [string]>;
    setState: Statement<unknown, [string, string]>;
    recordApplied: Statement<unknown, [number, number]>;
    ledgerSizeAt: Statement<{ ledger_size: number }, [number]>;
    pruneApplied: Statement<unknown, [number]>;
    appliedAtOrBelow: Statement<{ raft_index: number | null }, [number]>;
  };
  private compactedIndex: number;
  private compactedTerm: number;
  private last: number;
  /**
   * Terms of the uncompacted log in memory: terms[i] is the term of entry compactedIndex + 1 + i.
   * The core asks term() for every append it matches; 8 bytes an entry, bounded by compaction.
   */
  private terms: number[] = [];
  private hardState: HardState;
  private membership: Membership;
  private appendsAppliedSincePrune = 0;

  /** Opens the log in `db`; a new log starts with `bootstrap` as its membership. */
  constructor(
    private readonly db: Database,
    bootstrap: Membership,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS raft_log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS raft_state (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS raft_applied (raft_index INTEGER PRIMARY KEY, ledger_size INTEGER NOT NULL);
    `);
    this.statements = {
      range: db.prepare("SELECT idx, term, type, data FROM raft_log WHERE idx >= ? AND idx < ? ORDER BY idx"),
      insert: db.prepare("INSERT INTO raft_log (idx, term, type, data) VALUES (?, ?, ?, ?)"),
      deleteFrom: db.prepare("DELETE FROM raft_log WHERE idx >= ?"),
      deleteUpTo: db.prepare("DELETE FROM raft_log WHERE idx <= ?"),
      deleteAll: db.prepare("DELETE FROM raft_log"),
      getState: db.prepare("SELECT v FROM raft_state WHERE k = ?"),
      setState: db.prepare("INSERT INTO raft_state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"),
      recordApplied: db.prepare("INSERT INTO raft_applied (raft_index, ledger_size) VALUES (?, ?) ON CONFLICT (raft_index) DO UPDATE SET ledger_size = excluded.ledger_size"),
      ledgerSizeAt: db.prepare("SELECT ledger_size FROM raft_applied WHERE raft_index = ?"),
      pruneApplied: db.prepare("DELETE FROM raft_applied WHERE raft_index < ?"),
      appliedAtOrBelow: db.prepare("SELECT MAX(raft_index) AS raft_index FROM raft_applied WHERE raft_index <= ?"),
    };
    this.hardState = { term: 0, vote: 0, commit: 0 };
    this.membership = bootstrap;
    this.compactedIndex = 0;
    this.compactedTerm = 0;
    this.last = 0;
    this.load(bootstrap);
  }

  /** Reads the in-memory view (compacted point, last index, terms, hard state, membership) from the tables. */
  private load(bootstrap: Membership): void {
    const compacted = this.state<{ index: number; term: number }>("compacted") ?? { index: 0, term: 0 };
    this.compactedIndex = compacted.index;
    this.compactedTerm = compacted.term;
    const max = this.db.query<{ idx: number | null }, []>("SELECT MAX(idx) AS idx FROM raft_log").get();
    this.last = max?.idx ?? this.compactedIndex;
    this.terms = [];
    for (const row of this.db.query<{ idx: number; term: number }, []>("SELECT idx, term FROM raft_log ORDER BY idx").iterate()) {
      assert(row.idx === this.compactedIndex + 1 + this.terms.length, `raft log has a hole before ${row.idx}`);
      this.terms.push(row.term);
    }
    this.hardState = this.state<HardState>("hard_state") ?? { term: 0, vote: 0, commit: 0 };
    this.membership = this.state<Membership>("membership") ?? { voters: [...bootstrap.voters], learners: [...bootstrap.learners], index: bootstrap.index };
  }

  /**
   * After a transaction that wrote to the log failed and rolled back (a full disk: the Ready loop
   * retries the step): the in-memory view is read again from what the tables hold.
   */
  reload(): void {
    this.load(this.membership);
  }

  /** True when nothing was ever persisted (a brand-new node). */
  isEmpty(): boolean {
    return this.state("membership") === undefined && this.state("hard_state") === undefined && this.last === 0 && this.compactedIndex === 0;
  }

  private state<T>(name: string): T | undefined {
    const row = this.statements.getState.get(name);
    return row ? (JSON.parse(row.v) as T) : undefined;
  }

  private setState(name: string, value: unknown): void {
    this.statements.setState.run(name, JSON.stringify(value));
  }

  /** Application metadata kept beside the log (e.g. the address book), as JSON under `app.<name>`. */
  readMeta<T>(name: string): T | undefined {
    return this.state<T>(`app.${name}`);
  }

  writeMeta(name: string, value: unknown): void {
    this.setState(`app.${name}`, value);
  }

  /**
   * Records that the state machine has applied the log up to `raftIndex` and that the ledger then
   * held `ledgerSize` entries. Catch-up of other nodes maps a compacted Raft index to a ledger
   * range through these records.
   */
  recordApplied(raftIndex: number, ledgerSize: number): void {
    this.statements.recordApplied.run(raftIndex, ledgerSize);
    this.setState("applied", { raftIndex, ledgerSize });
  }

  /** The last recorded applied point ({0, 0} for a new log). */
  appliedPoint(): { raftIndex: number; ledgerSize: number } {
    return this.state("applied") ?? { raftIndex: 0, ledgerSize: 0 };
  }

  /** The highest recorded applied point at or below `raftIndex`, if any. */
  appliedPointAtOrBelow(raftIndex: number): number | undefined {
    return this.statements.appliedAtOrBelow.get(raftIndex)?.raft_index ?? undefined;
  }

  /** The ledger size recorded when the log was applied up to exactly `raftIndex`, if recorded. */
  ledgerSizeAt(raftIndex: number): number | undefined {
    return this.statements.ledgerSizeAt.get(raftIndex)?.ledger_size;
  }

  // ---- RaftStorage (read-only view for the core) ------------------------------------------

  /** The persisted membership (read-only view: no copy). */
  currentMembership(): Readonly<Membership> {
    return this.membership;
  }

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, membership: { voters: [...this.membership.voters], learners: [...this.membership.learners], index: this.membership.index } };
  }

  firstIndex(): number {
    return this.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  term(index: number): number {
    if (index < this.compactedIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.last) throw new UnavailableError(index, this.last);
    if (index === this.compactedIndex) return this.compactedTerm;
    const term = this.terms[index - this.compactedIndex - 1];
    assert(term !== undefined, `raft log lacks entry ${index} inside [${this.firstIndex()}, ${this.last}]`);
    return term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo <= hi, `entries: lo ${lo} > hi ${hi}`);
    if (lo <= this.compactedIndex) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.last + 1) throw new UnavailableError(hi - 1, this.last);
    const out: Entry[] = [];
    let bytes = 0;
    for (const row of this.statements.range.iterate(lo, hi)) {
      const entry = rowToEntry(row);
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    assert(out.length === 0 || out[0]!.index === lo, `raft log has a hole at ${lo}`);
    return out;
  }

  // ---- writes (the driver's, inside its transaction) --------------------------------------

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const lastNew = first + entries.length - 1;
    if (lastNew <= this.compactedIndex) return;
    assert(first <= this.last + 1, `append: gap (first ${first}, last ${this.last})`);
    const from = Math.max(first, this.compactedIndex + 1);
    if (from <= this.last) this.statements.deleteFrom.run(from);
    this.terms.length = from - this.compactedIndex - 1;
    for (const entry of entries) {
      if (entry.index < from) continue;
      this.statements.insert.run(entry.index, entry.term, typeCodes[entry.type], entry.data);
      this.terms.push(entry.term);
    }
    this.last = lastNew;
  }

  /**
   * Appends entries that the same transaction also applies, and compacts the log through them at
   * once: nothing is written to `raft_log`; the compacted point moves to the last entry (and any
   * entries still stored, all applied, are deleted). For a sole voter without learners, whose
   * entries nobody will ever ask for (a member added later catches up by ledger range), so each
   * command is stored once, in the ledger, instead of twice. The entries must follow the log
   * (no conflict to replace). The applied points (raft_applied) below the new compacted point are
   * pruned every appliedPointsPruneEvery calls rather than in each.
   */
  appendApplied(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const lastEntry = entries[entries.length - 1]!;
    assert(first === this.last + 1, `appendApplied: entries from ${first} do not follow the log's last index ${this.last}`);
    if (this.last > this.compactedIndex) this.statements.deleteUpTo.run(this.last);
    this.terms = [];
    this.compactedIndex = lastEntry.index;
    this.compactedTerm = lastEntry.term;
    this.last = lastEntry.index;
    this.setState("compacted", { index: this.compactedIndex, term: this.compactedTerm });
    if (++this.appendsAppliedSincePrune >= appliedPointsPruneEvery) {
      this.appendsAppliedSincePrune = 0;
      this.statements.pruneApplied.run(this.compactedIndex);
    }
  }

  setHardState(state: HardState): void {
    this.hardState = { ...state };
    this.setState("hard_state", state);
  }

  setMembership(membership: Membership): void {
    this.membership = { voters: [...membership.voters], learners: [...membership.learners], index: membership.index };
    this.setState("membership", this.membership);
  }

  /** Discards entries up to and including `index` (already applied by the application). */
  compact(index: number): void {
    if (index <= this.compactedIndex) return;
    assert(index <= this.last, `compact ${index} beyond last index ${this.last}`);
    const term = this.term(index);
    this.statements.deleteUpTo.run(index);
    this.statements.pruneApplied.run(index);
    this.terms = this.terms.slice(index - this.compactedIndex);
    this.compactedIndex = index;
    this.compactedTerm = term;
    this.setState("compacted", { index, term });
  }

  /** Installs a catch-up: the whole log is replaced by the compacted point (index, term). */
  applyCatchup(index: number, term: number, membership: Membership): void {
    this.statements.deleteAll.run();
    this.terms = [];
    this.compactedIndex = index;
    this.compactedTerm = term;
    this.last = index;
    this.setState("compacted", { index, term });
    this.setMembership(membership);
  }
}
