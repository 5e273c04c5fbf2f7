/**
 * @module probe. Checks that the configured S3 endpoint answers and the bucket exists, with one
 * HeadBucket request (permission: s3:ListBucket on the bucket). The node runs it at start
 * (src/cluster/s3-check.ts) so a wrong endpoint, bucket or key shows up at once, not with the first
 * archival pass. Failures are values, classified for a clear message.
 */

import { createS3Client, type S3Config } from "./s3-client.ts";
import { s3Sdk } from "./sdk.ts";

export type BucketProblem = "unreachable" | "no_such_bucket" | "access_denied" | "error";

export type BucketProbe =
  | { ok: true; where: string; elapsedMs: number }
  | { ok: false; where: string; elapsedMs: number; problem: BucketProblem; detail: string };

/**
 * Longest one probe request may take, seconds: a start check should not hold a node for the full
 * storage.s3.timeout_secs (30 s by default) times its retries when the endpoint is a black hole.
 */
export const probeTimeoutSecsMax = 10;
/** Retries of the probe: one, for a blip; a refused connection fails in milliseconds anyway. */
const probeRetries = 1;

/** "bucket "b" at http://host:port" (or "in AWS S3 region r"), for messages. */
export function describeBucket(config: S3Config): string {
  return `bucket "${config.bucket}" ${config.endpoint ? `at ${config.endpoint}` : `in AWS S3 (region ${config.region})`}`;
}

/** One HeadBucket on `config`'s bucket; never throws. `now` is injected for tests. */
export async function probeBucket(config: S3Config, now: () => number = Date.now): Promise<BucketProbe> {
  const where = describeBucket(config);
  const client = createS3Client({ ...config, max_retries: probeRetries, timeout_secs: Math.min(config.timeout_secs, probeTimeoutSecsMax) });
  const started = now();
  try {
    const { HeadBucketCommand } = s3Sdk();
    await client.send(new HeadBucketCommand({ Bucket: config.bucket }));
    return { ok: true, where, elapsedMs: now() - started };
  } catch (error) {
    const { problem, detail } = classify(error, config);
    return { ok: false, where, elapsedMs: now() - started, problem, detail };
  } finally {
    client.destroy();
  }
}

function classify(error: unknown, config: S3Config): { problem: BucketProblem; detail: string } {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const message = (error as Error).message ?? String(error);
  if (status === 404) return { problem: "no_such_bucket", detail: `the bucket does not exist (create it, or fix storage.s3.bucket)` };
  if (status === 403) {
    return { problem: "access_denied", detail: `access denied (check storage.s3.access_key_id and secret_access_key, and that the node may s3:ListBucket on "${config.bucket}")` };
  }
  if (status === 301 || status === 400) return { problem: "error", detail: `HeadBucket answered ${status} (wrong storage.s3.region or path_style?): ${message}` };
  if (status !== undefined) return { problem: "error", detail: `HeadBucket answered ${status}: ${message}` };
  const code = (error as { code?: string }).code;
  return { problem: "unreachable", detail: `cannot reach the endpoint: ${code && !message.includes(code) ? `${code} ` : ""}${message}` };
}
