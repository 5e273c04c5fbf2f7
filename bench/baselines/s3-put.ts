/**
 * @module bench/baselines/s3-put. Raw S3 PutObject throughput to an S3-compatible server (s3rver
 * on loopback in the bench): one object after another, each `--object-bytes` long (the segment
 * size the archival bench uses), for `--seconds`. This is what the network path and the server
 * allow a single sequential uploader, with no sealing, compression or read-back verify; the
 * cold tier's archival throughput is shown against it for information.
 *
 *   bun bench/baselines/s3-put.ts --endpoint URL --bucket B [--object-bytes 8388608] [--seconds 5]
 *
 * Prints one JSON line: {objects, bytes, seconds, mb_per_sec}. MB = 10^6 bytes.
 */

import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { flagValue } from "../lib/proc.ts";

const endpoint = flagValue(Bun.argv, "endpoint");
const bucket = flagValue(Bun.argv, "bucket");
if (!endpoint || !bucket) {
  console.error("usage: bun bench/baselines/s3-put.ts --endpoint URL --bucket B [--object-bytes N] [--seconds S]");
  process.exit(2);
}
const objectBytes = Number(flagValue(Bun.argv, "object-bytes") ?? 8 * 1024 * 1024);
const seconds = Number(flagValue(Bun.argv, "seconds") ?? 5);
/** At least this many objects, so a short run still averages over several uploads. */
const objectsMin = 3;

const client = new S3Client({
  region: "us-east-1",
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: flagValue(Bun.argv, "access-key") ?? "S3RVER", secretAccessKey: flagValue(Bun.argv, "secret-key") ?? "S3RVER" },
  // s3rver stores the SDK's default aws-chunked framing inside objects (see shared MEASURED.md).
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});

const body = new Uint8Array(objectBytes);
for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;

const started = performance.now();
const deadline = started + seconds * 1000;
let objects = 0;
while (objects < objectsMin || performance.now() < deadline) {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `bench/raw-put/${objects}`, Body: body, ContentLength: body.length }));
  objects++;
}
const elapsedSeconds = (performance.now() - started) / 1000;
client.destroy();
console.log(JSON.stringify({ objects, bytes: objects * objectBytes, seconds: elapsedSeconds, mb_per_sec: (objects * objectBytes) / 1e6 / elapsedSeconds }));
