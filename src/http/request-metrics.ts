/**
 * @module request-metrics. Per-operation request counters and latency sums, kept by the HTTP
 * layer and reported in /metrics (and, through the Prometheus registry, /metrics/prometheus).
 */

import { isScribeError } from "../lib/index.ts";

export type RequestOp = "get" | "put" | "delete" | "batch";

export interface OpStats {
  requests: number;
  errors: number;
  latency_seconds_sum: number;
}

export class RequestMetrics {
  private readonly stats: Record<RequestOp, OpStats> = {
    get: { requests: 0, errors: 0, latency_seconds_sum: 0 },
    put: { requests: 0, errors: 0, latency_seconds_sum: 0 },
    delete: { requests: 0, errors: 0, latency_seconds_sum: 0 },
    batch: { requests: 0, errors: 0, latency_seconds_sum: 0 },
  };
  /** Observers (e.g. Prometheus histograms) told of every finished request. */
  readonly observers: ((op: RequestOp, seconds: number, ok: boolean) => void)[] = [];

  /**
   * Runs and times one request of `op`. `startedMs` (performance.now()): when its work began, if
   * before `fn` (a JSON body read and checked by the router before the handler runs).
   */
  async time(op: RequestOp, fn: () => Promise<Response>, startedMs = performance.now()): Promise<Response> {
    let ok = false;
    try {
      const response = await fn();
      ok = response.status < 500;
      return response;
    } catch (error) {
      ok = isScribeError(error) && error.status < 500;
      throw error;
    } finally {
      this.record(op, startedMs, ok);
    }
  }

  /** Counts one finished request of `op` that began at `startedMs` (performance.now()). */
  record(op: RequestOp, startedMs: number, ok: boolean): void {
    const seconds = (performance.now() - startedMs) / 1000;
    const s = this.stats[op];
    s.requests++;
    if (!ok) s.errors++;
    s.latency_seconds_sum += seconds;
    for (const observe of this.observers) observe(op, seconds, ok);
  }

  snapshot(): Record<RequestOp, OpStats> {
    return structuredClone(this.stats);
  }
}
