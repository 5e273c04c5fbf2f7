/**
 * The archiver publishing the tree as C2SP tiles into a real s3rver: tiles up to the archived
 * size before the checkpoint that covers them, a bucket archived before tiles existed catching up
 * first, an existing object with other bytes never overwritten, and tile writes that fail midway
 * completed by the next run. Each bucket is then audited from its objects alone (auditTiles).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { auditTiles, httpTileSource, parseVerifierKey, type TileAuditResult } from "../../src/client/index.ts";
import { encodeEntry } from "../../src/ledger/entry.ts";
import { MemoryTreeStore, MerkleTree, nodeRunReader, signCheckpoint } from "../../src/merkle/index.ts";
import { createNativeHasher, generateSigner } from "../../src/crypto/index.ts";
import { Archiver, publishTiles, readCheckpoint, readManifest, Uploader, type ArchiverConfig, type CheckedUpperHashes, type Layout, type LogTileSource } from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { FaultyUploader, makeRecords, MemorySource, recordCommands, wireS3, type LedgerRecord } from "./fixtures.ts";

const config: ArchiverConfig = { segment_bytes: 64 * 1024, age_threshold_secs: 60, compression_level: 6, enable_compression: true };
const startMs = 1_700_000_000_000;
const origin = "scribe.test/tiles";
const { signer, verifierKey } = await generateSigner("scribe.test");
const verifiers = [await parseVerifierKey(verifierKey)];

let server: S3ServerHandle;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server.stop();
});

/** The node's side: a tree over the records (the tree store) and their entries. */
function treeOf(records: readonly LedgerRecord[]) {
  const tree = MerkleTree.open({ hasher: createNativeHasher(), store: new MemoryTreeStore() });
  tree.appendLeaves(records.map((r) => encodeEntry(r.entry)));
  const tiles: LogTileSource = { hashes: nodeRunReader(tree.store), entries: (from, to) => records.slice(from, to).map((r) => r.entry) };
  return { tree, tiles };
}

function archiverFor(source: MemorySource, uploader: Uploader, layout: Layout, tree: MerkleTree, tiles?: LogTileSource) {
  return new Archiver({
    source,
    uploader,
    layout,
    config,
    onSegmentArchived: source.onSegmentArchived,
    checkpoint: ({ tree_size }) => signCheckpoint({ origin, size: tree_size, rootHash: tree.rootAt(tree_size) }, signer),
    ...(tiles ? { tiles } : {}),
  });
}

const audit = (prefix: string): Promise<TileAuditResult> => auditTiles({ source: httpTileSource(`${server.endpoint}/${server.bucket}/${prefix}`), verifiers });
const lastMs = (records: readonly LedgerRecord[]) => records.at(-1)!.entry.timestampMs;

