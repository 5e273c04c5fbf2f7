/**
 * @module requests. The client requests the Ready loop (ready-loop.ts) serves:
 * - ProposalQueue: proposals wait in a queue until the next cycle hands ALL of them to one
 *   `propose()` call (group commit: one Raft entry each); a proposal is then in flight at its log
 *   index and is answered when the entry at that index is applied — with its result if the entry
 *   is the one proposed (same term), else with "lost to a leadership change" (another entry won
 *   the index, so ours can never commit);
 * - ReadQueue: linearizable reads wait until the next cycle asks the core for ONE read index for
 *   all of them, and are answered with it when the Ready carrying the matching ReadState applied.
 * Every request sits in the DeadlineQueue (deadlines.ts) until it settles. Answers are callbacks,
 * so the simulator runs the same code synchronously.
 *
 * A proposal's answer never claims more than the node knows (README, "Errors"):
 *   - refused before it was handed to the core (queue full, not leader, deadline or shutdown
 *     while still queued, storage below its reserve): a refusal, nothing was appended;
 *   - once handed to the core its entry may commit on other nodes even if this node never sees
 *     it, so a deadline, a shutdown, a driver failure, a storage stall or a catch-up past its index
 *     answer `outcome_unknown` (504);
 *   - another entry applied at its index (a different term) proves it can never commit: refused.
 */

import { ScribeError, toHex } from "../lib/index.ts";
import type { Entry, ProposeResult, ReadIndexResult, ReadState } from "../raft/index.ts";
import type { Deadline, DeadlineQueue } from "./deadlines.ts";

export type ProposalOutcome<R> = { ok: true; index: number; result: R | undefined } | { ok: false; error: ScribeError };
export type ReadOutcome = { ok: true; index: number } | { ok: false; error: ScribeError };

/** The answer to a proposal already handed to the core when `why` happened. */
function unknownAfter(why: string): ScribeError {
  return new ScribeError("outcome_unknown", `${why}; the write was already proposed and may still commit, so its outcome is unknown (retry it with the same Idempotency-Key)`);
}

function secondsUntil(deadlineMs: number, nowMs: number): number {
  return Math.max(0, Math.round((deadlineMs - nowMs) / 1000));
}

class Proposal<R> implements Deadline {
  slot = -1;
  settled = false;
  /** The log index once proposed (0 while queued) and the term it was proposed in. */
  index = 0;
  term = 0;

  constructor(
    readonly data: Uint8Array,
    readonly weight: number,
    readonly deadlineMs: number,
    readonly timeoutSecs: number,
    private readonly owner: ProposalQueue<R>,
    readonly done: (outcome: ProposalOutcome<R>) => void,
  ) {}

  expire(): void {
    const error =
      this.index > 0
        ? new ScribeError("outcome_unknown", `the write did not complete within ${this.timeoutSecs}s after it was proposed; it may still commit, so its outcome is unknown (retry it with the same Idempotency-Key)`)
        : new ScribeError("timeout", `the write was not proposed within ${this.timeoutSecs}s; nothing was appended`);
    this.owner.settle(this, { ok: false, error });
  }

  abort(error: ScribeError): void {
    // Once proposed, the entry may still commit on the other nodes: its outcome is unknown.
    this.owner.settle(this, { ok: false, error: this.index > 0 ? unknownAfter(error.message) : error });
  }
}

export interface ProposalLimits {
  /** Most proposals handed to one propose() call (the core refuses more in one call). */
  perCycleMax: number;
  /** Most weight (client operations) queued or in flight; past it proposals are refused (back-pressure). */
  weightMax: number;
}

export class ProposalQueue<R> {
  private queue: Proposal<R>[] = [];
  private readonly inflight = new Map<number, Proposal<R>>();
  /** Weight of proposals not yet answered (queued or in flight). */
  pendingWeight = 0;
  readonly counters = { proposals: 0, proposeCalls: 0, largestBatch: 0 };

