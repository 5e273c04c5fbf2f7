/**
 * @module request-metrics. Per-operation request counters, latency sums and latency buckets, kept
 * by the HTTP layer as plain numbers and reported in /metrics (and, read by the Prometheus registry
 * when scraped, /metrics/prometheus).
 */

import { isScribeError } from "../lib/index.ts";
import { latencyBucketsSeconds, type RequestObservable, type RequestTotals } from "../metrics/index.ts";

export type RequestOp = "get" | "put" | "delete" | "batch";

export interface OpStats {
  requests: number;
  errors: number;
  latency_seconds_sum: number;
}

function emptyStats(): OpStats & { buckets: number[] } {
  return { requests: 0, errors: 0, latency_seconds_sum: 0, buckets: new Array<number>(latencyBucketsSeconds.length + 1).fill(0) };
}

/**
 * Counts and latency buckets per operation, kept as plain numbers on the request path; the
 * Prometheus registry reads them when scraped (requestTotals).
 */
export class RequestMetrics implements RequestObservable {
  private readonly stats: Record<RequestOp, OpStats & { buckets: number[] }> = { get: emptyStats(), put: emptyStats(), delete: emptyStats(), batch: emptyStats() };

  /**
   * Runs and times one request of `op`: `fn(arg)` gives its answer, at once or as a promise (what
   * it throws counts as an answer too; `arg` spares a closure per request). `startedMs` (performance.now()): when its work began, if before `fn`
   * (a JSON body read and checked by the router before the handler runs).
   */
  time<A>(op: RequestOp, fn: (arg: A) => Response | Promise<Response>, arg: A, startedMs = performance.now()): Response | Promise<Response> {
    let answer: Response | Promise<Response>;
    try {
      answer = fn(arg);
    } catch (error) {
      this.record(op, startedMs, isScribeError(error) && error.status < 500);
      throw error;
    }
    if (!(answer instanceof Promise)) {
      this.record(op, startedMs, answer.status < 500);
      return answer;
    }
    // Settled with `then` rather than an async wrapper: one promise and no frame fewer per request.
    return answer.then(
      (response) => {
        this.record(op, startedMs, response.status < 500);
        return response;
      },
      (error: unknown) => {
        this.record(op, startedMs, isScribeError(error) && error.status < 500);
        throw error;
      },
    );
  }

  /** Counts one finished request of `op` that began at `startedMs` (performance.now()). */
  record(op: RequestOp, startedMs: number, ok: boolean): void {
    const seconds = (performance.now() - startedMs) / 1000;
    const s = this.stats[op];
    s.requests++;
    if (!ok) s.errors++;
    s.latency_seconds_sum += seconds;
    let bucket = 0;
    while (bucket < latencyBucketsSeconds.length && seconds > latencyBucketsSeconds[bucket]!) bucket++;
    s.buckets[bucket]! += 1;
  }

  snapshot(): Record<RequestOp, OpStats> {
    const out = {} as Record<RequestOp, OpStats>;
    for (const [op, s] of Object.entries(this.stats) as [RequestOp, OpStats][]) out[op] = { requests: s.requests, errors: s.errors, latency_seconds_sum: s.latency_seconds_sum };
    return out;
  }

  requestTotals(op: RequestOp): RequestTotals {
    const s = this.stats[op];
    return { requests: s.requests, errors: s.errors, latencySecondsSum: s.latency_seconds_sum, buckets: [...s.buckets] };
  }
}
