/**
 * @module s3-check. The start-time check of the cold tier's bucket: when `storage.s3.bucket` is
 * set, one HeadBucket (storage/cold/probe.ts) tells whether the endpoint answers and the bucket
 * exists, so a wrong endpoint, bucket or key is reported at start rather than with the first
 * archival pass (up to `archival_check_interval_secs` later). By default the check runs beside the
 * start and logs a warning on failure (the node serves anyway; archival and read-through retry);
 * with `storage.s3.require_reachable` the start waits for it and is refused on failure.
 */

import type { Config } from "../config/index.ts";
import { probeBucket, type BucketProbe } from "../storage/cold/index.ts";
import { s3ConfigOf } from "./s3-config.ts";
import type { Logger } from "./logger.ts";

/** A start the node refuses for a reason outside its configuration file's syntax (exit status 2). */
export class StartupError extends Error {
  override name = "StartupError";
}

function report(probe: BucketProbe, config: Config, logger: Logger): void {
  const fields = { bucket: config.storage.s3.bucket, endpoint: config.storage.s3.endpoint || "aws", elapsed_ms: probe.elapsedMs };
  if (probe.ok) {
    logger.info(fields, `cold tier: S3 ${probe.where} is reachable`);
    return;
  }
  logger.warn(
    { ...fields, problem: probe.problem, err: probe.detail },
    `cold tier: S3 ${probe.where} cannot be used: ${probe.detail}. The node runs anyway: writes do not wait for S3, archival retries ` +
      `every storage.tiering.archival_check_interval_secs and cold.errors in /metrics counts failures. ` +
      `Set storage.s3.require_reachable = true (or --require-s3) to refuse to start instead`,
  );
}

/**
 * Checks the bucket when one is configured. With `require_reachable` it resolves once the bucket
 * answered and throws StartupError when it did not; otherwise it returns at once and logs the
 * outcome when the check ends (the returned promise, for tests, resolves to that outcome).
 */
export async function checkBucketAtStart(config: Config, logger: Logger): Promise<{ settled: Promise<BucketProbe | undefined> }> {
  if (!config.storage.s3.bucket) return { settled: Promise.resolve(undefined) };
  const probing = probeBucket(s3ConfigOf(config));
  if (!config.storage.s3.require_reachable) {
    const settled = probing.then((probe) => {
      report(probe, config, logger);
      return probe;
    });
    return { settled };
  }
  const probe = await probing;
  if (!probe.ok) {
    throw new StartupError(`S3 ${probe.where} cannot be used: ${probe.detail}; refusing to start because storage.s3.require_reachable is set (--require-s3)`);
  }
  report(probe, config, logger);
  return { settled: Promise.resolve(probe) };
}