  constructor(
    private readonly deadlines: DeadlineQueue,
    private readonly limits: ProposalLimits,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Queues a proposal; refuses it at once (unavailable) when the queue is full. */
  add(data: Uint8Array, weight: number, deadlineMs: number, done: (outcome: ProposalOutcome<R>) => void): void {
    if (this.pendingWeight + weight > this.limits.weightMax) {
      done({ ok: false, error: new ScribeError("unavailable", `write queue is full (${this.pendingWeight} operations waiting); retry later`) });
      return;
    }
    const proposal = new Proposal<R>(data, weight, deadlineMs, secondsUntil(deadlineMs, this.deadlines.nowMs()), this, done);
    this.pendingWeight += weight;
    this.deadlines.add(proposal);
    this.queue.push(proposal);
  }

  /** Hands the queued proposals (up to the per-cycle limit) to ONE propose() call. */
  proposeTo(propose: (data: Uint8Array[]) => ProposeResult): void {
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.limits.perCycleMax).filter((p) => !p.settled);
    if (batch.length === 0) return;
    const result = propose(batch.map((p) => p.data));
    if (!result.ok) {
      const error = new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `proposal refused: ${result.reason}${result.detail ? ` (${result.detail})` : ""}`);
      for (const p of batch) this.settle(p, { ok: false, error });
      return;
    }
    this.counters.proposals += batch.length;
    this.counters.proposeCalls++;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      p.index = result.firstIndex + i;
      p.term = result.term;
      this.inflight.set(p.index, p);
    }
  }

  /** Answers the proposals at the indexes of applied entries; `results` is aligned with `applied`. */
  answer(applied: readonly Entry[], results: readonly (R | undefined)[]): void {
    if (this.inflight.size === 0) return;
    for (let i = 0; i < applied.length; i++) {
      const entry = applied[i]!;
      const p = this.inflight.get(entry.index);
      if (!p) continue;
      this.inflight.delete(entry.index);
      if (p.term !== entry.term) {
        // Another term's entry committed at our index, and an entry never moves: ours never commits.
        this.settle(p, { ok: false, error: new ScribeError("unavailable", "the write was lost to a leadership change: another entry was committed at its log index, so it was not applied; retry") });
      } else {
        this.settle(p, { ok: true, index: entry.index, result: results[i] });
      }
    }
  }

  /**
   * A catch-up moved the applied index to `index` without handing out the entries up to it: the
   * proposals in flight there will not see their entry applied here, so their outcome is unknown.
   */
  skippedThrough(index: number): void {
    for (const [at, p] of this.inflight) {
      if (at > index) continue;
      this.inflight.delete(at);
      this.settle(p, { ok: false, error: unknownAfter("this node caught up past the write's log index without applying it itself") });
    }
  }

  /** Planted bug (tests only): answers proposals whose entries are merely in the local log. */
  answerUnconfirmed(entries: readonly Entry[]): void {
    for (const entry of entries) {
      const p = this.inflight.get(entry.index);
      if (p && p.term === entry.term) this.settle(p, { ok: true, index: entry.index, result: undefined });
    }
  }

  /** Refuses every queued (not yet proposed) proposal: it certainly did not happen. Returns how many. */
  failQueued(error: ScribeError): number {
    const queued = this.queue.splice(0).filter((p) => !p.settled);
    for (const p of queued) this.settle(p, { ok: false, error });
    return queued.length;
  }

  /** Answers every proposal in flight `outcome_unknown` because of `why` (their entries may still commit). */
  failInflight(why: string): void {
    const inflight = [...this.inflight.values()];
    this.inflight.clear();
    for (const p of inflight) this.settle(p, { ok: false, error: unknownAfter(why) });
  }

  /** Forgets every request after the deadline queue aborted them all (shutdown, failure). */
  clear(): void {
    this.queue = [];
    this.inflight.clear();
  }

  settle(p: Proposal<R>, outcome: ProposalOutcome<R>): void {
    if (p.settled) return;
    p.settled = true;
    this.pendingWeight -= p.weight;
    this.deadlines.remove(p);
    p.done(outcome);
  }
}

class ReadRequest implements Deadline {
  slot = -1;
  settled = false;

  constructor(
    readonly deadlineMs: number,
    private readonly timeoutSecs: number,
    private readonly deadlines: DeadlineQueue,
    private readonly done: (outcome: ReadOutcome) => void,
  ) {}

  settle(outcome: ReadOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.deadlines.remove(this);
    this.done(outcome);
  }

  expire(): void {
    this.settle({ ok: false, error: new ScribeError("timeout", `the read index did not complete within ${this.timeoutSecs}s; its outcome is unknown`) });
  }

  abort(error: ScribeError): void {
    this.settle({ ok: false, error });
  }
}

export class ReadQueue {
  private queue: ReadRequest[] = [];
  private readonly inflight = new Map<string, ReadRequest[]>();
  private seq = 0;
  readonly counters = { readIndexes: 0 };

  constructor(private readonly deadlines: DeadlineQueue) {}

  get queued(): number {
    return this.queue.length;
  }

  /** True while reads are queued or waiting for their read index. */
  get pending(): boolean {
    return this.queue.length > 0 || this.inflight.size > 0;
  }

  add(deadlineMs: number, done: (outcome: ReadOutcome) => void): void {
    const read = new ReadRequest(deadlineMs, secondsUntil(deadlineMs, this.deadlines.nowMs()), this.deadlines, done);
    this.deadlines.add(read);
    this.queue.push(read);
  }

  /** Asks for ONE read index for every queued read. */
  requestFrom(readIndex: (context: Uint8Array) => ReadIndexResult): void {
    if (this.queue.length === 0) return;
    const reads = this.queue.splice(0).filter((r) => !r.settled);
    if (reads.length === 0) return;
    const context = new Uint8Array(8);
    new DataView(context.buffer).setFloat64(0, ++this.seq);
    const result = readIndex(context);
    if (!result.ok) {
      const error = new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `read index refused: ${result.reason}`);
      for (const r of reads) r.settle({ ok: false, error });
      return;
    }
    this.counters.readIndexes++;
    this.inflight.set(toHex(context), reads);
  }

  /** Answers the reads whose read index a Ready confirmed. */
  answer(states: readonly ReadState[]): void {
    for (const state of states) {
      const key = toHex(state.context);
      const reads = this.inflight.get(key);
      if (!reads) continue;
      this.inflight.delete(key);
      for (const r of reads) r.settle({ ok: true, index: state.index });
    }
  }

  /** Planted bug (tests only): answers every queued read with the local applied index, no quorum. */
  answerLocally(appliedIndex: number): void {
    for (const r of this.queue.splice(0)) r.settle({ ok: true, index: appliedIndex });
  }

  /** Refuses queued and in-flight reads (this node stopped leading; they retry via the new leader). */
  failAll(error: ScribeError): void {
    for (const r of this.queue.splice(0)) r.settle({ ok: false, error });
    for (const reads of this.inflight.values()) for (const r of reads) r.settle({ ok: false, error });
    this.inflight.clear();
  }

  clear(): void {
    this.queue = [];
    this.inflight.clear();
  }
}
