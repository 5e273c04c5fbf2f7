/**
 * @module raft/storage. The read-only view of durable Raft state that the core needs, in the
 * style of etcd-io/raft's Storage, and an in-memory implementation.
 *
 * Contract of every implementation (checked by test/raft/storage-contract.ts):
 * - The log is the contiguous range [firstIndex(), lastIndex()]. Everything below firstIndex()
 *   has been compacted; the entry at firstIndex() - 1 is the "compacted point", whose term is
 *   still known through term(firstIndex() - 1). An empty, never-compacted log has
 *   firstIndex() = 1, lastIndex() = 0, term(0) = 0.
 * - entries(lo, hi, maxBytes) returns entries of the half-open range [lo, hi), always at least
 *   one when lo < hi, then more while their total size stays within maxBytes.
 *   lo < firstIndex() throws CompactedError; hi > lastIndex() + 1 throws UnavailableError.
 * - term(i) for i in [firstIndex() - 1, lastIndex()]; below: CompactedError; above: UnavailableError.
 * - initialState() returns the last persisted hard state and membership.
 * The core never writes through this interface: the application persists each Ready.
 */

import { assert } from "../lib/index.ts";
import type { Ready } from "./raw-node.ts";
import { copyMembership, entryBytes, type Entry, type HardState, type Membership } from "./types.ts";

export class CompactedError extends Error {
  override name = "CompactedError";
  readonly code = "raft_compacted";
  constructor(readonly requested: number, readonly firstIndex: number) {
    super(`index ${requested} is compacted (first available index is ${firstIndex})`);
  }
}

export class UnavailableError extends Error {
  override name = "UnavailableError";
  readonly code = "raft_unavailable";
  constructor(readonly requested: number, readonly lastIndex: number) {
    super(`index ${requested} is not available (last index is ${lastIndex})`);
  }
}

export interface InitialState {
  hardState: HardState;
  membership: Membership;
}

export interface RaftStorage {
  initialState(): InitialState;
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
}

/** An in-memory RaftStorage. Writes are the application's: append, setHardState, compact, ... */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private membership: Membership;
  /** log[0] is the compacted point (index = offset, term known); real entries follow. */
  private log: Entry[];

  constructor(membership: Membership) {
    this.membership = copyMembership(membership);
    this.log = [{ term: 0, index: 0, type: "normal", data: new Uint8Array(0) }];
  }

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, membership: copyMembership(this.membership) };
  }

  private get offset(): number {
    return this.log[0]!.index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.log.length - 1;
  }

  term(index: number): number {
    if (index < this.offset) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.log[index - this.offset]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo <= hi, `entries: lo ${lo} > hi ${hi}`);
    if (lo <= this.offset) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.log[i - this.offset]!;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(entry);
    }
    return out;
  }

  setHardState(state: HardState): void {
    this.hardState = { ...state };
  }

  setMembership(membership: Membership): void {
    this.membership = copyMembership(membership);
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    for (let i = 1; i < entries.length; i++) assert(entries[i]!.index === first + i, "append: entries not contiguous");
    if (first + entries.length - 1 <= this.offset) return; // wholly compacted already
    assert(first <= this.lastIndex() + 1, `append: gap (first ${first}, last ${this.lastIndex()})`);
    const skip = Math.max(0, this.offset + 1 - first);
    const keep = first + skip - this.offset; // number of log slots to keep (including the compacted point)
    this.log.length = keep;
    for (let i = skip; i < entries.length; i++) this.log.push(entries[i]!);
  }

  /** Discards entries up to and including `index` (which must be applied by the application). */
  compact(index: number): void {
    if (index <= this.offset) return;
    assert(index <= this.lastIndex(), `compact ${index} beyond last index ${this.lastIndex()}`);
    const point = this.log[index - this.offset]!;
    this.log = [{ term: point.term, index: point.index, type: "normal", data: new Uint8Array(0) }, ...this.log.slice(index - this.offset + 1)];
  }

  /** Installs a catch-up: the whole log is replaced by the compacted point (index, term). */
  applyCatchup(index: number, term: number, membership: Membership): void {
    this.log = [{ term, index, type: "normal", data: new Uint8Array(0) }];
    this.membership = copyMembership(membership);
  }

  /**
   * Persists the durable parts of a Ready in the required order: catch-up, entries, hard state.
   * (Membership changes from applied config entries are persisted by the application with its
   * applied index; see Ready.membership.)
   */
  applyReady(ready: Ready): void {
    if (ready.catchup) this.applyCatchup(ready.catchup.index, ready.catchup.term, ready.catchup.membership);
    this.append(ready.entries);
    if (ready.hardState) this.setHardState(ready.hardState);
    if (ready.membership) this.setMembership(ready.membership);
  }
}
