/**
 * @module transport/backoff. Reconnect delays: exponential, bounded, with jitter so a cluster
 * whose peer restarts does not redial in lockstep.
 */

import type { RandomSource } from "../lib/index.ts";

export interface BackoffLimits {
  /** Delay before the first retry; small, since a restarting peer is usually back quickly. */
  backoffMsMin: number;
  /** Ceiling of the delay; bounds how long a recovered peer waits to hear from us. */
  backoffMsMax: number;
}

export const backoffLimitsDefault: BackoffLimits = { backoffMsMin: 50, backoffMsMax: 5_000 };

/** Doubling stops at this exponent; 2^20 × any sane minimum is far past any maximum. */
const backoffExponentMax = 20;

/**
 * Delay before retry number `attempt` (0 = first retry): base = min(max, min × 2^attempt), and
 * the delay is uniform in [base / 2, base] ("equal jitter": never zero, never above the cap).
 */
export function backoffDelayMs(attempt: number, limits: BackoffLimits, random: RandomSource): number {
  const exponent = Math.min(Math.max(0, attempt), backoffExponentMax);
  const base = Math.min(limits.backoffMsMax, limits.backoffMsMin * 2 ** exponent);
  const half = Math.floor(base / 2);
  return half + random.int(base - half + 1);
}
