/**
 * @module bench/cold. Cold-tier throughput on this machine, with baselines from the same run:
 *  - archival (seal + encode + gzip in a Worker + multipart upload + read-back verify) in MB/s of
 *    raw ledger data, against raw S3 PutObject of the same bytes to the same s3rver;
 *  - fflate gzip (Worker stream, and in-thread gzipSync) against node:zlib gzipSync, MB/s and ratio.
 *
 *   bun bench/cold.ts [--mb 32] [--runs 3]
 *
 * Numbers are medians of `runs`; compare ratios, not absolutes (shared, noisy 2-core machine).
 */

import { parseArgs } from "node:util";
import { gzipSync as zlibGzipSync } from "node:zlib";
import { gzipSync as fflateGzipSync } from "fflate";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { SeededRandom } from "../src/lib/index.ts";
import type { Entry } from "../src/ledger/entry.ts";
import { Archiver, collect, createLayout, createS3Client, encodeSegment, gzipStream, segmentGzipOptions, sha256, Uploader } from "../src/storage/cold/index.ts";
import { startS3Server } from "../test/support/s3-server.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { mb: { type: "string", default: "32" }, runs: { type: "string", default: "3" } } });
const rawTargetBytes = Number(values.mb) * 1024 * 1024;
const runs = Number(values.runs);
const MB = 1_000_000;

