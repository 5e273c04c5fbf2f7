import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { encodeEntry } from "../../src/ledger/entry.ts";
import { ScribeError, toHex } from "../../src/lib/index.ts";
import {
  Archiver,
  ColdReader,
  collect,
  encodeManifest,
  encodeSegmentBytes,
  gzipStream,
  readManifest,
  restoreFromBucket,
  sha256,
  type Manifest,
  type SegmentRecord,
} from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { leavesOf, makeRecords, MemorySource, naiveTreeHash, recordCommands, wireS3, type S3Wiring } from "./fixtures.ts";

const startMs = 1_700_000_000_000;
const records = makeRecords(2500, 31, { startMs });
let server: S3ServerHandle;
let s3: S3Wiring;
let manifest: Manifest;

beforeAll(async () => {
  server = await startS3Server();
  s3 = wireS3(server, { prefix: "rr" });
  const source = new MemorySource(records);
  const archiver = new Archiver({
    source,
    uploader: s3.uploader,
    layout: s3.layout,
    config: { segment_bytes: 48 * 1024, age_threshold_secs: 1, compression_level: 6, enable_compression: true },
    onSegmentArchived: source.onSegmentArchived,
    checkpoint: () => "example.com/log\n2500\nAAAA\n",
  });
  const result = await archiver.runOnce(startMs + 1e9);
  if (result.error) throw result.error;
  manifest = (await readManifest(s3.uploader, s3.layout))!;
});
afterAll(async () => {
  await server.stop();
});

