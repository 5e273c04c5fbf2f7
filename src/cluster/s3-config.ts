/**
 * @module s3-config. The cold tier's S3 settings (storage/cold's S3Config) from the node's
 * `[storage.s3]` configuration: one mapping for every S3 user of the node — the cold tier
 * (archival.ts), the start check (s3-check.ts), restore (restore.ts) and scripts/cluster/s3-objects.ts.
 */

import type { Config } from "../config/index.ts";
import type { S3Config } from "../storage/cold/index.ts";

/** The cold tier's S3 settings from the node's configuration (`[storage.s3]`). */
export function s3ConfigOf(config: Config): S3Config {
  const s3 = config.storage.s3;
  return {
    bucket: s3.bucket,
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3.access_key_id ? { access_key_id: s3.access_key_id, secret_access_key: s3.secret_access_key } : {}),
    path_style: s3.path_style,
    timeout_secs: s3.timeout_secs,
    max_retries: s3.max_retries,
    pool_size: s3.pool_size,
    prefix: s3.prefix === "" ? "scribe" : s3.prefix,
  };
}
