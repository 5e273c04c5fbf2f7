/**
 * @module raft/raw-node. The driver-facing API of the Raft core and the Ready/Advance contract.
 *
 * THE CONTRACT. The application loops:
 *
 *     node.tick() every tick; node.step(msg) for every received message;
 *     node.propose([...]) / node.readIndex(ctx) / node.proposeConfigChange(c) for clients;
 *     if (node.hasReady()) {
 *       const rd = node.ready();
 *       1. PERSIST, durably (fsync), in this order:
 *          a. rd.catchup, if set: make the state machine reflect every committed entry up to
 *             rd.catchup.index (fetch the ledger range (applied, rd.catchup.index] from
 *             rd.catchup.from, a peer or cold storage, verify it, apply it), then make the log
 *             start after that point (MemoryStorage.applyCatchup) with rd.catchup.membership,
 *             atomically with the ledger range (one transaction; see docs/RAFT.md).
 *          b. rd.entries: append to the log, replacing any conflicting suffix.
 *          c. rd.hardState, if set.
 *       2. SEND rd.messages (any order, any may be lost; the core retries).
 *       3. APPLY rd.committedEntries in order. "config" entries need no work from the
 *          application except persisting rd.membership (if set) together with the applied
 *          index; the core applies them itself in advance(). Serve rd.readStates once the
 *          applied index reaches each state's index.
 *       4. node.advance(rd).
 *     }
 *
 * ready() may not be called again before advance() of the previous Ready. tick/step/propose
 * may be called between ready() and advance(); their effects appear in the next Ready.
 * MemoryStorage.applyReady(rd) performs step 1 (and records rd.membership) for in-memory use.
 *
 * EXCEPTIONS a driver may take (the node's Ready loop, src/cluster/ready-loop.ts, takes all
 * four, and the seeded simulator in test/raft/sim runs that loop):
 *  - Early leader sends. While the node leads and the Ready changes neither term nor vote, its
 *    "append", "heartbeat", "catchup" and "timeoutNow" messages may leave BEFORE step 1 (Raft
 *    thesis §10.2.1). They promise nothing about the leader's own disk: the core counts the
 *    leader's own copy toward a quorum only once advance() reports it persisted
 *    (Raft.selfStable), so followers persist in parallel with the leader. Every other message —
 *    votes, vote and append responses, anything of a Ready that changes term or vote — waits for
 *    step 1: a vote or an acknowledgement must never leave before what it promises is durable.
 *  - Persist and apply in one write. Steps 1 and 3 may be one atomic write (e.g. one SQLite
 *    transaction holding the log entries, the hard state, the membership and the state machine's
 *    changes), because only committed entries are applied.
 *  - No fsync for apply-only writes. The write must be durable (fsync) before anything is sent
 *    or answered when it holds new entries, a membership, or a new term or vote. One that only
 *    applies committed entries (and moves the commit index) may skip the fsync: after a crash the
 *    state machine re-applies them from the durable log, and what was answered is committed.
 *  - Sole voter: entries commit in the Ready that persists them. While the node leads and is the
 *    only voter, ready() commits its whole log (Raft.commitOnPersist), so rd.committedEntries
 *    may include entries of rd.entries and rd.hardState.commit covers them. A driver that takes
 *    this must write rd.entries and rd.hardState in ONE atomic, durable write, and apply (and
 *    answer) them only in or after it: the quorum is this node's disk, and the write that makes
 *    the entries durable is the one that records them committed — a crash before it loses both
 *    (nothing was answered), a crash after it keeps both. The step-1-then-3 order of the plain
 *    contract satisfies this as long as 1b and 1c are one write.
 * A proposer is answered only once its entry is applied with the term it was proposed in (a
 * different term's entry at that index means the proposal was lost); a read once the applied
 * index reaches its ReadState's index.
 */

import { assert } from "../lib/index.ts";
import { membershipOfConfigEntry } from "./config-change.ts";
import { Raft, type ProposeResult, type RaftConfig, type ReadIndexResult, type TransferResult } from "./raft.ts";
import {
  copyMembership,
  hardStateEqual,
  type ConfigChange,
  type Entry,
  type HardState,
  type Membership,
  type Message,
  type NodeId,
  type ReadState,
  type SoftState,
} from "./types.ts";

/** A catch-up the application must install before persisting anything else of its Ready. */
export interface CatchupInstall {
  index: number;
  term: number;
  membership: Membership;
  /** The leader that asked for it (a good source for the ledger range). */
  from: NodeId;
}

export interface Ready {
  /** Volatile state (leader, role); set when changed since the last Ready. */
  softState: SoftState | null;
  /** Set when changed since the last Ready; persist before sending messages. */
  hardState: HardState | null;
  catchup: CatchupInstall | null;
  /** Entries to append to durable storage. */
  entries: Entry[];
  /** Messages to send after persisting. */
  messages: Message[];
  /** Committed entries to apply, in order, after persisting. */
  committedEntries: Entry[];
  /** The membership after applying committedEntries (or installing catchup), when it changes. */
  membership: Membership | null;
  readStates: ReadState[];
}

