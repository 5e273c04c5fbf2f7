/**
 * @module storage-stall. Storage stalls of the Ready loop (ready-loop.ts, "Storage stalls"): a full
 * disk is a state, not a failure. A persist step the loop could not write because the disk is full
 * (or, on a follower, because the gate holds appends) is kept and retried, the same step, after a
 * backoff, until it is written or the node stops. Nothing of the step was kept (one failed
 * transaction), so writing it later is writing it once. While a step is kept, what cannot wait is
 * settled: queued proposals are refused insufficient_storage (nothing of them was appended),
 * proposals in flight are answered outcome_unknown (their entries may still commit), queued reads
 * are refused unavailable. The gate (StorageGate, the node's storage-state.ts) is told.
 */

import { ScribeError } from "../lib/index.ts";
import type { ProposalQueue, ReadQueue } from "./requests.ts";

/** First pause before a stalled step is retried. */
export const stallRetryMsMin = 100;
/**
 * Longest pause between two retries: writes resume within this long after space returns, and a
 * full disk costs at most one failed transaction this often.
 */
export const stallRetryMsMax = 2000;

/**
 * The replica's storage as the loop consults it (see "Storage stalls" in ready-loop.ts). The
 * node's StorageState implements it; the simulator runs without one.
 */
export interface StorageGate {
  /** Per group commit, before `queued` proposals are handed to the core: a refusal refuses them all (nothing is appended). */
  admitProposals(queued: number): ScribeError | undefined;
  /** `count` proposals were refused insufficient_storage while a step waited for the disk. */
  refused(count: number): void;
  /** Before a step that appends entries this node did not propose (a follower's): a reason to wait instead of writing. */
  holdAppend(): ScribeError | undefined;
  /** Whether a persist failure is a full disk (the step is retried later) rather than a fatal failure. */
  isFull(error: unknown): boolean;
  /** The loop keeps a step it could not write, for `reason`; `resumed` once it wrote it after all. */
  stalled(reason: ScribeError): void;
  resumed(): void;
}

/** One kept step and its backoff. */
export class PersistStall<P> {
  attempts = 1;
  private retryAtMs: number;

  constructor(
    /** The step to write again. */
    readonly pending: P,
    nowMs: number,
  ) {
    this.retryAtMs = nowMs + stallRetryMsMin;
  }

  /** True once the backoff has passed. */
  due(nowMs: number): boolean {
    return nowMs >= this.retryAtMs;
  }

  /** A retry failed again: the next one waits twice as long, up to stallRetryMsMax. */
  failedAgain(nowMs: number): void {
    this.attempts++;
    this.retryAtMs = nowMs + Math.min(stallRetryMsMax, stallRetryMsMin * 2 ** (this.attempts - 1));
  }
}

export interface StorageStallsOptions {
  gate: StorageGate | undefined;
  proposals: Pick<ProposalQueue<unknown>, "failInflight" | "failQueued">;
  reads: Pick<ReadQueue, "failAll">;
  nowMs: () => number;
}

/** The loop's kept step (at most one) and what it refuses while one is kept. */
export class StorageStalls<P> {
  private stall: PersistStall<P> | undefined;

  constructor(private readonly options: StorageStallsOptions) {}

  /** True while a step waits for the disk. */
  get stalled(): boolean {
    return this.stall !== undefined;
  }

  /** `p` could not be written for `reason`: keep it; on the first failure settle what cannot wait. */
  keep(p: P, reason: ScribeError): void {
    const now = this.options.nowMs();
    if (this.stall) {
      this.stall.failedAgain(now);
      return;
    }
    this.stall = new PersistStall(p, now);
    this.options.proposals.failInflight(`this node's storage stopped taking writes (${reason.message})`);
    this.refuseQueued(reason);
    this.options.gate?.stalled(reason);
  }

  /** The kept step, once its backoff has passed (undefined: none, or not yet). */
  due(): P | undefined {
    return this.stall?.due(this.options.nowMs()) ? this.stall.pending : undefined;
  }

  /** The kept step was written after all. */
  written(): void {
    if (!this.stall) return;
    this.stall = undefined;
    this.options.gate?.resumed();
  }

  /** Refuses what is queued while a step waits for the disk: nothing of it was appended. */
  refuseQueued(reason: ScribeError = new ScribeError("insufficient_storage", "this node's storage is full")): void {
    const refused = this.options.proposals.failQueued(new ScribeError("insufficient_storage", `${reason.message}; nothing was appended`));
    if (refused > 0) this.options.gate?.refused(refused);
    this.options.reads.failAll(new ScribeError("unavailable", `this node's storage is full (${reason.message}); read with ?consistency=stale or from another node`));
  }
}
