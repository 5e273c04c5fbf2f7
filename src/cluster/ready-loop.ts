/**
 * @module ready-loop. The driver of the Raft core: the one place that decides what is persisted,
 * sent, applied and answered, and in which order. Generic over the core (RawNode), a replica
 * store (the Raft log + the state machine behind ONE atomic persist-and-apply step), a message
 * sender and the waiters (their contracts: ready-contracts.ts), so the node (cluster-node.ts:
 * SQLite, TCP) and the seeded simulator (test/raft/sim: memory store with crash semantics,
 * simulated network and clock) run this same code.
 *
 * One cycle (`cycle()`; the node runs it on setImmediate after any tick, message or request):
 *   1. queued proposals → ONE `propose()` call (group commit); queued reads → ONE `readIndex()`;
 *   2. for each Ready, in this order:
 *      a. catch-up, if the Ready carries one: the store brings the state machine to its index and
 *         restarts the log after it, durably (may be async: the node fetches a ledger range);
 *      b. EARLY SEND — the exception to the Ready contract (src/raft/raw-node.ts): while leading,
 *         and unless the Ready changes term or vote, the leader's `append`, `heartbeat`, `catchup`
 *         and `timeoutNow` messages leave before its own fsync. They promise nothing about the
 *         leader's disk: the core counts the leader's own copy toward a quorum only once advance()
 *         reports it durable (`Raft.selfStable`), so followers persist in parallel with the leader;
 *      c. PERSIST AND APPLY — one atomic step (one SQLite transaction in the node): the new log
 *         entries, the hard state, the membership AND the committed entries applied to the state
 *         machine with the applied index. Applying in persist's transaction is allowed because
 *         only committed entries are applied. It must be fsync'd (`sync`) when it holds new
 *         entries, a membership, or a new term or vote; a step that only applies committed
 *         entries (and moves the commit index) needs none: after a crash the durable log is
 *         re-applied from the recorded applied point. A sole voter's Ready may apply the very
 *         entries it persists (they commit with this write: src/raft/raw-node.ts), which is why
 *         the entries, the hard state and the applied state are one write. A store may flush a
 *         `sync` step in the background (`pendingFlush`): it counts as persisted only once the
 *         flush is done (d-f wait, the cycle stays running, the thread serves meanwhile), but
 *         what it applied was durable on a majority before it, so e's answers to those
 *         proposers and applied-index waits go at once;
 *      d. LATE SEND: every other message (votes, vote and append responses, anything of a Ready
 *         that changed term or vote) — only now is what they promise durable;
 *      e. answer proposers whose entries were applied, applied-index waits, and reads whose
 *         ReadState arrived; a node that stopped leading refuses its queued requests;
 *      f. advance() the core; report the soft state to leader waits; compact the log if due.
 * A failure anywhere (storage error, broken invariant) is fatal: the loop stops, every pending
 * request is aborted, and `onFatal` decides what happens to the process. The loop never exits it.
 *
 * Storage stalls (issue 16; storage-stall.ts has the details): a full disk is a state, not a
 * failure. With a StorageGate (the node's storage-state.ts; none in the simulator) the gate may
 * refuse all queued proposals of a group commit (507, nothing appended); a persist step refused
 * for lack of space, or a follower's append while the gate holds appends, is kept and retried
 * after a backoff, the Ready not advanced meanwhile.
 */

import { ScribeError } from "../lib/index.ts";
import type { CatchupInstall, Entry, HardState, Message, MessageType, Ready } from "../raft/index.ts";
import type { DeadlineQueue } from "./deadlines.ts";
import type { MessageSender, RaftCore, ReplicaStore } from "./ready-contracts.ts";
import { ProposalQueue, ReadQueue, type ProposalLimits, type ProposalOutcome, type ReadOutcome } from "./requests.ts";
import { StorageStalls, type StorageGate } from "./storage-stall.ts";
import type { Waiters } from "./waiters.ts";

/** A Ready between its early send and its persist step: what the persist step and the rest need. */
interface PendingPersist {
  rd: Ready;
  late: readonly Message[];
  apply: readonly Entry[];
  sync: boolean;
}