/** NDJSON-like values (~200-600 bytes): what a ledger of JSON documents looks like. */
function makeLedger(bytesTarget: number): { entry: Entry; value: Uint8Array }[] {
  const random = new SeededRandom(7);
  const words = ["alpha", "beta", "gamma", "delta", "order", "user", "payment", "status", "created", "shipped", "EUR", "USD"];
  const out: { entry: Entry; value: Uint8Array }[] = [];
  const encoder = new TextEncoder();
  let bytes = 0;
  for (let index = 0; bytes < bytesTarget; index++) {
    const fields: string[] = [];
    const n = 4 + random.int(12);
    for (let f = 0; f < n; f++) {
      const word = words[random.int(words.length)]!;
      fields.push(random.chance(0.5) ? `"${word}${f}":${random.int(1_000_000)}` : `"${word}${f}":"${words[random.int(words.length)]}-${random.int(1e9).toString(36)}"`);
    }
    const value = encoder.encode(`{"id":${index},${fields.join(",")}}`);
    const entry: Entry = {
      index,
      op: "put",
      key: `doc/${random.int(100_000)}`,
      valueHash: sha256(value),
      valueBytes: value.length,
      contentType: "application/json",
      timestampMs: 1_700_000_000_000 + index,
      prevIndex: -1,
    };
    out.push({ entry, value });
    bytes += value.length + 100;
  }
  return out;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timeMs(run: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

const ledger = makeLedger(rawTargetBytes);
const raw = Buffer.concat([...encodeSegment(0, ledger.length, ledger)]);
console.log(`ledger: ${ledger.length} entries, ${(raw.length / MB).toFixed(1)} MB raw segment encoding; ${runs} runs, medians`);

// --- compression -----------------------------------------------------------------------------
const chunkBytes = 256 * 1024;
function* rawChunks(): Generator<Uint8Array> {
  for (let i = 0; i < raw.length; i += chunkBytes) yield raw.subarray(i, i + chunkBytes);
}
console.log("\ncompression of the raw segment bytes (MB/s of input, ratio raw/compressed)");
const compressionRows: Record<string, { mbps: number; ratio: number }> = {};
for (const level of [1, 6] as const) {
  const variants: [string, () => Promise<number> | number][] = [
    [`fflate worker stream L${level}`, async () => (await collect(gzipStream(rawChunks(), level))).length],
    [`fflate gzipSync L${level}`, () => fflateGzipSync(raw, segmentGzipOptions(level)).length],
    [`node:zlib gzipSync L${level}`, () => zlibGzipSync(raw, { level }).length],
  ];
  for (const [name, run] of variants) {
    const times: number[] = [];
    let size = 0;
    for (let r = 0; r < runs; r++) times.push(await timeMs(async () => (size = await run())));
    compressionRows[name] = { mbps: raw.length / MB / (median(times) / 1000), ratio: raw.length / size };
    console.log(`  ${name.padEnd(28)} ${compressionRows[name]!.mbps.toFixed(1).padStart(7)} MB/s  ratio ${compressionRows[name]!.ratio.toFixed(2)}x`);
  }
  const worker = compressionRows[`fflate worker stream L${level}`]!;
  const zlib = compressionRows[`node:zlib gzipSync L${level}`]!;
  console.log(`  -> L${level}: fflate(worker)/zlib speed ${(worker.mbps / zlib.mbps).toFixed(2)}x, size ratio ${(worker.ratio / zlib.ratio).toFixed(3)}x`);
}

// --- S3 ---------------------------------------------------------------------------------------
const server = await startS3Server();
const client = createS3Client({
  bucket: server.bucket,
  region: "us-east-1",
  endpoint: server.endpoint,
  access_key_id: server.accessKeyId,
  secret_access_key: server.secretAccessKey,
  path_style: true,
  timeout_secs: 60,
  max_retries: 2,
});
const uploader = new Uploader(client, { bucket: server.bucket, partBytes: 8 * 1024 * 1024 });
const segmentBytes = 16 * 1024 * 1024;
try {
  console.log(`\nS3 (s3rver on loopback), ${(raw.length / MB).toFixed(1)} MB of ledger data, ${segmentBytes / 1024 / 1024} MiB segments`);
  const putTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    putTimes.push(
      await timeMs(async () => {
        for (let offset = 0, part = 0; offset < raw.length; offset += segmentBytes, part++) {
          const body = raw.subarray(offset, offset + segmentBytes);
          await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: `bench/put-${r}-${part}`, Body: body, ContentLength: body.length }));
        }
      }),
    );
  }
  const putMbps = raw.length / MB / (median(putTimes) / 1000);
  console.log(`  raw PutObject (16 MiB objects, no verify)   ${putMbps.toFixed(1).padStart(7)} MB/s`);

  const archivalRows: [string, number][] = [];
  for (const [name, compression] of [
    ["archiver gzip L1", { enable_compression: true, compression_level: 1 }],
    ["archiver gzip L6", { enable_compression: true, compression_level: 6 }],
    ["archiver uncompressed", { enable_compression: false, compression_level: 0 }],
  ] as const) {
    const times: number[] = [];
    let objectBytes = 0;
    for (let r = 0; r < runs; r++) {
      let next = 0;
      const archiver = new Archiver({
        source: {
          nextUnarchivedIndex: () => next,
          committedIndexEnd: () => ledger.length,
          readRange: (from, to) => ledger.slice(from, to),
          entryTimestampMs: (index) => ledger[index]!.entry.timestampMs,
        },
        uploader,
        layout: createLayout(`bench/${name.replaceAll(" ", "-")}-${r}`),
        config: { segment_bytes: segmentBytes, age_threshold_secs: 0, ...compression },
        onSegmentArchived: (d) => void (next = d.last_index + 1),
        segmentsPerRunMax: 1_000,
      });
      times.push(
        await timeMs(async () => {
          const result = await archiver.runOnce(Date.now());
          if (result.error) throw result.error;
        }),
      );
      objectBytes = archiver.stats.object_bytes;
    }
    const mbps = raw.length / MB / (median(times) / 1000);
    archivalRows.push([name, mbps]);
    console.log(
      `  ${name.padEnd(42)} ${mbps.toFixed(1).padStart(7)} MB/s raw  (${(raw.length / objectBytes).toFixed(2)}x smaller, ${(mbps / putMbps).toFixed(2)}x of raw PutObject)`,
    );
  }
  console.log(`  uploader stats: ${JSON.stringify(uploader.stats)}`);
} finally {
  await server.stop();
}
