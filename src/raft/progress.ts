/**
 * @module raft/progress. The leader's view of each follower: match/next indexes, the replication
 * state (probe, replicate, catchup) and bounded in-flight flow control.
 */

import { assert } from "../lib/index.ts";

export type ProgressState = "probe" | "replicate" | "catchup";

/** A bounded FIFO of the last index of each in-flight append message. */
export class Inflights {
  private readonly ends: number[] = [];
  constructor(readonly capacity: number) {
    assert(capacity > 0, "inflight capacity must be positive");
  }
  get count(): number {
    return this.ends.length;
  }
  full(): boolean {
    return this.ends.length >= this.capacity;
  }
  add(lastIndex: number): void {
    assert(!this.full(), "inflights overflow");
    this.ends.push(lastIndex);
  }
  /** Frees every in-flight message whose last index is <= index. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.ends.length && this.ends[n]! <= index) n++;
    if (n > 0) this.ends.splice(0, n);
  }
  /** Frees the oldest in-flight message (its response may have been lost). */
  freeFirstOne(): void {
    this.ends.shift();
  }
  reset(): void {
    this.ends.length = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** Probe state: one append is outstanding; wait for a response or a heartbeat response. */
  probeSent = false;
  /** Catch-up state: the compacted index the follower was told to reach. */
  pendingCatchup = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, inflightCapacity: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(inflightCapacity);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingCatchup = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "catchup") {
      const pending = this.pendingCatchup;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeCatchup(index: number): void {
    this.resetState("catchup");
    this.pendingCatchup = index;
  }

  /** A successful append response up to `index`. Returns true when match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Optimistic advance after sending entries up to `lastIndex` (replicate state pipelining). */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /**
   * A rejected append of `rejected`; `hint` is where the follower suggests to probe next.
   * Returns false when the rejection is stale (ignored).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false; // stale
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false; // stale probe response
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader should hold back appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "catchup":
        return true;
    }
  }
}