/**
 * Bugs the tests plant in the loop to prove the simulator catches them. Never set in production.
 * - sendBeforePersist: every message leaves before the Ready is persisted;
 * - voteBeforePersist: votes and vote responses leave before the term and vote are persisted;
 * - ackBeforeDurable: proposers are answered once their entry is in the local log, before commit;
 * - applyBeforeCommit: new log entries are applied to the state machine before they commit;
 * - localReads: reads are answered with the local applied index, without a read index round.
 */
export type DriverBug = "sendBeforePersist" | "voteBeforePersist" | "ackBeforeDurable" | "applyBeforeCommit" | "localReads";

export interface ReadyLoopOptions<R> {
  core: RaftCore;
  store: ReplicaStore<R>;
  sender: MessageSender;
  waiters: Waiters;
  /** The hard state the store holds when the loop starts (to tell when a Ready changes term or vote). */
  hardState: HardState;
  limits: ProposalLimits;
  /** Called after each Ready was advanced (the node syncs peers, promotes learners, ...). */
  onAdvance?: (rd: Ready) => void;
  /** Called once when the loop failed; the loop has stopped and aborted every pending request. */
  onFatal?: (error: unknown) => void;
  /** A full disk as a state to wait out (module comment, "Storage stalls"); absent: every storage error is fatal. */
  storage?: StorageGate;
  /** Tests only: plants a bug (see DriverBug). */
  plantedBug?: DriverBug;
}

/** Messages a leader may send before persisting its own log (step b of the module comment). */
const earlyLeaderTypes: ReadonlySet<MessageType> = new Set(["append", "heartbeat", "catchup", "timeoutNow"]);
const voteTypes: ReadonlySet<MessageType> = new Set(["vote", "voteResponse", "preVote", "preVoteResponse"]);

export class ReadyLoop<R> {
  readonly proposals: ProposalQueue<R>;
  readonly reads: ReadQueue;
  readonly counters = { readies: 0, catchups: 0 };
  private readonly core: RaftCore;
  private readonly store: ReplicaStore<R>;
  private readonly sender: MessageSender;
  private readonly waiters: Waiters;
  private readonly deadlines: DeadlineQueue;
  private readonly bug: DriverBug | undefined;
  private lastHardState: HardState;
  private busy = false;
  private stoppedBy: ScribeError | undefined;
  /** A persist step waiting for the disk (module comment, "Storage stalls"; storage-stall.ts). */
  private readonly stalls: StorageStalls<PendingPersist>;

  constructor(private readonly options: ReadyLoopOptions<R>) {
    this.core = options.core;
    this.store = options.store;
    this.sender = options.sender;
    this.waiters = options.waiters;
    this.deadlines = options.waiters.deadlines;
    this.bug = options.plantedBug;
    this.lastHardState = { ...options.hardState };
    this.proposals = new ProposalQueue<R>(this.deadlines, options.limits);
    this.reads = new ReadQueue(this.deadlines);
    this.stalls = new StorageStalls({ gate: options.storage, proposals: this.proposals, reads: this.reads, nowMs: () => this.deadlines.nowMs() });
  }

  /** Queues a proposal for the next cycle; `done` is called once with its outcome. */
  propose(data: Uint8Array, weight: number, deadlineMs: number, done: (outcome: ProposalOutcome<R>) => void): void {
    if (this.stoppedBy) return done({ ok: false, error: this.stoppedBy });
    this.proposals.add(data, weight, deadlineMs, done);
  }

  /**
   * Queues a linearizable read; `done` gets the read index once a quorum confirmed it — at once
   * when `readNow()` has one (a sole voter needs no round).
   */
  read(deadlineMs: number, done: (outcome: ReadOutcome) => void): void {
    if (this.stoppedBy) return done({ ok: false, error: this.stoppedBy });
    const now = this.readNow();
    if (now !== undefined) return done({ ok: true, index: now });
    this.reads.add(deadlineMs, done);
  }

  /**
   * The read index of a read that can be served right now, with no round and no wait, or
   * undefined: the core has a local read index (a sole voter leading with an entry of its term
   * committed: src/raft/raft.ts localReadIndex) and the store has applied up to it. Applied >=
   * committed also means that nothing committed is still waiting for its write (a sole voter's
   * entries commit in the write that persists them).
   */
  readNow(): number | undefined {
    if (this.stoppedBy) return undefined;
    const index = this.core.localReadIndex();
    return index !== undefined && this.store.appliedIndex() >= index ? index : undefined;
  }

