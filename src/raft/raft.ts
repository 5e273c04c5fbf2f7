/**
 * @module raft/raft. The Raft protocol state machine: one `step` per message, `tick` for time,
 * an outbox (`msgs`) instead of sends, read states instead of callbacks. Pure: no clock, no
 * randomness except the injected RandomSource, no I/O. Driven through RawNode (raw-node.ts).
 *
 * Features: leader election with randomized timeouts, pre-vote, check-quorum (leader lease for
 * votes), pipelined replication with bounded in-flight messages, commit by quorum under the
 * current-term rule, ReadIndex, leadership transfer, learners, single-server membership changes
 * (applied when the config entry is applied, one pending at a time) and catch-up of followers
 * behind the leader's compacted point.
 */

import { assert, type RandomSource } from "../lib/index.ts";
import { applyConfigChange, encodeConfigChange, membershipOfConfigEntry, validateConfigChange } from "./config-change.ts";
import { RaftLog } from "./log.ts";
import { Progress } from "./progress.ts";
import { CompactedError, type RaftStorage } from "./storage.ts";
import {
  NONE,
  copyMembership,
  emptyMessage,
  type ConfigChange,
  type Entry,
  type Membership,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Role,
} from "./types.ts";

export interface RaftConfig {
  id: NodeId;
  storage: RaftStorage;
  /** Seeded source for election timeout jitter. */
  random: RandomSource;
  /**
   * Followers wait a randomized [electionTimeoutTicks, electionTimeoutTicksMax] ticks without
   * hearing from a leader before campaigning; the leader lease (check-quorum) is
   * electionTimeoutTicks.
   */
  electionTimeoutTicks?: number;
  /** Default 2 * electionTimeoutTicks - 1. */
  electionTimeoutTicksMax?: number;
  /**
   * A (pre-)candidate whose campaign has not made a leader after a randomized
   * [campaignRetryTicks, 2 * campaignRetryTicks] ticks campaigns again (a split vote, a lost
   * vote or response, pre-votes dropped by followers whose lease had not yet run out), instead
   * of waiting a whole election timeout; each round of the campaign whose votes arrived after
   * it was given up makes the later retries campaignRetryTicks longer, up to an election
   * timeout, so that votes slower than the retry still arrive in time. Default max(2,
   * ceil(electionTimeoutTicks / 10)).
   */
  campaignRetryTicks?: number;
  heartbeatTimeoutTicks?: number;
  /** Index the application's state machine has already applied (restart). */
  appliedIndex?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Upper bound of entry bytes in one append message (at least one entry is always sent). */
  messageBytesMax?: number;
  /** Append messages in flight per follower in replicate state before the leader pauses. */
  inflightMessagesMax?: number;
  /** Upper bound of committed entry bytes handed out by one Ready. */
  committedBytesPerReadyMax?: number;
  /** Upper bound of read-index requests waiting at the leader. */
  pendingReadsMax?: number;
  /** Upper bound of entries one propose() call may append. */
  proposalEntriesMax?: number;
  /** Upper bound of entries a leader holds uncommitted before refusing proposals ("overloaded"). */
  uncommittedEntriesMax?: number;
}

/** Defaults with the reason for each value. */
export const raftDefaults = {
  electionTimeoutTicks: 10, // 10 heartbeats: tolerates several lost heartbeats before an election
  heartbeatTimeoutTicks: 1,
  messageBytesMax: 1024 * 1024, // 1 MiB: large enough to batch, small enough not to stall a TCP peer
  inflightMessagesMax: 256, // pipelining depth; bounds leader memory per follower to 256 MiB worst case
  committedBytesPerReadyMax: 64 * 1024 * 1024, // bounds one apply batch
  pendingReadsMax: 4096, // a client burst beyond this is refused ("overloaded") instead of queued
  proposalEntriesMax: 10_000, // one propose() batch; a group-commit cycle should stay below this
  uncommittedEntriesMax: 100_000, // a leader cut off from its quorum stops growing its log here
} as const;

export type ProposeFailure = "not_leader" | "transferring" | "config_pending" | "too_many_entries" | "overloaded" | "invalid";

export type ProposeResult =
  | { ok: true; term: number; firstIndex: number; lastIndex: number }
  | { ok: false; reason: ProposeFailure; leader: NodeId; detail?: string };

