import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { ScribeError, toHex } from "../../src/lib/index.ts";
import {
  Archiver,
  decodeSegmentBytes,
  readCheckpoint,
  readManifest,
  Uploader,
  type ArchiverConfig,
  type Layout,
} from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { FaultyUploader, leavesOf, makeRecords, MemorySource, naiveTreeHash, runGunzip, wireS3 } from "./fixtures.ts";

const KiB = 1024;
const config: ArchiverConfig = { segment_bytes: 64 * KiB, age_threshold_secs: 60, compression_level: 6, enable_compression: true };
const startMs = 1_700_000_000_000;

let server: S3ServerHandle;

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server.stop();
});

function archiverFor(
  source: MemorySource,
  uploader: Uploader,
  layout: Layout,
  overrides: Partial<ArchiverConfig> = {},
  checkpoint?: (tree: { tree_size: number; tree_root: string | null }) => string,
) {
  return new Archiver({ source, uploader, layout, config: { ...config, ...overrides }, onSegmentArchived: source.onSegmentArchived, checkpoint });
}

describe("archiver", () => {
  test("end to end: full segments first, the tail once old enough; manifest, roots and checkpoint", async () => {
    const s3 = wireS3(server, { prefix: "e2e" });
    const records = makeRecords(3000, 21, { startMs });
    const source = new MemorySource(records);
    let checkpoints = 0;
    const archiver = archiverFor(source, s3.uploader, s3.layout, {}, (tree) => `scribe.test/log\n${tree.tree_size}\n${tree.tree_root}\n(${++checkpoints})`);
    const lastEntryMs = records.at(-1)!.entry.timestampMs;

    const first = await archiver.runOnce(lastEntryMs + 1000);
    expect(first.error).toBeUndefined();
    expect(first.archived.length).toBeGreaterThanOrEqual(5);
    for (const segment of first.archived) expect(segment.raw_bytes).toBeGreaterThanOrEqual(config.segment_bytes);
    expect(source.archivedUpTo).toBeLessThan(3000);

    const second = await archiver.runOnce(lastEntryMs + 61_000);
    expect(second.error).toBeUndefined();
    expect(second.archived.length).toBe(1);
    expect(second.archived[0]!.raw_bytes).toBeLessThan(config.segment_bytes);
    expect(source.archivedUpTo).toBe(3000);
    expect((await archiver.runOnce(lastEntryMs + 1e9)).archived).toEqual([]);

    const manifest = (await readManifest(s3.uploader, s3.layout))!;
    expect(manifest.segments).toEqual(source.archived);
    expect(manifest.next_index).toBe(3000);
    const leaves = leavesOf(records);
    for (const segment of manifest.segments) {
      expect(segment.tree_root).toBe(toHex(naiveTreeHash(leaves.slice(0, segment.tree_size))));
      expect(segment.leaves_root).toBe(toHex(naiveTreeHash(leaves.slice(segment.first_index, segment.last_index + 1))));
      // Every object is a plain gzip file holding a valid segment.
      const { output, exitCode } = await runGunzip(readFileSync(server.objectPath(segment.object_key)));
      expect(exitCode).toBe(0);
      const decoded = decodeSegmentBytes(output, { expectFirstIndex: segment.first_index, expectCount: segment.count });
      expect(toHex(decoded.summary.rawSha256)).toBe(segment.raw_sha256);
    }
    expect(await readCheckpoint(s3.uploader, s3.layout)).toBe(`scribe.test/log\n3000\n${toHex(naiveTreeHash(leaves))}\n(2)`);
    expect(archiver.stats).toMatchObject({ segments_archived: manifest.segments.length, entries_archived: 3000, errors: 0 });
  });

  test("a run stopped at its cap of segments says more may be ready; the run that finds the rest does not", async () => {
    const s3 = wireS3(server, { prefix: "per-run-cap" });
    const records = makeRecords(3000, 24, { startMs });
    const source = new MemorySource(records);
    const archiver = new Archiver({ source, uploader: s3.uploader, layout: s3.layout, config, onSegmentArchived: source.onSegmentArchived, segmentsPerRunMax: 2 });
    const nowMs = records.at(-1)!.entry.timestampMs + 61_000; // the tail is old enough: every entry is ready
    const runs: { archived: number; more: boolean | undefined }[] = [];
    for (let i = 0; i < 8 && source.archivedUpTo < 3000; i++) {
      const run = await archiver.runOnce(nowMs);
      expect(run.error).toBeUndefined();
      runs.push({ archived: run.archived.length, more: run.more });
    }
    expect(source.archivedUpTo).toBe(3000);
    // Every run but the last sealed its cap and said so; the last sealed what was left.
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.slice(0, -1).every((r) => r.archived === 2 && r.more === true)).toBe(true);
    expect(runs.at(-1)!.archived).toBeGreaterThanOrEqual(1);
    expect(runs.at(-1)!.more).toBe(runs.at(-1)!.archived === 2);
    const idle = await archiver.runOnce(nowMs);
    expect(idle).toEqual({ archived: [], more: false });
  });

  test("two nodes sealing the same entries write byte-identical objects", async () => {
    const records = makeRecords(1500, 22, { startMs });
    const digests: string[][] = [];
    for (const prefix of ["node-a", "node-b"]) {
      const s3 = wireS3(server, { prefix });
      const source = new MemorySource(records.map((r) => ({ entry: { ...r.entry }, value: r.value.slice() })));
      await archiverFor(source, s3.uploader, s3.layout).runOnce(startMs + 1e9);
      digests.push(source.archived.map((s) => `${s.first_index}-${s.last_index}:${s.object_sha256}:${s.raw_sha256}`));
    }
    expect(digests[0]!.length).toBeGreaterThan(1);
    expect(digests[0]).toEqual(digests[1]!);
  });

  test("crash after the upload, before the manifest: a restarted archiver reuses the identical object", async () => {
    const s3 = wireS3(server, { prefix: "crash1" });
    const faulty = new FaultyUploader(s3.uploader.client, { bucket: server.bucket, attemptsMax: 1 });
    faulty.faults.push({ op: "putBytes", key: /manifest\.json$/, remaining: 1 });
    const records = makeRecords(800, 23, { startMs });
    const source = new MemorySource(records);
    const crashed = await archiverFor(source, faulty, s3.layout).runOnce(startMs + 1e9);
    expect(crashed.error?.code).toBe("unavailable");
    expect(crashed.archived).toEqual([]);
    expect(source.archived).toEqual([]);
    const key = s3.layout.segmentKey(0, findLast(records, config.segment_bytes), true);
    const mtime = statSync(server.objectPath(key)).mtimeMs;

    const restarted = archiverFor(source, s3.uploader, s3.layout);
    const result = await restarted.runOnce(startMs + 1e9);
    expect(result.error).toBeUndefined();
    expect(result.archived[0]!.object_key).toBe(key);
    expect(restarted.stats.segments_reused).toBe(1);
    expect(statSync(server.objectPath(key)).mtimeMs).toBe(mtime);
    expect(source.archivedUpTo).toBe(800);
  });

  test("crash mid-upload of an age-closed segment: the restart seals exactly the same range, not a bigger one", async () => {
    const s3 = wireS3(server, { prefix: "crash2" });
    const faulty = new FaultyUploader(s3.uploader.client, { bucket: server.bucket, attemptsMax: 1 });
    faulty.faults.push({ op: "writeOnce", key: /segments\//, remaining: 1 });
    const records = makeRecords(2000, 24, { startMs });
    const source = new MemorySource(records.slice(0, 40));
    const crashed = await archiverFor(source, faulty, s3.layout).runOnce(startMs + 120_000);
    expect(crashed.error).toBeDefined();
    expect(source.archived).toEqual([]);

    source.records = records; // more entries were committed while the node was down
    const restarted = archiverFor(source, s3.uploader, s3.layout);
    const result = await restarted.runOnce(startMs + 120_000);
    expect(result.error).toBeUndefined();
    expect(result.archived[0]).toMatchObject({ first_index: 0, last_index: 39 });
    expect(result.archived.length).toBeGreaterThan(1);
    expect(result.archived[1]!.raw_bytes).toBeGreaterThanOrEqual(config.segment_bytes);
  });

  test("crash after the manifest, before progress was persisted: the segment is reported again, not re-sealed", async () => {
    const s3 = wireS3(server, { prefix: "crash3" });
    const records = makeRecords(1000, 25, { startMs });
    const source = new MemorySource(records);
    const dying = new Archiver({
      source,
      uploader: s3.uploader,
      layout: s3.layout,
      config,
      onSegmentArchived: () => {
        throw new Error("kill -9");
      },
    });
    await expect(dying.runOnce(startMs + 1e9)).rejects.toThrow("kill -9");
    const manifest = (await readManifest(s3.uploader, s3.layout))!;
    expect(manifest.segments.length).toBe(1);
    const uploads = s3.uploader.stats.uploads;

    const restarted = archiverFor(source, s3.uploader, s3.layout);
    const result = await restarted.runOnce(startMs + 1e9);
    expect(result.error).toBeUndefined();
    expect(source.archived[0]).toEqual(manifest.segments[0]!);
    expect(source.archivedUpTo).toBe(1000);
    expect(restarted.stats.segments_reused).toBe(0);
    expect(s3.uploader.stats.uploads - uploads).toBe(source.archived.length - 1);
  });

  test("S3 down mid-run: errors counted, nothing unverified reported; after restart it catches up", async () => {
    const s3 = wireS3(server, { prefix: "down", maxRetries: 1, timeoutSecs: 2 });
    const records = makeRecords(3000, 26, { startMs });
    const source = new MemorySource(records);
    let reported = 0;
    const archiver = new Archiver({
      source,
      uploader: s3.uploader,
      layout: s3.layout,
      config,
      onSegmentArchived: async (descriptor) => {
        source.onSegmentArchived(descriptor);
        if (++reported === 2) await server.pause();
      },
    });
    const down = await archiver.runOnce(startMs + 1e9);
    expect(down.error?.code).toBe("unavailable");
    expect(down.archived.length).toBe(2);
    expect(source.archived.length).toBe(2);
    expect(archiver.stats.errors).toBe(1);
    expect(s3.uploader.stats.errors).toBeGreaterThanOrEqual(1);
    expect(s3.uploader.stats.retries).toBeGreaterThanOrEqual(1);

    const stillDown = await archiver.runOnce(startMs + 1e9);
    expect(stillDown.error).toBeDefined();
    expect(source.archived.length).toBe(2);
    expect(archiver.stats.errors).toBe(2);

    await server.resume();
    const caughtUp = await archiver.runOnce(startMs + 1e9);
    expect(caughtUp.error).toBeUndefined();
    expect(source.archivedUpTo).toBe(3000);
    const manifest = (await readManifest(s3.uploader, s3.layout))!;
    expect(manifest.segments).toEqual(source.archived);
  });

  test("a source whose value does not match its entry is a broken invariant: it throws, nothing is uploaded", async () => {
    const s3 = wireS3(server, { prefix: "broken" });
    const records = makeRecords(300, 28, { startMs });
    const target = records.findIndex((r) => r.value.length > 0);
    records[target] = { entry: records[target]!.entry, value: records[target]!.value.map((b) => b ^ 1) };
    const source = new MemorySource(records);
    const archiver = archiverFor(source, s3.uploader, s3.layout);
    await expect(archiver.runOnce(startMs + 1e9)).rejects.toThrow(new RegExp(`value at index ${target} does not match its valueHash`));
    expect(source.archived).toEqual([]);
    expect(await s3.uploader.head(s3.layout.manifestKey())).toBeUndefined();
  });

  test("the next segment is prepared while one uploads, yet nothing of it is written before the one before it is listed", async () => {
    const records = makeRecords(3000, 31, { startMs });
    const reference = wireS3(server, { prefix: "pipeline-ref" });
    const referenceSource = new MemorySource(records);
    await archiverFor(referenceSource, reference.uploader, reference.layout).runOnce(startMs + 1e9);
    const segments = referenceSource.archived;
    expect(segments.length).toBeGreaterThanOrEqual(4);

    const s3 = wireS3(server, { prefix: "pipeline" });
    const faulty = new FaultyUploader(s3.uploader.client, { bucket: server.bucket, attemptsMax: 1 });
    const keyOf = (segment: (typeof segments)[number]) => s3.layout.segmentKey(segment.first_index, segment.last_index, true);
    faulty.faults.push({ op: "writeOnce", key: new RegExp(`${keyOf(segments[1]!)}$`), remaining: 1 });
    const source = new MemorySource(records);
    const first = await archiverFor(source, faulty, s3.layout).runOnce(startMs + 1e9);
    expect(first.error?.message).toMatch(/injected fault/);
    const inBucket = (segment: (typeof segments)[number]) => ({ ...segment, object_key: keyOf(segment) });
    expect(first.archived).toEqual([inBucket(segments[0]!)]);
    expect((await readManifest(s3.uploader, s3.layout))!.segments).toEqual([inBucket(segments[0]!)]);
    // Segment 3 was prepared while segment 2 was being sealed, but never reached the bucket.
    for (const later of segments.slice(1)) expect(await s3.uploader.head(keyOf(later))).toBeUndefined();
    // Each range is read twice: once to choose it (this source has no variableBytes), once to seal it.
    expect(source.readCalls).toBe(2 * 3);

    const second = await archiverFor(source, faulty, s3.layout).runOnce(startMs + 1e9);
    expect(second.error).toBeUndefined();
    expect(source.archived).toEqual(segments.map(inBucket));
    expect((await readManifest(s3.uploader, s3.layout))!.segments).toEqual(segments.map(inBucket));
  });

  test("a source failing to give the next range fails the run only after the segment before it is sealed", async () => {
    const s3 = wireS3(server, { prefix: "next-fails" });
    const source = new MemorySource(makeRecords(1000, 32, { startMs }));
    const readRange = source.readRange.bind(source);
    source.readRange = function* (from, to) {
      if (from > 0) throw new ScribeError("unavailable", `the hot tier has no entry at ${from}`);
      yield* readRange(from, to);
    };
    const result = await archiverFor(source, s3.uploader, s3.layout).runOnce(startMs + 1e9);
    expect(result.error?.message).toMatch(/no entry at/);
    expect(result.archived.length).toBe(1);
    expect(source.archived).toEqual(result.archived);
    expect((await readManifest(s3.uploader, s3.layout))!.segments).toEqual(result.archived);
  });

  test("a checkpoint that failed to publish is published on the next run, after the manifest", async () => {
    const s3 = wireS3(server, { prefix: "ckpt" });
    const faulty = new FaultyUploader(s3.uploader.client, { bucket: server.bucket, attemptsMax: 1 });
    faulty.faults.push({ op: "putBytes", key: /checkpoint$/, remaining: 1 });
    const source = new MemorySource(makeRecords(500, 29, { startMs }));
    const archiver = archiverFor(source, faulty, s3.layout, {}, (tree) => `size ${tree.tree_size}`);
    const first = await archiver.runOnce(startMs + 1e9);
    expect(first.error?.message).toMatch(/checkpoint/);
    expect(source.archivedUpTo).toBe(500);
    expect(await readCheckpoint(s3.uploader, s3.layout)).toBeUndefined();
    const second = await archiver.runOnce(startMs + 1e9);
    expect(second).toEqual({ archived: [], more: false });
    expect(await readCheckpoint(s3.uploader, s3.layout)).toBe("size 500");
  });

  test("uncompressed segments are stored raw under a .seg key", async () => {
    const s3 = wireS3(server, { prefix: "raw" });
    const source = new MemorySource(makeRecords(300, 27, { startMs }));
    const result = await archiverFor(source, s3.uploader, s3.layout, { enable_compression: false }).runOnce(startMs + 1e9);
    expect(result.error).toBeUndefined();
    const segment = result.archived[0]!;
    expect(segment.object_key.endsWith(".seg")).toBe(true);
    expect(segment.object_sha256).toBe(segment.raw_sha256);
    expect(decodeSegmentBytes(readFileSync(server.objectPath(segment.object_key))).records.length).toBe(segment.count);
  });
});

/** Last index of the first segment a fresh archiver would seal from `records` (size rule). */
function findLast(records: ReturnType<typeof makeRecords>, segmentBytes: number): number {
  let bytes = 22 + 44;
  for (const [i, r] of records.entries()) {
    bytes += 8 + 72 + Buffer.byteLength(r.entry.key) + Buffer.byteLength(r.entry.contentType) + r.value.length;
    if (bytes >= segmentBytes) return i;
  }
  return records.length - 1;
}