  /** True when a cycle has something to do. */
  hasWork(): boolean {
    return !this.stoppedBy && (this.proposals.queued > 0 || this.reads.queued > 0 || this.core.hasReady());
  }

  /** Why the loop stopped (shutdown or failure), or undefined while it runs. */
  get stopped(): ScribeError | undefined {
    return this.stoppedBy;
  }

  /** True while a persist step waits for the disk to take it (module comment, "Storage stalls"). */
  get storageStalled(): boolean {
    return this.stalls.stalled;
  }

  /** True while a cycle runs (a catch-up may keep it running across turns of the event loop). */
  get running(): boolean {
    return this.busy;
  }

  /**
   * One cycle (see the module comment). Synchronous unless a catch-up is installed
   * asynchronously, in which case the returned promise settles when the cycle is done.
   */
  cycle(): Promise<void> | undefined {
    if (this.busy || this.stoppedBy) return undefined;
    this.busy = true;
    let pending: Promise<void> | undefined;
    try {
      if (this.stalls.stalled && !this.retryStalled()) {
        this.busy = false;
        return undefined;
      }
      this.proposeAndRead();
      pending = this.drain();
    } catch (error) {
      this.busy = false;
      this.fail(error);
      return undefined;
    }
    if (!pending) {
      this.busy = false;
      return undefined;
    }
    return pending.then(
      () => {
        this.busy = false;
      },
      (error) => {
        this.busy = false;
        this.fail(error);
      },
    );
  }

  /** Stops the loop: aborts every pending request with `error` (shutdown). */
  stop(error: ScribeError): void {
    if (this.stoppedBy) return;
    this.stoppedBy = error;
    this.deadlines.abortAll(error);
    this.proposals.clear();
    this.reads.clear();
  }

  private fail(error: unknown): void {
    if (this.stoppedBy) return;
    const message = error instanceof Error ? error.message : String(error);
    this.stop(new ScribeError("unavailable", `the node's Raft driver failed (${message}); it must be restarted`));
    this.options.onFatal?.(error);
  }

  private proposeAndRead(): void {
    if (this.proposals.queued === 0 && this.reads.queued === 0) return;
    if (this.bug === "localReads") this.reads.answerLocally(this.store.appliedIndex());
    if (this.core.softState().role !== "leader") return this.refuseQueued();
    const refusal = this.proposals.queued > 0 ? this.options.storage?.admitProposals(this.proposals.queued) : undefined;
    if (refusal) this.proposals.failQueued(refusal);
    this.proposals.proposeTo((data) => this.core.propose(data));
    this.reads.requestFrom((context) => this.core.readIndex(context));
  }

  /** This node does not lead: queued requests are refused and retry through the new leader. */
  private refuseQueued(): void {
    if (this.proposals.queued === 0 && !this.reads.pending) return;
    const error = new ScribeError("not_leader", "leadership changed before the request was proposed; retry");
    this.proposals.failQueued(error);
    this.reads.failAll(error);
  }

  private drain(): Promise<void> | undefined {
    while (!this.stoppedBy && !this.stalls.stalled && this.core.hasReady()) {
      const rd = this.core.ready();
      this.counters.readies++;
      if (rd.catchup) {
        this.counters.catchups++;
        const installing = this.store.installCatchup(rd.catchup);
        if (installing) {
          return installing.then(() => {
            this.afterCatchup(rd.catchup!);
            return this.handleThenDrain(rd);
          });
        }
        this.afterCatchup(rd.catchup);
      }
      const flushing = this.handle(rd);
      if (flushing) return flushing.then(() => this.drain());
    }
    return undefined;
  }

  private handleThenDrain(rd: Ready): Promise<void> | undefined {
    const flushing = this.handle(rd);
    return flushing ? flushing.then(() => this.drain()) : this.drain();
  }

  private afterCatchup(catchup: CatchupInstall): void {
    this.proposals.skippedThrough(catchup.index);
    this.waiters.applied(this.store.appliedIndex());
  }

