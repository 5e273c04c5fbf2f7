/**
 * @module cold-storage. Wires the cold tier's pieces from configuration: the S3 client, the
 * write-once uploader and the key layout. The node builds its Archiver and ColdReader on these.
 */

import type { S3Client } from "@aws-sdk/client-s3";
import { createLayout, type Layout } from "./layout.ts";
import { createS3Client, type S3Config } from "./s3-client.ts";
import { Uploader, type UploaderOptions } from "./uploader.ts";

export interface ColdStorage {
  client: S3Client;
  uploader: Uploader;
  layout: Layout;
}

export function createColdStorage(config: S3Config, uploaderOptions: Omit<UploaderOptions, "bucket"> = {}): ColdStorage {
  const client = createS3Client(config);
  const uploader = new Uploader(client, { requestTimeoutMs: Math.round(config.timeout_secs * 1000), ...uploaderOptions, bucket: config.bucket });
  return { client, uploader, layout: createLayout(config.prefix ?? "scribe") };
}
