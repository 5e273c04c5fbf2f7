import { afterAll, beforeAll, expect, test } from "bun:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { SeededRandom, toHex } from "../../src/lib/index.ts";
import { Archiver, parseSegmentKey, readManifest, restoreFromBucket, type ArchiverConfig } from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { FaultyUploader, leavesOf, makeRecords, MemorySource, naiveTreeHash, wireS3 } from "./fixtures.ts";

let server: S3ServerHandle;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server.stop();
});

const config: ArchiverConfig = { segment_bytes: 24 * 1024, age_threshold_secs: 5, compression_level: 1, enable_compression: true };
const startMs = 1_700_000_000_000;

/**
 * A seeded run: entries arrive over time, S3 operations fail at random, and the archiver "crashes"
 * (is replaced by a fresh instance) at random. Invariants checked at the end: everything was
 * archived once, in order; each range has exactly one object; the manifest equals what was
 * reported; the restored tree root is the ledger's.
 */
async function seededRun(seed: number): Promise<void> {
  const random = new SeededRandom(seed);
  const prefix = `faults-${seed}`;
  const s3 = wireS3(server, { prefix });
  const all = makeRecords(1500, seed, { startMs });
  const source = new MemorySource(all.slice(0, 100));
  const newUploader = () => new FaultyUploader(s3.uploader.client, { bucket: server.bucket, attemptsMax: 1 });
  const newArchiver = (uploader: FaultyUploader) =>
    new Archiver({ source, uploader, layout: s3.layout, config, onSegmentArchived: source.onSegmentArchived });
  let uploader = newUploader();
  let archiver = newArchiver(uploader);
  let nowMs = startMs;
  let failures = 0;
  for (let step = 0; step < 400 && source.archivedUpTo < all.length; step++) {
    const committed = Math.min(all.length, source.records.length + random.int(60));
    source.records = all.slice(0, committed);
    nowMs = Math.max(nowMs, all[committed - 1]!.entry.timestampMs) + random.int(3000);
    if (step > 200) nowMs += 10_000; // eventually everything is old enough
    uploader.faults = [
      { op: "writeOnce", key: /segments\//, remaining: random.chance(0.25) ? 1 : 0 },
      { op: "putBytes", key: /manifest\.json$/, remaining: random.chance(0.15) ? 1 : 0 },
      { op: "putBytes", key: /pending\.json$/, remaining: random.chance(0.1) ? 1 : 0 },
    ];
    const result = await archiver.runOnce(nowMs);
    if (result.error) failures += 1;
    if (random.chance(0.2)) {
      uploader = newUploader();
      archiver = newArchiver(uploader);
    }
  }
  expect(failures).toBeGreaterThan(0);
  expect(source.archivedUpTo).toBe(all.length);
  const manifest = (await readManifest(s3.uploader, s3.layout))!;
  expect(manifest.segments).toEqual(source.archived);
  const listed = await s3.uploader.client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/segments/` }));
  const keys = (listed.Contents ?? []).map((o) => o.Key!);
  expect(keys).toEqual(manifest.segments.map((s) => s.object_key));
  for (const key of keys) expect(parseSegmentKey(s3.layout, key)).toBeDefined();
  const restored = await restoreFromBucket({ uploader: s3.uploader, layout: s3.layout, sink: () => {} });
  expect(restored.root).toBe(toHex(naiveTreeHash(leavesOf(all))));
}

for (const seed of [1, 2, 3]) {
  test(`seeded S3 faults and restarts (seed ${seed}): archived once, in order, one object per range`, async () => {
    await seededRun(seed);
  }, 60_000);
}
