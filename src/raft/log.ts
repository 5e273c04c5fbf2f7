/**
 * @module raft/log. The core's view of the log: durable entries (read through RaftStorage) plus
 * an unstable tail not yet persisted, plus an optional pending catch-up (compacted point
 * received from the leader). Tracks the commit and applied indexes.
 */

import { assert } from "../lib/index.ts";
import { CompactedError, UnavailableError, type RaftStorage } from "./storage.ts";
import type { CatchupInfo, Entry } from "./types.ts";

export class RaftLog {
  /** Entries not yet persisted; unstable[0].index === unstableOffset. */
  unstable: Entry[] = [];
  unstableOffset: number;
  /** A catch-up that replaces the whole log, not yet persisted by the application. */
  pendingCatchup: CatchupInfo | null = null;
  committed: number;
  applied: number;

  constructor(readonly storage: RaftStorage, committed: number, applied: number) {
    this.unstableOffset = storage.lastIndex() + 1;
    // The compacted point is committed by definition, even if the hard state written with it
    // was lost (a torn write between the log and the hard state).
    this.committed = Math.max(committed, storage.firstIndex() - 1);
    this.applied = Math.max(applied, storage.firstIndex() - 1);
    assert(this.applied <= this.committed, `applied ${this.applied} > committed ${this.committed}`);
  }

  firstIndex(): number {
    if (this.pendingCatchup) return this.pendingCatchup.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstable.length > 0) return this.unstableOffset + this.unstable.length - 1;
    if (this.pendingCatchup) return this.pendingCatchup.index;
    return this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term at index, or throws CompactedError / UnavailableError. */
  term(index: number): number {
    if (index >= this.unstableOffset && index < this.unstableOffset + this.unstable.length) {
      return this.unstable[index - this.unstableOffset]!.term;
    }
    if (this.pendingCatchup) {
      if (index === this.pendingCatchup.index) return this.pendingCatchup.term;
      if (index < this.pendingCatchup.index) throw new CompactedError(index, this.pendingCatchup.index + 1);
      throw new UnavailableError(index, this.lastIndex());
    }
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.storage.term(index);
  }

  /** Term at index, or 0 when it is not available (compacted or beyond the end). */
  termOrZero(index: number): number {
    try {
      return this.term(index);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return 0;
      throw error;
    }
  }

  matchTerm(index: number, term: number): boolean {
    try {
      return this.term(index) === term;
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return false;
      throw error;
    }
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi) bounded by maxBytes (at least one). Throws CompactedError below firstIndex. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    assert(hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    let out: Entry[] = [];
    if (lo < this.unstableOffset) {
      out = this.storage.entries(lo, Math.min(hi, this.unstableOffset), maxBytes);
      if (out.length < Math.min(hi, this.unstableOffset) - lo) return out; // byte limit reached
    }
    if (hi > this.unstableOffset) {
      let bytes = 0;
      for (const e of out) bytes += e.data.length + 24;
      for (let i = Math.max(lo, this.unstableOffset); i < hi; i++) {
        const entry = this.unstable[i - this.unstableOffset]!;
        bytes += entry.data.length + 24;
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(entry);
      }
    }
    return out;
  }

  /** Appends entries (which may overwrite a conflicting unstable or stable suffix). */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const first = entries[0]!.index;
    assert(first - 1 >= this.committed, `append would overwrite committed index ${this.committed} (at ${first})`);
    if (first === this.unstableOffset + this.unstable.length) {
      this.unstable.push(...entries);
    } else if (first <= this.unstableOffset) {
      // Replaces the unstable tail entirely; the stable suffix from `first` is overwritten on persist.
      this.unstableOffset = first;
      this.unstable = [...entries];
    } else {
      this.unstable = this.unstable.slice(0, first - this.unstableOffset);
      this.unstable.push(...entries);
    }
    return this.lastIndex();
  }

  /** First index in `entries` whose term differs from ours, or 0 when all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Largest index <= `index` whose term is <= `term` (for fast rejection hints), or the first
   * unavailable point when our log does not reach that far back.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= this.firstIndex() - 1; i--) {
      const t = this.termOrZero(i);
      if (t <= term) return { index: i, term: t };
      if (i === 0) break;
    }
    return { index: Math.max(0, this.firstIndex() - 1), term: 0 };
  }

  /**
   * AppendEntries receiver rules 2-5 (Figure 2). Returns the new last index of the appended
   * range, or -1 when (index, logTerm) does not match.
   */
  maybeAppend(index: number, logTerm: number, committed: number, entries: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Commit by quorum under the current-term rule (§5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  hasNextCommitted(): boolean {
    if (this.pendingCatchup) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  nextCommitted(maxBytes: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  /** The application persisted entries up to (index, term). */
  stableTo(index: number, term: number): void {
    if (this.unstable.length === 0) return;
    const local = index - this.unstableOffset;
    if (local < 0 || local >= this.unstable.length) return;
    if (this.unstable[local]!.term !== term) return; // overwritten meanwhile
    this.unstable = this.unstable.slice(local + 1);
    this.unstableOffset = index + 1;
  }

  /** Replaces the whole log with a compacted point from the leader (catch-up). */
  restore(catchup: CatchupInfo): void {
    this.pendingCatchup = catchup;
    this.unstable = [];
    this.unstableOffset = catchup.index + 1;
    this.committed = catchup.index;
  }

  catchupStable(index: number): void {
    if (this.pendingCatchup && this.pendingCatchup.index === index) {
      this.pendingCatchup = null;
      if (this.applied < index) this.applied = index;
    }
  }
}
