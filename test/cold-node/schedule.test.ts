/**
 * When the cold tier's timer runs its next archival pass (src/cluster/archival.ts
 * nextPassDelayMs): one interval after a pass that found nothing more, at once after a pass that
 * stopped at the archiver's cap with more ready (a backlog drains back to back, whatever
 * archival_check_interval_secs is), and with a capped exponential backoff after failures.
 */
import { expect, test } from "bun:test";
import { nextPassDelayMs } from "../../src/cluster/archival.ts";

test("the next pass: at once after a capped pass, one interval after a complete one, backoff after failures", () => {
  const intervalMs = 60_000;
  expect(nextPassDelayMs(intervalMs, 0, false)).toBe(60_000);
  expect(nextPassDelayMs(intervalMs, 0, true)).toBe(0);
  // Failures win over a backlog: S3 is not hammered while it fails.
  expect(nextPassDelayMs(intervalMs, 1, true)).toBe(120_000);
  expect(nextPassDelayMs(intervalMs, 2, false)).toBe(240_000);
  expect(nextPassDelayMs(intervalMs, 3, false)).toBe(240_000);
  expect(nextPassDelayMs(intervalMs, 10, true)).toBe(240_000);
});