export type ReadIndexResult = { ok: true } | { ok: false; reason: "not_leader" | "overloaded"; leader: NodeId };

export type TransferResult = { ok: true } | { ok: false; reason: "not_leader" | "invalid_target"; leader: NodeId };

interface PendingRead {
  seq: number;
  index: number;
  context: Uint8Array;
  acks: Set<NodeId>;
}

type CampaignKind = "preVote" | "vote" | "transfer";

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = "follower";
  readonly log: RaftLog;
  membership: Membership;
  progress = new Map<NodeId, Progress>();
  /** Outbox: taken by RawNode.ready(). */
  msgs: Message[] = [];
  /** Confirmed reads: taken by RawNode.ready(). */
  readStates: ReadState[] = [];

  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /**
   * Rounds of this campaign given up before a vote for them arrived (campaignRetryTimeout): each
   * makes the retry one campaignRetryTicks longer. 0 as a follower.
   */
  private lateRounds = 0;
  /** A vote for the current round's term came after the round was given up (counted once). */
  private lateVoteSeen = false;
  leadTransferee: NodeId = NONE;
  /** Index of the latest config entry the leader proposed (or its last index at election). */
  private pendingConfigIndex = 0;
  /** Reads waiting for the leader's first commit in its term. */
  private readsBeforeCommit: Uint8Array[] = [];
  /** Reads waiting for a quorum heartbeat round, in seq order. */
  private readQueue: PendingRead[] = [];
  private readSeq = 0;
  /** The leader that sent the pending catch-up (a source for the ledger range). */
  catchupSource: NodeId = NONE;
  /**
   * The highest commit index a leader has told this node (its own on the leader): how far a
   * follower whose log is behind trails the cluster (GET /ready's caught-up check). Commit
   * indexes never go back cluster-wide, so it is kept across terms.
   */
  leaderCommit = 0;

  private readonly random: RandomSource;
  readonly electionTimeoutTicks: number;
  readonly electionTimeoutTicksMax: number;
  readonly campaignRetryTicks: number;
  private readonly heartbeatTimeoutTicks: number;
  private readonly preVote: boolean;
  readonly checkQuorum: boolean;
  private readonly messageBytesMax: number;
  private readonly inflightMessagesMax: number;
  readonly committedBytesPerReadyMax: number;
  private readonly pendingReadsMax: number;
  private readonly proposalEntriesMax: number;
  private readonly uncommittedEntriesMax: number;

  constructor(config: RaftConfig) {
    assert(Number.isSafeInteger(config.id) && config.id > 0, `node id must be a positive integer, got ${config.id}`);
    this.id = config.id;
    this.random = config.random;
    this.electionTimeoutTicks = config.electionTimeoutTicks ?? raftDefaults.electionTimeoutTicks;
    this.electionTimeoutTicksMax = config.electionTimeoutTicksMax ?? 2 * this.electionTimeoutTicks - 1;
    assert(this.electionTimeoutTicksMax >= this.electionTimeoutTicks, `need electionTimeoutTicks ${this.electionTimeoutTicks} <= electionTimeoutTicksMax ${this.electionTimeoutTicksMax}`);
    this.campaignRetryTicks = config.campaignRetryTicks ?? Math.max(2, Math.ceil(this.electionTimeoutTicks / 10));
    assert(this.campaignRetryTicks >= 1, `campaignRetryTicks must be at least 1, got ${this.campaignRetryTicks}`);
    this.heartbeatTimeoutTicks = config.heartbeatTimeoutTicks ?? raftDefaults.heartbeatTimeoutTicks;
    assert(this.heartbeatTimeoutTicks > 0 && this.electionTimeoutTicks > this.heartbeatTimeoutTicks, "need 0 < heartbeat < election timeout");
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.messageBytesMax = config.messageBytesMax ?? raftDefaults.messageBytesMax;
    this.inflightMessagesMax = config.inflightMessagesMax ?? raftDefaults.inflightMessagesMax;
    this.committedBytesPerReadyMax = config.committedBytesPerReadyMax ?? raftDefaults.committedBytesPerReadyMax;
    this.pendingReadsMax = config.pendingReadsMax ?? raftDefaults.pendingReadsMax;
    this.proposalEntriesMax = config.proposalEntriesMax ?? raftDefaults.proposalEntriesMax;
    this.uncommittedEntriesMax = config.uncommittedEntriesMax ?? raftDefaults.uncommittedEntriesMax;
    const initial = config.storage.initialState();
    this.membership = copyMembership(initial.membership);
    this.log = new RaftLog(config.storage, initial.hardState.commit, config.appliedIndex ?? 0);
    this.becomeFollower(initial.hardState.term, NONE);
    this.vote = initial.hardState.vote;
  }

  // ---- queries ----------------------------------------------------------------------------

  isVoter(id: NodeId): boolean {
    return this.membership.voters.includes(id);
  }

  private promotable(): boolean {
    return this.isVoter(this.id);
  }

  private quorum(): number {
    return Math.floor(this.membership.voters.length / 2) + 1;
  }

  private committedInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  private inLease(): boolean {
    return this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeoutTicks;
  }

  private hasUnappliedConfig(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (lo > this.log.committed) return false;
    const entries = this.log.slice(lo, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    return entries.some((e) => e.type === "config" && e.index > this.membership.index);
  }

  // ---- state transitions ------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, `term went backwards: ${this.term} -> ${term}`);
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeoutTicks + this.random.int(this.electionTimeoutTicksMax - this.electionTimeoutTicks + 1);
    this.votes.clear();
    this.leadTransferee = NONE;
    this.readsBeforeCommit = [];
    this.readQueue = [];
    this.progress.clear();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lateRounds = 0;
    this.role = "follower";
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    assert(this.role !== "leader", "leader cannot become pre-candidate");
    // Pre-vote does not change term or vote: a partitioned node cannot disrupt the cluster.
    // A retry of the pre-vote asks for the same term again, so the pre-votes it was granted still
    // stand (only a leader heard of since could change a voter's mind, and then its real vote
    // says so): keep them, drop the refusals, so that the phase ends once each voter has answered
    // some round, not when one round's answers all arrive before its retry.
    if (this.role === "preCandidate") {
      for (const [id, granted] of this.votes) if (!granted) this.votes.delete(id);
    } else this.votes.clear();
    this.role = "preCandidate";
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    assert(this.role !== "leader", "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", `only a candidate becomes leader (was ${this.role})`);
    this.reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    this.rebuildProgress(false);
    // Config entries already in our log must be applied before a new change is accepted.
    this.pendingConfigIndex = this.log.lastIndex();
    this.appendEntries([{ type: "normal", data: new Uint8Array(0) }]);
  }

  /** Progress for every member; keeps existing ones. `activeNew`: count new members as heard from. */
  private rebuildProgress(activeNew: boolean): void {
    const next = this.log.lastIndex() + 1;
    const wanted = [...this.membership.voters.map((id) => [id, false] as const), ...this.membership.learners.map((id) => [id, true] as const)];
    const kept = new Map<NodeId, Progress>();
    for (const [id, isLearner] of wanted) {
      const existing = this.progress.get(id);
      if (existing) {
        existing.isLearner = isLearner;
        kept.set(id, existing);
      } else {
        const pr = new Progress(next, this.inflightMessagesMax, isLearner);
        if (id === this.id) pr.match = this.log.lastIndex();
        pr.recentActive = activeNew || id === this.id;
        kept.set(id, pr);
      }
    }
    this.progress = kept;
  }

  // ---- time -------------------------------------------------------------------------------

  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.preVote ? "preVote" : "vote");
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE); // check-quorum: no quorum heard from, step down
        return;
      }
      this.leadTransferee = NONE; // a transfer not done within an election timeout is aborted
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeoutTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Counts voters heard from since the last round (self included), then clears the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      if (id === this.id || pr.recentActive) active++;
      if (id !== this.id) pr.recentActive = false;
    }
    return active >= this.quorum();
  }

  // ---- elections --------------------------------------------------------------------------

  /** Starts an election now (as a timeout would). */
  campaign(): void {
    this.hup(this.preVote ? "preVote" : "vote");
  }

  private hup(kind: CampaignKind): void {
    if (this.role === "leader") return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfig()) return; // campaign only with the latest committed membership
    if (kind === "preVote") this.becomePreCandidate();
    else this.becomeCandidate();
    // The leader's failure was detected already (or a transfer asked for this campaign): if
    // this round makes no leader (split vote, lost messages, a lease not yet run out), retry
    // after a short randomized time, not a whole election timeout (docs/RAFT.md, "How long an
    // election takes"). Only with pre-vote: it turns a node whose log is behind back into a
    // follower with a whole timeout, where without it such a node would raise everyone's term
    // at every quick retry and could keep the others from ever winning.
    this.electionElapsed = 0;
    this.lateVoteSeen = false;
    if (this.preVote) this.randomizedElectionTimeout = this.campaignRetryTimeout();
    const voteTerm = kind === "preVote" ? this.term + 1 : this.term;
    const type: MessageType = kind === "preVote" ? "preVote" : "vote";
    if (this.recordVote(this.id, true)) return;
    for (const id of this.membership.voters) {
      if (id === this.id) continue;
      const m = emptyMessage(type, this.id, id, voteTerm);
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      m.transfer = kind === "transfer";
      this.msgs.push(m);
    }
  }

  /**
   * Ticks before this round is tried again: [r, 2r] (r = campaignRetryTicks), plus r for each
   * round of this campaign whose votes came after it was given up, the shortest wait at most an
   * election timeout. A retry abandons the votes still on their way, and a vote round's term is
   * its own: with a fixed wait, votes that always take longer than it (a slow network, voters'
   * slow fsyncs, a candidate whose clock runs fast) would never elect anyone. Rounds that fail
   * for other reasons (a split vote, pre-votes ignored under a lease that has not run out) keep
   * the quick retry.
   */
  private campaignRetryTimeout(): number {
    const r = this.campaignRetryTicks;
    const shortest = Math.min(r * (1 + this.lateRounds), Math.max(r, this.electionTimeoutTicks));
    return shortest + this.random.int(r + 1);
  }

  /** A granted vote for a round this (pre-)candidate gave up: its round trips outlast its retry. */
  private noteLateVote(): void {
    if ((this.role !== "candidate" && this.role !== "preCandidate") || this.lateVoteSeen) return;
    this.lateVoteSeen = true;
    this.lateRounds++;
  }

  /** Records a vote; returns true when the election was decided (won or lost). */
  private recordVote(id: NodeId, granted: boolean): boolean {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const [voter, g] of this.votes) {
      if (!this.isVoter(voter)) continue;
      if (g) yes++;
      else no++;
    }
    const q = this.quorum();
    if (yes >= q) {
      if (this.role === "preCandidate") this.hup("vote");
      else {
        this.becomeLeader();
        this.broadcastAppend();
      }
      return true;
    }
    if (no > this.membership.voters.length - q) {
      this.becomeFollower(this.term, NONE);
      return true;
    }
    return false;
  }

  // ---- message handling -------------------------------------------------------------------

  step(m: Message): void {
    // Network input: a misaddressed or incomplete message is dropped, never an assertion.
    if (m.to !== this.id || m.from === this.id || m.from <= 0) return;
    if (m.type === "catchup" && m.catchup === null) return;
    if (m.term > this.term) {
      if ((m.type === "vote" || m.type === "preVote") && !m.transfer && this.inLease()) {
        return; // check-quorum lease: we heard from a live leader recently; ignore the disruptor
      }
      if (m.type === "preVote" || (m.type === "preVoteResponse" && !m.reject)) {
        // Pre-vote never changes our term; a granted pre-vote carries the future term.
      } else if (m.type === "append" || m.type === "heartbeat" || m.type === "catchup") {
        this.becomeFollower(m.term, m.from);
      } else if (m.type === "vote") {
        // Figure 2: only granting a vote resets the election timer, not seeing a higher term;
        // otherwise a node with a stale log that keeps campaigning (fast clock, no pre-vote)
        // would hold everyone else's timers back forever.
        const elapsed = this.electionElapsed;
        const timeout = this.randomizedElectionTimeout;
        this.becomeFollower(m.term, NONE);
        this.electionElapsed = elapsed;
        this.randomizedElectionTimeout = timeout;
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === "voteResponse" && !m.reject) this.noteLateVote();
      if (m.type === "append" || m.type === "heartbeat" || m.type === "catchup") {
        // Figure 2: reply with our term so a stale leader steps down (with pre-vote it could
        // otherwise never learn it, since our term no longer rises through its votes).
        this.send(emptyMessage("appendResponse", this.id, m.from, this.term));
      } else if (m.type === "preVote") {
        const r = emptyMessage("preVoteResponse", this.id, m.from, this.term);
        r.reject = true;
        this.send(r);
      }
      return;
    }

    if (m.type === "vote" || m.type === "preVote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === "preVote" && m.term > this.term);
    const responseType: MessageType = m.type === "vote" ? "voteResponse" : "preVoteResponse";
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(emptyMessage(responseType, this.id, m.from, m.term));
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const r = emptyMessage(responseType, this.id, m.from, this.term);
      r.reject = true;
      this.send(r);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "append":
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.leaderCommit = Math.max(this.leaderCommit, m.commit);
        if (m.type === "append") this.handleAppend(m);
        else this.handleHeartbeat(m);
        break;
      case "catchup":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.leaderCommit = Math.max(this.leaderCommit, m.catchup!.index);
        this.handleCatchup(m);
        break;
      case "timeoutNow":
        this.hup("transfer");
        break;
      default:
        break; // stale responses
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "append":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        break;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case "catchup":
        this.becomeFollower(m.term, m.from);
        this.handleCatchup(m);
        break;
      case "voteResponse":
        if (this.role === "candidate") this.recordVote(m.from, !m.reject);
        else if (!m.reject) this.noteLateVote(); // the vote round of this term was given up
        break;
      case "preVoteResponse":
        if (this.role === "preCandidate") this.recordVote(m.from, !m.reject);
        break;
      default:
        break;
    }
  }

  private handleAppend(m: Message): void {
    const r = emptyMessage("appendResponse", this.id, m.from, this.term);
    if (m.index < this.log.committed) {
      r.index = this.log.committed;
      this.send(r);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew >= 0) {
      r.index = lastNew;
    } else {
      const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
      r.reject = true;
      r.index = m.index;
      r.rejectHint = hint.index;
      r.logTerm = hint.term;
    }
    this.send(r);
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    const r = emptyMessage("heartbeatResponse", this.id, m.from, this.term);
    r.readSeq = m.readSeq;
    this.send(r);
  }

  private handleCatchup(m: Message): void {
    const info = m.catchup;
    assert(info !== null, "catchup message without catchup info");
    const r = emptyMessage("appendResponse", this.id, m.from, this.term);
    if (info.index <= this.log.committed) {
      r.index = this.log.committed;
    } else if (this.log.matchTerm(info.index, info.term)) {
      this.log.commitTo(info.index); // we already hold the entries: fast-forward
      r.index = this.log.committed;
    } else {
      this.log.restore({ index: info.index, term: info.term, membership: copyMembership(info.membership) });
      this.catchupSource = m.from;
      if (info.membership.index >= this.membership.index) this.membership = copyMembership(info.membership);
      r.index = this.log.lastIndex();
    }
    this.send(r);
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case "appendResponse":
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        break;
      case "heartbeatResponse":
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === "catchup") pr.becomeProbe(); // retry a catch-up that may have been lost
        if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne(); // responses may be lost
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.readSeq > 0) this.ackRead(m.readSeq, m.from);
        break;
      default:
        break;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "catchup" && pr.match >= pr.pendingCatchup) pr.becomeReplicate();
      else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
      if (this.maybeCommit()) this.broadcastAppend();
      else if (wasPaused) this.sendAppend(m.from);
      while (this.sendAppend(m.from, false)) {
        // pipelining: keep sending while the in-flight window allows
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.send(emptyMessage("timeoutNow", this.id, m.from, this.term));
      }
    }
  }

  // ---- replication ------------------------------------------------------------------------

  private send(m: Message): void {
    this.msgs.push(m);
  }

  /** Sends an append (or a catch-up) to `to`; returns whether a message was sent. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.messageBytesMax);
    } catch (error) {
      if (!(error instanceof CompactedError)) throw error;
      return this.sendCatchup(to, pr);
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m = emptyMessage("append", this.id, to, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = entries;
    m.commit = this.log.committed;
    this.send(m);
    pr.sentEntries(entries.length > 0 ? entries[entries.length - 1]!.index : prevIndex, entries.length);
    return true;
  }

  private sendCatchup(to: NodeId, pr: Progress): boolean {
    const index = this.log.firstIndex() - 1;
    const m = emptyMessage("catchup", this.id, to, this.term);
    m.catchup = { index, term: this.log.term(index), membership: copyMembership(this.membership) };
    this.send(m);
    pr.becomeCatchup(index);
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private broadcastHeartbeat(): void {
    const seq = this.readQueue.length > 0 ? this.readQueue[this.readQueue.length - 1]!.seq : 0;
    this.sendHeartbeats(seq);
  }

  private sendHeartbeats(readSeq: number): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const m = emptyMessage("heartbeat", this.id, id, this.term);
      m.commit = Math.min(pr.match, this.log.committed); // never ahead of what the follower holds
      m.readSeq = readSeq;
      this.send(m);
    }
  }

  /** Leader: commit the highest index held by a quorum of voters, if from the current term. */
  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const id of this.membership.voters) matches.push(this.progress.get(id)?.match ?? 0);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const quorumIndex = matches[this.quorum() - 1]!;
    const committed = this.log.maybeCommit(quorumIndex, this.term);
    if (committed) this.releaseReadsBeforeCommit();
    return committed;
  }

  private appendEntries(items: readonly { type: Entry["type"]; data: Uint8Array }[]): { first: number; last: number } {
    const first = this.log.lastIndex() + 1;
    const entries = items.map((item, i) => ({ term: this.term, index: first + i, type: item.type, data: item.data }));
    const last = this.log.append(entries);
    // The leader's own copy counts toward a quorum only once it is durable (selfStable), so the
    // application may send appends to followers before it persists the leader's log.
    return { first, last };
  }

  /**
   * The application persisted the log up to `index` (RawNode.advance). A leader counts its own
   * copy now, which may commit entries; the new commit index is then sent to the followers.
   */
  selfStable(index: number): void {
    if (this.role !== "leader") return;
    const pr = this.progress.get(this.id);
    if (pr?.maybeUpdate(index) && this.maybeCommit()) this.broadcastAppend();
  }

  /** True while this node leads and is the only voter: its own disk is the whole quorum. */
  soleVoterLeader(): boolean {
    return this.role === "leader" && this.membership.voters.length === 1 && this.membership.voters[0] === this.id;
  }

  /**
   * Sole voter only (RawNode.ready): commits the whole log, unstable tail included, because the
   * Ready about to be handed out persists that tail together with the hard state carrying this
   * commit index (the contract's "sole voter" exception): once that write is durable, the
   * entries are on a quorum (this node). Nothing is applied or answered before the write, and a
   * crash before it loses the entries and the commit index together. Returns true if the commit
   * index moved.
   */
  commitOnPersist(): boolean {
    if (!this.soleVoterLeader()) return false;
    const committed = this.log.maybeCommit(this.log.lastIndex(), this.term);
    if (committed) this.releaseReadsBeforeCommit();
    return committed;
  }

  /**
   * A read index that needs no round, or undefined: a sole voter that leads and has committed an
   * entry of its term knows every committed entry (nothing commits without it), so its commit
   * index is what a ReadIndex round would confirm. Serve the read once applied reaches it.
   */
  localReadIndex(): number | undefined {
    return this.soleVoterLeader() && this.committedInCurrentTerm() ? this.log.committed : undefined;
  }

  // ---- client requests --------------------------------------------------------------------

  propose(data: readonly Uint8Array[]): ProposeResult {
    if (this.role !== "leader") return { ok: false, reason: "not_leader", leader: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, reason: "transferring", leader: this.lead };
    if (data.length === 0) return { ok: false, reason: "invalid", leader: this.lead, detail: "empty proposal" };
    if (data.length > this.proposalEntriesMax) {
      return { ok: false, reason: "too_many_entries", leader: this.lead, detail: `${data.length} > ${this.proposalEntriesMax}` };
    }
    const uncommitted = this.log.lastIndex() - this.log.committed;
    if (uncommitted + data.length > this.uncommittedEntriesMax) {
      return { ok: false, reason: "overloaded", leader: this.lead, detail: `${uncommitted} entries uncommitted` };
    }
    const { first, last } = this.appendEntries(data.map((d) => ({ type: "normal" as const, data: d })));
    this.broadcastAppend();
    return { ok: true, term: this.term, firstIndex: first, lastIndex: last };
  }

  proposeConfigChange(change: ConfigChange): ProposeResult {
    if (this.role !== "leader") return { ok: false, reason: "not_leader", leader: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, reason: "transferring", leader: this.lead };
    if (this.pendingConfigIndex > this.log.applied) return { ok: false, reason: "config_pending", leader: this.lead };
    const invalid = validateConfigChange(this.membership, change);
    if (invalid) return { ok: false, reason: "invalid", leader: this.lead, detail: invalid };
    // The leader's membership is current (no change pending), so the result is exact.
    const after = applyConfigChange(this.membership, change, 0);
    const { first, last } = this.appendEntries([{ type: "config", data: encodeConfigChange(change, after) }]);
    this.pendingConfigIndex = last;
    this.broadcastAppend();
    return { ok: true, term: this.term, firstIndex: first, lastIndex: last };
  }

  readIndex(context: Uint8Array): ReadIndexResult {
    if (this.role !== "leader") return { ok: false, reason: "not_leader", leader: this.lead };
    if (this.readsBeforeCommit.length + this.readQueue.length >= this.pendingReadsMax) {
      return { ok: false, reason: "overloaded", leader: this.lead };
    }
    if (!this.committedInCurrentTerm()) this.readsBeforeCommit.push(context);
    else this.startRead(context);
    return { ok: true };
  }

  private startRead(context: Uint8Array): void {
    const index = this.log.committed;
    if (this.membership.voters.length === 1 && this.isVoter(this.id)) {
      this.readStates.push({ index, context });
      return;
    }
    const seq = ++this.readSeq;
    this.readQueue.push({ seq, index, context, acks: new Set([this.id]) });
    this.sendHeartbeats(seq);
  }

  private releaseReadsBeforeCommit(): void {
    if (this.readsBeforeCommit.length === 0 || !this.committedInCurrentTerm()) return;
    const waiting = this.readsBeforeCommit;
    this.readsBeforeCommit = [];
    for (const context of waiting) this.startRead(context);
  }

  private ackRead(seq: number, from: NodeId): void {
    const position = this.readQueue.findIndex((r) => r.seq === seq);
    if (position < 0) return;
    const request = this.readQueue[position]!;
    if (this.isVoter(from)) request.acks.add(from);
    let acked = 0;
    for (const id of request.acks) if (this.isVoter(id)) acked++;
    if (acked < this.quorum()) return;
    // Leadership was confirmed after every earlier request was registered: release them all.
    for (const r of this.readQueue.splice(0, position + 1)) this.readStates.push({ index: r.index, context: r.context });
  }

  transferLeadership(target: NodeId): TransferResult {
    if (this.role !== "leader") return { ok: false, reason: "not_leader", leader: this.lead };
    if (target === this.id || !this.isVoter(target)) return { ok: false, reason: "invalid_target", leader: this.lead };
    this.leadTransferee = target;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.send(emptyMessage("timeoutNow", this.id, target, this.term));
    else this.sendAppend(target);
    return { ok: true };
  }

  // ---- membership -------------------------------------------------------------------------

  /** Applies the committed config entries among `entries` (called when they are applied). */
  applyCommittedConfig(entries: readonly Entry[]): void {
    let changed = false;
    for (const entry of entries) {
      if (entry.type !== "config" || entry.index <= this.membership.index) continue;
      this.membership = membershipOfConfigEntry(entry.data, entry.index);
      changed = true;
    }
    if (!changed || this.role !== "leader") return;
    if (!this.isVoter(this.id)) {
      this.becomeFollower(this.term, NONE); // a removed leader steps down; the rest elect anew
      return;
    }
    if (this.leadTransferee !== NONE && !this.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    this.rebuildProgress(true);
    this.maybeCommit();
    this.broadcastAppend();
  }

  /** The leader's view of a follower (for metrics and tests). */
  progressOf(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  /**
   * Leader only: the transport lost its connection to `id`. Appends pipelined into it are
   * probably lost, so stop pipelining and probe from the last acknowledged index.
   */
  reportUnreachable(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role === "leader" && pr && pr.state === "replicate") pr.becomeProbe();
  }

  /** Leader only: moves a follower in catch-up back to probing (its install failed). */
  reportCatchupFailed(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role === "leader" && pr && pr.state === "catchup") {
      pr.becomeProbe();
      pr.probeSent = true; // wait for the next heartbeat response before retrying
    }
  }
}
