/**
 * @module s3-objects script. Lists what the local cluster's cold tier holds in its bucket: every
 * object under the prefix with its size, then the manifest's segments (how many, which entries).
 * The S3 settings come from the SCRIBE_STORAGE_S3_* environment (scripts/cluster/check.sh sources
 * .scribe-cluster/s3.env), through the node's own configuration loader and S3 client.
 *
 *   bun scripts/cluster/s3-objects.ts [--wait SECS]
 *
 * --wait: poll the manifest until it lists a segment, for at most SECS seconds.
 * Exit status: 0 listed (and, with --wait, a segment is archived); 1 the bucket cannot be read, or
 * --wait ran out; 2 bad arguments or configuration.
 */

import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { parseArgs } from "node:util";
import { s3ConfigOf } from "../../src/cluster/s3-config.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createColdStorage, describeBucket, readManifest, type Manifest } from "../../src/storage/cold/index.ts";

/** Objects listed at most: a local session holds a handful; s3rver cannot page further under Bun. */
const listKeysMax = 1000;
/** How often --wait reads the manifest again. */
const pollIntervalMs = 1000;

function fail(code: number, message: string): never {
  console.error(`s3-objects: ${message}`);
  process.exit(code);
}

let waitSecs = 0;
let config;
try {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { wait: { type: "string" } } });
  waitSecs = values.wait === undefined ? 0 : Number(values.wait);
  if (!Number.isFinite(waitSecs) || waitSecs < 0) fail(2, `--wait wants seconds, got ${values.wait}`);
  config = loadConfig({ env: process.env });
} catch (error) {
  fail(2, (error as Error).message);
}
if (!config.storage.s3.bucket) fail(2, "SCRIBE_STORAGE_S3_BUCKET is not set (source .scribe-cluster/s3.env)");
const s3 = s3ConfigOf(config);
const storage = createColdStorage(s3);
const where = `${describeBucket(s3)}, prefix ${storage.layout.prefix}`;

async function manifest(): Promise<Manifest | undefined> {
  try {
    return await readManifest(storage.uploader, storage.layout);
  } catch (error) {
    fail(1, `cannot read the manifest of ${where}: ${(error as Error).message}`);
  }
}

let current = await manifest();
const deadline = Date.now() + waitSecs * 1000;
while ((current?.segments.length ?? 0) === 0 && Date.now() < deadline) {
  await Bun.sleep(pollIntervalMs);
  current = await manifest();
}

let listing;
try {
  listing = await storage.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${storage.layout.prefix}/`, MaxKeys: listKeysMax }));
} catch (error) {
  fail(1, `cannot list ${where}: ${(error as Error).message}`);
}
const objects = (listing.Contents ?? []).sort((a, b) => (a.Key! < b.Key! ? -1 : 1));
console.log(`${where}: ${objects.length}${listing.IsTruncated ? "+" : ""} object${objects.length === 1 ? "" : "s"}`);
for (const object of objects) console.log(`  ${String(object.Size ?? 0).padStart(10)}  ${object.Key}`);
const segments = current?.segments ?? [];
if (segments.length === 0) {
  const tiering = config.storage.tiering;
  console.log(
    `segments archived: 0 (a segment seals at ${config.storage.segment_size} bytes or once its oldest entry is ` +
      `${tiering.age_threshold_secs} s old; the leader looks every ${tiering.archival_check_interval_secs} s)`,
  );
  process.exit(waitSecs > 0 ? 1 : 0);
}
const bytes = segments.reduce((sum, s) => sum + s.object_bytes, 0);
console.log(`segments archived: ${segments.length}, entries ${segments[0]!.first_index}..${segments.at(-1)!.last_index} (${bytes} bytes in S3; manifest ${storage.layout.manifestKey()})`);
