/**
 * @module s3-client. Builds the S3 client used by the cold tier from one config object.
 *
 * Checksums are computed and validated only when an operation requires them: the SDK's default
 * (`WHEN_SUPPORTED`) sends streamed bodies with aws-chunked framing that s3rver stores verbatim
 * inside the object. The cold tier checks its own SHA-256 of every object instead.
 */

import type { S3Client } from "@aws-sdk/client-s3";
import { s3Sdk } from "./sdk.ts";

export interface S3Config {
  bucket: string;
  region: string;
  /** e.g. `http://127.0.0.1:9000` for s3rver or MinIO; omit for AWS S3. */
  endpoint?: string;
  access_key_id?: string;
  secret_access_key?: string;
  /** `true` for s3rver and MinIO (`endpoint/bucket/key`), `false` for virtual-hosted AWS. */
  path_style: boolean;
  /** Per-request socket timeout. */
  timeout_secs: number;
  /** Retries after the first attempt, with the SDK's exponential backoff and jitter. */
  max_retries: number;
  /** Key prefix inside the bucket for everything this ledger writes (no leading/trailing '/'). */
  prefix?: string;
  /** Most concurrent connections to S3 (storage.s3.pool_size); default 10. */
  pool_size?: number;
}

export const defaultS3Config: Omit<S3Config, "bucket"> = {
  region: "us-east-1",
  path_style: true,
  timeout_secs: 30,
  max_retries: 3,
  prefix: "scribe",
};

/** Connections per S3 client when storage.s3.pool_size is not given (the SDK's default is 50). */
const defaultPoolSize = 10;

/** Connect timeout, shorter than the request timeout: a down server should fail fast. */
const connectTimeoutMsMax = 5_000;

export function createS3Client(config: S3Config): S3Client {
  if (!config.bucket) throw new TypeError("storage.s3.bucket must be set");
  if (!(config.timeout_secs > 0)) throw new RangeError(`storage.s3.timeout_secs must be > 0, got ${config.timeout_secs}`);
  if (!Number.isInteger(config.max_retries) || config.max_retries < 0) {
    throw new RangeError(`storage.s3.max_retries must be an integer >= 0, got ${config.max_retries}`);
  }
  const requestTimeoutMs = Math.round(config.timeout_secs * 1000);
  const credentials =
    config.access_key_id !== undefined && config.secret_access_key !== undefined
      ? { accessKeyId: config.access_key_id, secretAccessKey: config.secret_access_key }
      : undefined;
  const { S3Client } = s3Sdk();
  return new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.path_style,
    ...(credentials ? { credentials } : {}),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: config.max_retries + 1,
    retryMode: "standard",
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: Math.min(requestTimeoutMs, connectTimeoutMsMax),
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: config.pool_size ?? defaultPoolSize },
      httpsAgent: { keepAlive: true, maxSockets: config.pool_size ?? defaultPoolSize },
    },
  });
}
