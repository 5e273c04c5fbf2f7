/**
 * @module storage-stall. A persist step the Ready loop could not write because the disk is full
 * (ready-loop.ts, "Storage stalls"): the loop keeps the step and retries it, the same step, after
 * a backoff, until it is written or the node stops. Nothing of the step was kept (one failed
 * transaction), so writing it later is writing it once.
 */

/** First pause before a stalled step is retried. */
export const stallRetryMsMin = 100;
/**
 * Longest pause between two retries: writes resume within this long after space returns, and a
 * full disk costs at most one failed transaction this often.
 */
export const stallRetryMsMax = 2000;

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