describe("read-through", () => {
  test("returns verified values; one fetch per segment, then cache hits", async () => {
    const reader = new ColdReader({ uploader: s3.uploader, manifest: () => manifest });
    const commands = recordCommands(s3.uploader.client);
    for (const index of [0, 1, 1700, 2499, 5, 1701]) {
      const value = await reader.getValue(records[index]!.entry);
      expect(Buffer.from(value).equals(Buffer.from(records[index]!.value))).toBe(true);
    }
    expect(reader.stats.fetches).toBe(3);
    expect(reader.stats.hits).toBe(3);
    expect(commands.filter((c) => c.name === "GetObjectCommand").length).toBe(3);
  });

  test("the LRU is bounded by bytes and evicts the least recently used segment", async () => {
    const segmentRaw = Math.max(...manifest.segments.map((s) => s.raw_bytes));
    const reader = new ColdReader({ uploader: s3.uploader, manifest: () => manifest, cacheBytesMax: Math.floor(segmentRaw * 2.5) });
    for (const segment of manifest.segments) await reader.getRecord(segment.first_index);
    expect(reader.stats.cached_segments).toBeLessThanOrEqual(2);
    expect(reader.stats.cached_bytes).toBeLessThanOrEqual(Math.floor(segmentRaw * 2.5));
    expect(reader.stats.evictions).toBe(manifest.segments.length - reader.stats.cached_segments);
    await reader.getRecord(manifest.segments.at(-1)!.first_index);
    expect(reader.stats.hits).toBe(1);
    await reader.getRecord(0);
    expect(reader.stats.fetches).toBe(manifest.segments.length + 1);
  });

  test("concurrent reads of one segment share one fetch", async () => {
    const reader = new ColdReader({ uploader: s3.uploader, manifest: () => manifest });
    await Promise.all([10, 11, 12, 13].map((i) => reader.getValue(records[i]!.entry)));
    expect(reader.stats.fetches).toBe(1);
  });

  test("an entry that disagrees with the archive, or an index not archived, is an error", async () => {
    const reader = new ColdReader({ uploader: s3.uploader, manifest: () => manifest });
    const forged = { ...records[7]!.entry, valueHash: sha256(new Uint8Array([9])) };
    await expect(reader.getValue(forged)).rejects.toMatchObject({ code: "verification_failed" });
    await expect(reader.getRecord(2500)).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("restore", () => {
  test("streams every entry in index order; the root matches the ledger's", async () => {
    const seen: SegmentRecord[] = [];
    const result = await restoreFromBucket({ uploader: s3.uploader, layout: s3.layout, sink: (r) => void seen.push(r) });
    expect(result).toMatchObject({ first_index: 0, tree_size: 2500, entries: 2500, segments: manifest.segments.length });
    expect(result.checkpoint).toBe("example.com/log\n2500\nAAAA\n");
    expect(result.root).toBe(toHex(naiveTreeHash(leavesOf(records))));
    expect(seen.map((r) => r.entry.index)).toEqual(records.map((r) => r.entry.index));
    for (const [i, r] of seen.entries()) {
      expect(toHex(encodeEntry(r.entry))).toBe(toHex(encodeEntry(records[i]!.entry)));
      expect(toHex(sha256(r.value))).toBe(toHex(records[i]!.entry.valueHash));
    }
  });
});

describe("tamper detection", () => {
  async function restoreError(useManifest?: Manifest): Promise<ScribeError> {
    let delivered = 0;
    try {
      await restoreFromBucket({ uploader: s3.uploader, layout: s3.layout, manifest: useManifest, sink: () => void delivered++ });
    } catch (error) {
      expect(error).toBeInstanceOf(ScribeError);
      return error as ScribeError;
    }
    throw new Error(`restore succeeded (${delivered} delivered)`);
  }

  test("a byte flipped in an object on disk: restore and read-through name the object and index", async () => {
    const segment = manifest.segments[2]!;
    const path = server.objectPath(segment.object_key);
    const original = readFileSync(path);
    try {
      const tampered = Buffer.from(original);
      tampered[Math.floor(tampered.length / 2)] ^= 0x40;
      writeFileSync(path, tampered);
      const error = await restoreError();
      expect(error.code).toBe("verification_failed");
      expect(error.message).toContain(segment.object_key);
      expect(error.details).toMatchObject({ object_key: segment.object_key, index: segment.first_index });
      const reader = new ColdReader({ uploader: s3.uploader, manifest: () => manifest });
      await expect(reader.getValue(records[segment.first_index + 1]!.entry)).rejects.toMatchObject({
        code: "verification_failed",
        details: { object_key: segment.object_key },
      });
      expect(await reader.getValue(records[0]!.entry)).toBeDefined();
    } finally {
      writeFileSync(path, original);
    }
  });

  test("an object rewritten through PutObject with a forged value and a matching manifest: the value's index is named", async () => {
    const segment = manifest.segments[1]!;
    const path = server.objectPath(segment.object_key);
    const original = readFileSync(path);
    try {
      const target = records.findIndex((r, i) => i > segment.first_index + 3 && r.value.length > 10);
      const forged = records.slice(segment.first_index, segment.last_index + 1).map((r) => ({ entry: r.entry, value: r.value.slice() }));
      // Re-encode honestly, then change one value byte in the raw bytes (the encoder would refuse it).
      const raw = encodeSegmentBytes(segment.first_index, forged);
      let offset = 22;
      for (let i = segment.first_index; i < target; i++) offset += 8 + encodeEntry(records[i]!.entry).length + records[i]!.value.length;
      raw[offset + 4 + encodeEntry(records[target]!.entry).length + 4] ^= 0x01;
      const object = await collect(gzipStream([raw], 6));
      await s3.uploader.putBytes(segment.object_key, object, "application/gzip");
      const forgedManifest: Manifest = {
        ...manifest,
        segments: manifest.segments.map((s) =>
          s === segment ? { ...s, object_bytes: object.length, object_sha256: toHex(sha256(object)), raw_sha256: toHex(sha256(raw)) } : s,
        ),
      };
      const error = await restoreError(forgedManifest);
      expect(error.details).toMatchObject({ object_key: segment.object_key, index: target });
      expect(error.message).toContain(`index ${target}`);
      // With the real manifest, the object hash already differs.
      const plain = await restoreError();
      expect(plain.message).toMatch(/object sha256|object has \d+ bytes/);
    } finally {
      await s3.uploader.putBytes(segment.object_key, original, "application/gzip");
    }
  });

  test("a consistently forged entry (valid segment, forged manifest) breaks the tree root", async () => {
    const segment = manifest.segments[0]!;
    const original = readFileSync(server.objectPath(segment.object_key));
    try {
      const forged = records.slice(0, segment.count).map((r) => ({ entry: { ...r.entry }, value: r.value }));
      forged[3]!.entry.timestampMs += 1;
      const raw = encodeSegmentBytes(0, forged);
      const object = await collect(gzipStream([raw], 6));
      await s3.uploader.putBytes(segment.object_key, object, "application/gzip");
      const leaves = leavesOf(forged);
      const forgedManifest: Manifest = {
        ...manifest,
        segments: manifest.segments.map((s) =>
          s === segment
            ? {
                ...s,
                object_bytes: object.length,
                object_sha256: toHex(sha256(object)),
                raw_bytes: raw.length,
                raw_sha256: toHex(sha256(raw)),
                leaves_root: toHex(naiveTreeHash(leaves)),
              }
            : s,
        ),
      };
      const error = await restoreError(forgedManifest);
      expect(error.message).toMatch(/tree root/);
      expect(error.details).toMatchObject({ object_key: segment.object_key, index: segment.last_index });
    } finally {
      await s3.uploader.putBytes(segment.object_key, original, "application/gzip");
    }
  });

  test("a manifest that is not contiguous is refused", async () => {
    const broken = { ...manifest, segments: [manifest.segments[0]!, manifest.segments[2]!] };
    await s3.uploader.putBytes(s3.layout.manifestKey(), encodeManifest(broken), "application/json");
    try {
      const error = await restoreError();
      expect(error.message).toMatch(/manifest: segment 1 starts at/);
    } finally {
      await s3.uploader.putBytes(s3.layout.manifestKey(), encodeManifest(manifest), "application/json");
    }
  });
});