test("tiles up to the archived size go in before the checkpoint; the bucket then audits with every value", async () => {
  const s3 = wireS3(server, { prefix: "tiles-basic" });
  const records = makeRecords(1_500, 3, { startMs });
  const source = new MemorySource(records);
  const { tree, tiles } = treeOf(records);
  const archiver = archiverFor(source, s3.uploader, s3.layout, tree, tiles);
  const run = await archiver.runOnce(lastMs(records) + 61_000);
  expect(run.error).toBeUndefined();
  expect(source.archivedUpTo).toBe(1_500);
  expect((await readManifest(s3.uploader, s3.layout))!.tiles_size).toBe(1_500);
  expect(archiver.stats.tiles_written).toBeGreaterThanOrEqual(2 * 6 + 1); // 6 bundles and level 0 tiles, a level 1 tile; more partials at segment ends
  // The objects tell a CDN in front of the bucket what the node's routes say.
  const base = `${server.endpoint}/${server.bucket}/tiles-basic`;
  expect((await fetch(`${base}/tile/0/000`)).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  expect((await fetch(`${base}/tile/entries/005.p/220`)).headers.get("cache-control")).toBe("public, max-age=10");
  const result = await audit("tiles-basic");
  expect(result.ok && result.stats).toMatchObject({ entries: 1_500, values: 1_500, valuesChecked: true });
}, 60_000);

test("a bucket archived before tiles existed gets them first, then the new segments, then the checkpoint", async () => {
  const s3 = wireS3(server, { prefix: "tiles-backfill" });
  const records = makeRecords(2_000, 5, { startMs });
  const source = new MemorySource(records.slice(0, 1_200));
  const old = treeOf(records.slice(0, 1_200));
  expect((await archiverFor(source, s3.uploader, s3.layout, old.tree).runOnce(lastMs(records) + 61_000)).error).toBeUndefined();
  const before = (await readManifest(s3.uploader, s3.layout))!;
  expect(before.next_index).toBe(1_200);
  expect(before.tiles_size).toBeUndefined();
  expect((await audit("tiles-backfill")).ok).toBe(false); // a checkpoint, but no tiles

  source.records = records;
  const { tree, tiles } = treeOf(records);
  const archiver = archiverFor(source, s3.uploader, s3.layout, tree, tiles);
  expect((await archiver.runOnce(lastMs(records) + 61_000)).error).toBeUndefined();
  const after = (await readManifest(s3.uploader, s3.layout))!;
  expect(after.next_index).toBe(2_000);
  expect(after.tiles_size).toBe(2_000);
  const result = await audit("tiles-backfill");
  expect(result.ok && result.checkpoint.size).toBe(2_000);
}, 60_000);

test("a backfill of tiles says more is to do while it moves, and not once the hot tier has nothing more to give it", async () => {
  const s3 = wireS3(server, { prefix: "tiles-backfill-more" });
  const records = makeRecords(1_200, 6, { startMs });
  const source = new MemorySource(records);
  const old = treeOf(records);
  expect((await archiverFor(source, s3.uploader, s3.layout, old.tree).runOnce(lastMs(records) + 61_000)).error).toBeUndefined();
  const checkpoint = await readCheckpoint(s3.uploader, s3.layout);
  // The hot tier now holds only the first 600 entries (a node behind the bucket): the tiles can be caught up to 600 only.
  source.records = records.slice(0, 600);
  const { tree, tiles } = treeOf(records.slice(0, 600));
  const archiver = archiverFor(source, s3.uploader, s3.layout, tree, tiles);
  const first = await archiver.runOnce(lastMs(records) + 61_000);
  expect(first).toEqual({ archived: [], more: true });
  expect((await readManifest(s3.uploader, s3.layout))!.tiles_size).toBe(600);
  const second = await archiver.runOnce(lastMs(records) + 61_000);
  expect(second).toEqual({ archived: [], more: false }); // another run at once could not move it: no busy loop
  expect(await readCheckpoint(s3.uploader, s3.layout)).toBe(checkpoint!); // no checkpoint while the tiles do not cover the archive
});

test("an existing tile object with other bytes is never overwritten: the run fails naming it, and no checkpoint covers it", async () => {
  const s3 = wireS3(server, { prefix: "tiles-conflict" });
  const records = makeRecords(600, 9, { startMs });
  const source = new MemorySource(records);
  const { tree, tiles } = treeOf(records);
  const squatter = new Uint8Array(8192).fill(7);
  const key = s3.layout.hashTileKey({ level: 0, index: 1, width: 256 });
  await s3.uploader.putBytes(key, squatter, "application/octet-stream");

  const run = await archiverFor(source, s3.uploader, s3.layout, tree, tiles).runOnce(lastMs(records) + 61_000);
  expect(run.error?.code).toBe("conflict");
  expect(run.error?.message).toContain(key);
  expect(await s3.uploader.getBytes(key, 8192)).toEqual(squatter);
  expect(await readCheckpoint(s3.uploader, s3.layout)).toBeUndefined();
  // The tiles the manifest records stop before the growth that needs tile/0/001 full (entries
  // 256-511); the segments it lists may run ahead of them (their tiles are written behind them).
  const manifest = (await readManifest(s3.uploader, s3.layout))!;
  expect(manifest.tiles_size).toBeLessThan(512);
  expect(manifest.tiles_size).toBeLessThanOrEqual(manifest.next_index);

  // The operator removes the foreign object: the next run (a fresh archiver, as after a restart) finishes.
  await s3.uploader.delete(key);
  expect((await archiverFor(source, s3.uploader, s3.layout, tree, tiles).runOnce(lastMs(records) + 61_000)).error).toBeUndefined();
  expect((await audit("tiles-conflict")).ok).toBe(true);
}, 60_000);

test("tile writes failing midway are completed by the next run, and only then is the checkpoint published", async () => {
  const s3 = wireS3(server, { prefix: "tiles-faults" });
  const faulty = new FaultyUploader(s3.uploader.client, { bucket: server.bucket, partBytes: 5 * 1024 * 1024, attemptsMax: 2, backoffMsBase: 1, backoffMsMax: 2 });
  const records = makeRecords(900, 11, { startMs });
  const source = new MemorySource(records);
  const { tree, tiles } = treeOf(records);
  faulty.faults.push({ op: "putOnce", key: /tile\/entries\/002/, remaining: 1 });
  const archiver = archiverFor(source, faulty, s3.layout, tree, tiles);

  const failed = await archiver.runOnce(lastMs(records) + 61_000);
  expect(failed.error?.message).toContain("injected fault: putOnce tiles-faults/tile/entries/002");
  expect(await readCheckpoint(faulty, s3.layout)).toBeUndefined(); // the run stopped before its checkpoint
  const manifest = (await readManifest(faulty, s3.layout))!;
  expect(manifest.next_index).toBeLessThan(900);
  // The manifest never records tiles that are not all there: none from the growth that touches entries/002 (entries 512-767).
  expect(manifest.tiles_size).toBeLessThanOrEqual(512);
  expect(manifest.tiles_size).toBeLessThanOrEqual(manifest.next_index);

  const done = await archiver.runOnce(lastMs(records) + 61_000);
  expect(done.error).toBeUndefined();
  expect(archiver.stats.tiles_existing).toBeGreaterThan(0); // what the failed run wrote was kept, not rewritten
  const result = await audit("tiles-faults");
  expect(result.ok && result.checkpoint.size).toBe(900);
}, 60_000);

test("an archiver lists the bucket's tiles once, to the end of each level, and its later growths write without listing; after a failure it lists again", async () => {
  const s3 = wireS3(server, { prefix: "tiles-listed-once" });
  const faulty = new FaultyUploader(s3.uploader.client, { bucket: server.bucket, partBytes: 5 * 1024 * 1024, attemptsMax: 1, backoffMsBase: 1, backoffMsMax: 2 });
  const records = makeRecords(2_400, 13, { startMs });
  const source = new MemorySource(records);
  const { tree, tiles } = treeOf(records);
  // What a crash of an earlier leader could leave: tiles and bundles beyond what any manifest records.
  const stats = { tiles_written: 0, tiles_existing: 0 };
  await publishTiles({ uploader: s3.uploader, layout: s3.layout, source: tiles, from: 0, to: 2_048, stats });
  const commands = recordCommands(s3.uploader.client);
  const lists = () => commands.filter((c) => c.name === "ListObjectsV2Command").length;
  faulty.faults.push({ op: "putOnce", key: /tile\/entries\/008\.p/, remaining: 1 }); // the growth that reaches past 2,048

  const archiver = archiverFor(source, faulty, s3.layout, tree, tiles);
  const failed = await archiver.runOnce(lastMs(records) + 61_000);
  expect(failed.error?.message).toContain("injected fault");
  expect(failed.archived.length).toBeGreaterThanOrEqual(4); // several growths of tiles in this run
  // One listing per tile level and one of the bundles, for the whole run: the first growth's, to
  // the end of each, which found the leftovers every later growth then kept instead of writing.
  expect(lists()).toBeLessThanOrEqual(3);
  // The full tiles and bundles below 2,048 the run reached before its failure (in the growth that holds tile 7) were kept.
  expect(archiver.stats.tiles_existing).toBeGreaterThanOrEqual(2 * 6);
  const listsBefore = lists();
  const done = await archiver.runOnce(lastMs(records) + 61_000);
  expect(done.error).toBeUndefined();
  expect(lists()).toBeGreaterThan(listsBefore); // after the failure, the next growth listed again
  const result = await audit("tiles-listed-once");
  expect(result.ok && result.checkpoint.size).toBe(2_400);
}, 60_000);

test("upper tiles republished as the archive grows still check each new hash against its child tile", async () => {
  const s3 = wireS3(server, { prefix: "tiles-upper" });
  const records = makeRecords(256 * 5, 47, { startMs });
  const { tree, tiles } = treeOf(records);
  const checkedUpper: CheckedUpperHashes = new Map();
  const stats = { tiles_written: 0, tiles_existing: 0 };
  await publishTiles({ uploader: s3.uploader, layout: s3.layout, source: tiles, from: 0, to: 256 * 3, stats, checkedUpper });
  // The stored hash of the 4th full level-0 tile (tree level 8, index 3) is wrong from now on.
  const bad = (level: number, index: number, count: number) => {
    const run = tiles.hashes.readRun(level, index, count)?.slice();
    if (run && level === 8 && index <= 3 && index + count > 3) run[(3 - index) * 32] ^= 1;
    return run;
  };
  const tampered: LogTileSource = { ...tiles, hashes: { readRun: bad } };
  const growth = { uploader: s3.uploader, layout: s3.layout, source: tampered, from: 256 * 3, to: 256 * 5, stats, checkedUpper };
  await expect(publishTiles(growth)).rejects.toThrow(/tile\/1\/000\.p\/5 hash 3 differs from the hash of tile\/0\/003/);
});

test("a sealed segment's leaf hashes kept in memory that differ from the tree store's are refused before any tile is written", async () => {
  const records = makeRecords(256 * 2 + 40, 53, { startMs });
  const { tiles } = treeOf(records);
  const hasher = createNativeHasher();
  const encoded = records.map((r) => encodeEntry(r.entry));
  const leaves = encoded.map((bytes) => hasher.hashLeaf(bytes));
  const stats = { tiles_written: 0, tiles_existing: 0 };
  // One leaf flipped in a full tile (found through its parent's hash), then in the partial one (compared).
  for (const [prefix, index, message] of [
    ["tiles-memory-full", 300, /tile\/1\/000\.p\/2 hash 1 differs from the hash of tile\/0\/001/],
    ["tiles-memory-partial", 520, /tile\/0\/002\.p\/40: the sealed entries' leaf hashes differ from the tree store's/],
  ] as const) {
    const s3 = wireS3(server, { prefix });
    const wrong = leaves.map((leaf, i) => (i === index ? leaf.map((b, j) => (j === 0 ? b ^ 1 : b)) : leaf));
    const known = { first: 0, encoded, leaves: wrong };
    await expect(publishTiles({ uploader: s3.uploader, layout: s3.layout, source: tiles, from: 0, to: records.length, stats, known })).rejects.toThrow(message);
    expect(await s3.uploader.keysBetween(s3.layout.logKey("tile/"), s3.layout.logKey("tile/~"))).toEqual(new Map());
  }
  // The same leaves unchanged publish tiles a bucket audit accepts, byte for byte the tree store's.
  const s3 = wireS3(server, { prefix: "tiles-memory-ok" });
  await publishTiles({ uploader: s3.uploader, layout: s3.layout, source: tiles, from: 0, to: records.length, stats, known: { first: 0, encoded, leaves } });
  for (const t of [{ level: 0, index: 1, width: 256 }, { level: 0, index: 2, width: 40 }]) {
    expect(await s3.uploader.getBytes(s3.layout.hashTileKey(t), 8192)).toEqual(tiles.hashes.readRun(0, t.index * 256, t.width)!);
  }
});
