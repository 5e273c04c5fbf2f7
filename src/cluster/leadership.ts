/**
 * @module leadership. Who leads, as this node knows it (from the core's soft state), where to
 * reach the leader (the address book), and waits for a leader to appear or change — settled by
 * the Ready loop's soft-state reports through the waiters (waiters.ts), never by polling.
 */

import { ScribeError } from "../lib/index.ts";
import type { SoftState } from "../raft/index.ts";
import type { AddressBook } from "./address-book.ts";
import type { Waiters } from "./waiters.ts";

/** Milliseconds a request waits for a leader to appear (elections take a few ticks). */
const leaderWaitMsMax = 5000;

export class Leadership {
  constructor(
    private readonly selfId: number,
    private readonly core: { softState(): SoftState },
    private readonly addresses: AddressBook,
    private readonly waiters: Waiters,
    private readonly now: () => number,
  ) {}

  isLeader(): boolean {
    return this.core.softState().role === "leader";
  }

  /** The known leader's id, 0 when none is known. */
  leaderId(): number {
    return this.core.softState().leader;
  }

  /** The known leader's client (HTTP) address, if a leader and its address are known. */
  leaderClient(): string | undefined {
    const lead = this.leaderId();
    return lead === 0 ? undefined : this.addresses.of(lead)?.client;
  }

  notLeader(): ScribeError {
    return new ScribeError("not_leader", `node ${this.selfId} is not the leader (leader: ${this.leaderId()})`);
  }

  /** Resolves once a leader is known; rejects with no_leader after `leaderWaitMsMax`, or at `deadlineMs` (the request's own) if sooner. */
  awaitLeader(deadlineMs = Infinity): Promise<void> {
    if (this.leaderId() !== 0) return Promise.resolve();
    const until = Math.min(deadlineMs, this.now() + leaderWaitMsMax);
    return this.waiters.untilLeader((leader) => leader !== 0, until, () => new ScribeError("no_leader", "the cluster has no leader right now; retry"));
  }

  /** Resolves once the known leader differs from `previous` (a new election), or at `leaderWaitMsMax` or `deadlineMs`. */
  awaitLeaderChange(previous: number, deadlineMs: number): Promise<void> {
    return this.waiters.untilLeader((leader) => leader !== previous, Math.min(deadlineMs, this.now() + leaderWaitMsMax), () => undefined);
  }
}
