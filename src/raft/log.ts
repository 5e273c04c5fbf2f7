/**
 * @module raft/log. The core's view of the log: durable entries (read through RaftStorage) plus
 * an unstable tail not yet persisted, plus an optional pending catch-up (compacted point
 * received from the leader). Tracks the commit and applied indexes.
 *
 * Entries persisted but not yet applied stay in memory as well (`stable`, bounded by
 * `stableBytesMax`): they are what the next Readies apply (a leader's entries commit once a
 * follower acknowledges them, a follower's once a later append carries the commit index) and
 * what the leader sends to a follower a little behind, so neither reads them back from storage.
 */

import { assert } from "../lib/index.ts";
import { CompactedError, UnavailableError, type RaftStorage } from "./storage.ts";
import { entryBytes, type CatchupInfo, type Entry } from "./types.ts";

/**
 * Most bytes of persisted, unapplied entries kept in memory (the oldest beyond it are read from
 * storage again): many group commits' worth, yet bounded while commits stall (no quorum).
 */
const stableBytesMax = 64 * 1024 * 1024;

export class RaftLog {
  /** Entries not yet persisted; unstable[0].index === unstableOffset. */
  unstable: Entry[] = [];
  unstableOffset: number;
  /**
   * Persisted entries [stableOffset, unstableOffset) not yet applied, as storage holds them
   * (module comment); always ends where `unstable` starts.
   */
  private stable: Entry[] = [];
  private stableOffset: number;
  private stableBytes = 0;
  /** A catch-up that replaces the whole log, not yet persisted by the application. */
  pendingCatchup: CatchupInfo | null = null;
  committed: number;
  applied: number;

  constructor(readonly storage: RaftStorage, committed: number, applied: number) {
    this.unstableOffset = storage.lastIndex() + 1;
    this.stableOffset = this.unstableOffset;
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

  /**
   * Term at index, or undefined where term() would throw CompactedError or UnavailableError,
   * without making the error: a follower asks this for every entry an append brings, each one
   * past the end of its log.
   */
  private knownTerm(index: number): number | undefined {
    if (index >= this.unstableOffset && index < this.unstableOffset + this.unstable.length) {
      return this.unstable[index - this.unstableOffset]!.term;
    }
    if (this.pendingCatchup) return index === this.pendingCatchup.index ? this.pendingCatchup.term : undefined;
    if (index > this.lastIndex() || index < this.storage.firstIndex() - 1) return undefined;
    return this.storage.term(index);
  }

  /** Term at index, or 0 when it is not available (compacted or beyond the end). */
  termOrZero(index: number): number {
    return this.knownTerm(index) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    return this.knownTerm(index) === term;
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
    if (lo < this.stableOffset) {
      out = this.storage.entries(lo, Math.min(hi, this.stableOffset), maxBytes);
      if (out.length < Math.min(hi, this.stableOffset) - lo) return out; // byte limit reached
    }
    let bytes = 0;
    for (const e of out) bytes += entryBytes(e);
    // The persisted entries kept in memory, then the unstable ones, while the byte limit allows.
    for (let i = Math.max(lo, this.stableOffset); i < hi; i++) {
      const entry = i < this.unstableOffset ? this.stable[i - this.stableOffset]! : this.unstable[i - this.unstableOffset]!;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
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
      this.dropStableFrom(first);
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
    this.dropStableThrough(index);
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
    for (let i = 0; i <= local; i++) {
      const entry = this.unstable[i]!;
      this.stable.push(entry);
      this.stableBytes += entryBytes(entry);
    }
    this.unstable = this.unstable.slice(local + 1);
    this.unstableOffset = index + 1;
    // Past the bound, the oldest are read from storage again.
    let drop = 0;
    for (let over = this.stableBytes - stableBytesMax; over > 0 && drop < this.stable.length; ) over -= entryBytes(this.stable[drop++]!);
    this.dropStableFirst(drop);
  }

  /** Forgets the in-memory copies of persisted entries up to `index` (applied). */
  private dropStableThrough(index: number): void {
    this.dropStableFirst(Math.min(this.stable.length, index - this.stableOffset + 1));
  }

  private dropStableFirst(count: number): void {
    if (count <= 0) return;
    if (count === this.stable.length) {
      this.stable = [];
      this.stableBytes = 0;
    } else {
      for (let i = 0; i < count; i++) this.stableBytes -= entryBytes(this.stable[i]!);
      this.stable.splice(0, count);
    }
    this.stableOffset += count;
  }

  /** Forgets the in-memory copies of persisted entries from `index` on (about to be overwritten). */
  private dropStableFrom(index: number): void {
    if (index <= this.stableOffset) {
      this.stable = [];
      this.stableBytes = 0;
      this.stableOffset = index;
      return;
    }
    const keep = index - this.stableOffset;
    for (let i = keep; i < this.stable.length; i++) this.stableBytes -= entryBytes(this.stable[i]!);
    this.stable.length = Math.min(this.stable.length, keep);
  }

  /** Replaces the whole log with a compacted point from the leader (catch-up). */
  restore(catchup: CatchupInfo): void {
    this.pendingCatchup = catchup;
    this.unstable = [];
    this.unstableOffset = catchup.index + 1;
    this.stable = [];
    this.stableBytes = 0;
    this.stableOffset = this.unstableOffset;
    this.committed = catchup.index;
  }

  catchupStable(index: number): void {
    if (this.pendingCatchup && this.pendingCatchup.index === index) {
      this.pendingCatchup = null;
      if (this.applied < index) this.applied = index;
    }
  }
}