  /** Steps b-f of the module comment for one Ready; a promise while its flush is in flight. */
  private handle(rd: Ready): Promise<void> | undefined {
    if (this.stoppedBy) return undefined;
    const termOrVoteChanged = rd.hardState !== null && (rd.hardState.term !== this.lastHardState.term || rd.hardState.vote !== this.lastHardState.vote);
    const sync = rd.entries.length > 0 || rd.membership !== null || termOrVoteChanged;
    if (rd.hardState) this.lastHardState = rd.hardState;
    const [early, late] = this.splitMessages(rd.messages, termOrVoteChanged);
    this.sender.send(early);
    const apply = this.bug === "applyBeforeCommit" ? this.withUncommitted(rd) : rd.committedEntries;
    const written = this.persist({ rd, late, apply, sync }, true);
    return written instanceof Promise ? written : undefined;
  }

  /** Step c, then d-f once durable: true when done, a promise while the store flushes it, false if a full disk kept it. */
  private persist(p: PendingPersist, mayFlushLater: boolean): boolean | Promise<void> {
    const { rd, apply } = p;
    const gate = this.options.storage;
    let results: (R | undefined)[];
    try {
      const hold = gate && rd.entries.length > 0 && this.core.softState().role !== "leader" ? gate.holdAppend() : undefined;
      if (hold) {
        this.stalls.keep(p, hold);
        return false;
      }
      results = this.store.persistAndApply({ entries: rd.entries, hardState: rd.hardState, membership: rd.membership, apply, sync: p.sync, mayFlushLater });
    } catch (error) {
      if (!gate?.isFull(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      this.stalls.keep(p, new ScribeError("insufficient_storage", `the disk is full: SQLite could not write (${message})`));
      return false;
    }
    this.stalls.written();
    const flushing = p.sync ? this.store.pendingFlush?.() : undefined;
    if (!flushing) {
      this.afterPersist(p, results);
      return true;
    }
    // What the step applied was committed, i.e. durable on a majority, before it: its proposers
    // and applied-index waits need not wait for this step's own flush (its new entries do).
    this.answerApplied(p.apply, results);
    return flushing.then(() => this.afterPersist(p, undefined));
  }

  /** Answers the proposers of `apply` and the applied-index waits (step e). */
  private answerApplied(apply: readonly Entry[], results: readonly (R | undefined)[]): void {
    if (apply.length > 0) this.waiters.applied(this.store.appliedIndex());
    this.proposals.answer(apply, results);
  }

  /** Steps d-f for a Ready whose persist step is durable (`results` undefined: already answered). */
  private afterPersist(p: PendingPersist, results: readonly (R | undefined)[] | undefined): void {
    if (this.stoppedBy) return;
    const { rd } = p;
    this.sender.send(p.late);
    if (this.bug === "ackBeforeDurable") this.proposals.answerUnconfirmed(rd.entries);
    if (results) this.answerApplied(p.apply, results);
    this.reads.answer(rd.readStates);
    if (rd.softState && rd.softState.role !== "leader") this.refuseQueued();
    this.core.advance(rd);
    // Every Ready, not only one that reports a soft state: the core may have lost its leader and
    // found the same one again between two Readies, and a request waiting for it must see that.
    this.waiters.leaderChecked();
    if (rd.committedEntries.length > 0) this.store.compact();
    this.options.onAdvance?.(rd);
  }

  /** Retries the stalled step when due; true once it is written and the cycle may go on. */
  private retryStalled(): boolean {
    const pending = this.stalls.due();
    if (pending && this.persist(pending, false) === true) return true;
    this.stalls.refuseQueued();
    return false;
  }

  /** [early, late]: which messages may leave before the persist step (step b). */
  private splitMessages(messages: readonly Message[], termOrVoteChanged: boolean): [readonly Message[], readonly Message[]] {
    if (messages.length === 0) return [messages, messages];
    if (this.bug === "sendBeforePersist") return [messages, []];
    const leaderEarly = !termOrVoteChanged && this.core.softState().role === "leader";
    const votesEarly = this.bug === "voteBeforePersist";
    if (!leaderEarly && !votesEarly) return [[], messages];
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of messages) ((leaderEarly && earlyLeaderTypes.has(m.type)) || (votesEarly && voteTypes.has(m.type)) ? early : late).push(m);
    return [early, late];
  }

  /** Planted bug: the committed entries plus the new, uncommitted ones beyond them. */
  private withUncommitted(rd: Ready): Entry[] {
    const last = Math.max(this.store.appliedIndex(), rd.committedEntries.length > 0 ? rd.committedEntries[rd.committedEntries.length - 1]!.index : 0);
    return [...rd.committedEntries, ...rd.entries.filter((e) => e.index > last)];
  }
}