/** The core's own snapshot of itself (`RawNode.status()`); the node's reported state is ledger/'s NodeStatus. */
export interface RaftStatus {
  id: NodeId;
  role: SoftState["role"];
  leader: NodeId;
  term: number;
  vote: NodeId;
  commitIndex: number;
  /** The highest commit index a leader told this node (the leader's own commit index on the leader). */
  leaderCommitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  membership: Membership;
  leadTransferee: NodeId;
  /** Leader only: its view of every member. */
  progress: Record<number, { match: number; next: number; state: string; inflight: number; learner: boolean }>;
}

export class RawNode {
  readonly raft: Raft;
  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevHardState = this.hardState();
    this.prevSoftState = this.softState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    this.raft.step(message);
  }

  /** Leader: appends one entry per element; a follower returns { ok: false, reason: "not_leader", leader }. */
  propose(data: readonly Uint8Array[]): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfigChange(change: ConfigChange): ProposeResult {
    return this.raft.proposeConfigChange(change);
  }

  /** Leader: a later Ready carries ReadState{index, context} once a quorum confirmed leadership. */
  readIndex(context: Uint8Array): ReadIndexResult {
    return this.raft.readIndex(context);
  }

  /** A read index with no round (a sole voter leading with an entry of its term committed), or undefined. */
  localReadIndex(): number | undefined {
    return this.raft.localReadIndex();
  }

  transferLeadership(target: NodeId): TransferResult {
    return this.raft.transferLeadership(target);
  }

  campaign(): void {
    this.raft.campaign();
  }

  /** The transport lost its connection to `id` (leader: stop pipelining to it, probe instead). */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /** The leader's application learned that `id` could not install its catch-up: retry later. */
  reportCatchupFailed(id: NodeId): void {
    this.raft.reportCatchupFailed(id);
  }

  hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }

  membership(): Membership {
    return copyMembership(this.raft.membership);
  }

  /** A snapshot of the node's state for metrics and admin endpoints (plain data). */
  status(): RaftStatus {
    const r = this.raft;
    const progress: RaftStatus["progress"] = {};
    if (r.role === "leader") {
      for (const [id, pr] of r.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.count, learner: pr.isLearner };
      }
    }
    return {
      id: r.id,
      role: r.role,
      leader: r.lead,
      term: r.term,
      vote: r.vote,
      commitIndex: r.log.committed,
      leaderCommitIndex: r.role === "leader" ? r.log.committed : Math.max(r.leaderCommit, r.log.committed),
      appliedIndex: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      membership: copyMembership(r.membership),
      leadTransferee: r.leadTransferee,
      progress,
    };
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    const hard = this.prevHardState;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.unstable.length > 0 ||
      r.log.pendingCatchup !== null ||
      r.log.hasNextCommitted() ||
      r.term !== hard.term ||
      r.vote !== hard.vote ||
      r.log.committed !== hard.commit ||
      r.lead !== this.prevSoftState.leader ||
      r.role !== this.prevSoftState.role
    );
  }

  ready(): Ready {
    assert(this.outstanding === null, "ready() called again before advance()");
    const r = this.raft;
    const soft = this.softState();
    // A sole voter's new entries commit with this Ready's write (see EXCEPTIONS above).
    if (r.log.unstable.length > 0 && !r.log.pendingCatchup) r.commitOnPersist();
    const pending = r.log.pendingCatchup;
    const hard = this.hardState();
    const committedEntries = r.log.nextCommitted(r.committedBytesPerReadyMax);
    let membership: Membership | null = pending ? copyMembership(pending.membership) : null;
    let current = r.membership;
    for (const entry of committedEntries) {
      if (entry.type !== "config" || entry.index <= current.index) continue;
      current = membershipOfConfigEntry(entry.data, entry.index);
      membership = copyMembership(current);
    }
    const rd: Ready = {
      softState: soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role ? soft : null,
      hardState: hardStateEqual(hard, this.prevHardState) ? null : hard,
      catchup: pending ? { index: pending.index, term: pending.term, membership: copyMembership(pending.membership), from: r.catchupSource } : null,
      entries: [...r.log.unstable],
      messages: r.msgs,
      committedEntries,
      membership,
      readStates: r.readStates,
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoftState = soft;
    this.outstanding = rd;
    return rd;
  }

  /** Acknowledges that `rd` was persisted, sent and applied (see the module contract). */
  advance(rd: Ready): void {
    assert(this.outstanding === rd, "advance() of a Ready that is not the outstanding one");
    this.outstanding = null;
    const log = this.raft.log;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.catchup) log.catchupStable(rd.catchup.index);
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      log.stableTo(last.index, last.term);
      this.raft.selfStable(last.index);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      if (last.index > log.applied) log.appliedTo(last.index);
      this.raft.applyCommittedConfig(rd.committedEntries);
    }
  }
}
