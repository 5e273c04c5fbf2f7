/**
 * @module tile-writer. Publishes the ledger's tree into the bucket as C2SP tlog-tiles, beside the
 * segments: when the archive grows from `from` to `to` entries, every hash tile and entry bundle
 * that became full, and the partial ones of size `to` (src/merkle/tiles.ts tilesBetween), each
 * written once (Uploader.putOnce: never overwritten; an identical object already there is kept).
 *
 * The bytes come from the node: hash tiles from its stored tree nodes through the narrow
 * NodeRunReader interface, bundles from its entries (no values needed, so a range whose values
 * were evicted can still be published), or, for the entries of the segment just sealed, from the
 * encodings and leaf hashes its one encoding pass kept (`known`, segment-prep.ts); those leaf
 * hashes are then its level 0 tiles' hashes too (no read of the tree store). Everything is
 * checked: a level 0 tile read from the tree store must hold the leaf hashes of its bundle's
 * entries (checked before it is written); a hash in a level L ≥ 1 tile must be the Merkle tree
 * hash of its full child tile, and a level 0 tile from memory must equal the tree store's (a full
 * one through its parent's hash, a partial one compared), both checked before anything is
 * written. A mismatch is a broken invariant of the node.
 */

import { encodeEntry, type Entry } from "../../ledger/index.ts";
import { assert, bytesEqual, fail, toHex } from "../../lib/index.ts";
import {
  encodeEntryBundle,
  fullTileCacheControl,
  partialTileCacheControl,
  fullTileHash,
  hashSize,
  hashTilePath,
  readHashTile,
  tilesBetween,
  tileHeight,
  tileWidthMax,
  type NodeRunReader,
  type Tile,
} from "../../merkle/index.ts";
import { createNativeHasher } from "../../crypto/index.ts";
import type { Layout } from "./layout.ts";
import type { Uploader } from "./uploader.ts";

/** What the tiles are made of: the node's stored tree hashes and its entries. */
export interface LogTileSource {
  /** Stored hashes of the tree (the node's TreeStore). */
  readonly hashes: NodeRunReader;
  /** Entries [from, toExclusive), in index order (values are not needed). */
  entries(from: number, toExclusive: number): Iterable<Entry>;
}

/** Canonical entry encodings and their leaf hashes for indexes [first, first + encoded.length). */
export interface EncodedEntries {
  first: number;
  encoded: Uint8Array[];
  leaves: Uint8Array[];
}

/**
 * Per tile level >= 1, a run [from, to) of hash positions already checked against the hash of
 * their full child tiles, and the last tile of the level checked. Stored hashes of full subtrees
 * never change, so a partial upper tile republished as the archive grows only reads and checks
 * its new hashes, not all up to 256 (each a point read of the tree store) and their children again.
 */
export type CheckedUpperHashes = Map<number, { from: number; to: number; last?: { index: number; hashes: Uint8Array } }>;

export interface TileWriteStats {
  /** Hash tiles and entry bundles written and read back. */
  tiles_written: number;
  /** Hash tiles and entry bundles found already there with the same bytes. */
  tiles_existing: number;
}

/**
 * Tile objects written at once: enough to keep the store busy while each PUT waits for its answer
 * (8 left a local s3rver idle more than half the time; 32 drained 1.08x faster: docs/PERFORMANCE.md
 * section 11), few enough to bound memory (a bundle is at most ~350 KB, so about 11 MB).
 */
export const tileWritesInFlightMax = 32;

const hasher = createNativeHasher();

/**
 * The tile and bundle keys a caller (the archiver) keeps across growths: listed once, from the
 * first key a growth writes to the end of each tile level and of the bundles, so they include what
 * a crash left beyond the tiles the manifest records. Later growths then need no listing of their
 * own: the keys they write were absent unless listed here. The caller drops `keys` after a failed
 * growth (some of its objects may be there now), and the next growth lists again.
 */
export interface ListedTiles {
  keys?: Map<string, number>;
}

export interface PublishTilesOptions {
  uploader: Uploader;
  layout: Layout;
  source: LogTileSource;
  /** The archive's size before (tiles for it exist) and after. */
  from: number;
  to: number;
  stats: TileWriteStats;
  /** Entries already encoded and leaf-hashed (the segment just sealed): bundles within it are built from these. */
  known?: EncodedEntries;
  /** Upper-tile hashes checked by earlier calls (kept by the caller across calls), updated here. */
  checkedUpper?: CheckedUpperHashes;
  /** Keys listed by an earlier call (kept by the caller across calls); without it, each call lists the keys it writes. */
  listedTiles?: ListedTiles;
}

/** Writes the tiles and bundles of the growth from `from` to `to`; see the module comment. */
export async function publishTiles(options: PublishTilesOptions): Promise<void> {
  const queue = tilesBetween(options.from, options.to);
  const checked = checkedHashes(options, queue);
  const kept = options.listedTiles;
  const listed = kept?.keys ?? (await listExisting(options, queue, kept !== undefined));
  if (kept && listed) kept.keys = listed;
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    try {
      while (next < queue.length && !failed) {
        const i = next++;
        await publishTile(options, queue[i]!, checked[i], listed);
      }
    } catch (error) {
      failed = true; // the other workers stop after their current object
      throw error;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(tileWritesInFlightMax, queue.length) }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) throw failure.reason;
}

/**
 * Before anything is written, the hashes of the tiles that need no bundle check: the level 0
 * tiles inside `known` (the sealed segment's leaf hashes, kept in memory, instead of a read of
 * the tree store) and every upper tile, checked. A full level 0 tile from memory is checked by
 * its parent's hash (an upper tile of the same growth: checkUpperTile hashes it, never skipped);
 * a partial one is compared with the tree store's leaves. The other level 0 tiles are read and
 * checked against their entries when written (undefined here).
 */
function checkedHashes(options: PublishTilesOptions, queue: readonly Tile[]): (Uint8Array | undefined)[] {
  const { source, known } = options;
  const fromMemory = new Map<number, Uint8Array>();
  const out = queue.map((t) => {
    const leaves = t.level === 0 ? knownLeaves(known, t) : undefined;
    if (leaves && t.width === tileWidthMax) fromMemory.set(t.index, leaves);
    else if (leaves) {
      const stored = readHashTile(source.hashes, t);
      if (!stored || !bytesEqual(stored, leaves)) fail(`${hashTilePath(t)}: the sealed entries' leaf hashes differ from the tree store's`);
    }
    return leaves;
  });
  queue.forEach((t, i) => {
    if (t.level === 0) return;
    const hashes = readUpperTile(source, t, options.checkedUpper);
    assert(hashes, `the tree store lacks the hashes of ${hashTilePath(t)}`);
    checkUpperTile(source, t, hashes, options.checkedUpper, t.level === 1 ? fromMemory : undefined);
    out[i] = hashes;
  });
  assert(fromMemory.size === 0, `level 0 tiles ${[...fromMemory.keys()]} were not checked against an upper tile`);
  return out;
}

/** Upper tile `t` from the tree store; the hashes of the level's last checked tile (the same one, narrower) are not read again. */
function readUpperTile(source: LogTileSource, t: Tile, checked: CheckedUpperHashes | undefined): Uint8Array | undefined {
  const last = checked?.get(t.level)?.last;
  const kept = last && last.index === t.index && last.hashes.length <= t.width * hashSize ? last.hashes : undefined;
  if (!kept) return readHashTile(source.hashes, t);
  const keptCount = kept.length / hashSize;
  const rest = source.hashes.readRun(t.level * tileHeight, t.index * tileWidthMax + keptCount, t.width - keptCount);
  if (!rest) return undefined;
  const hashes = new Uint8Array(t.width * hashSize);
  hashes.set(kept);
  hashes.set(rest, kept.length);
  return hashes;
}

/** The leaf hashes of level 0 tile `t` from `known`, when it lies within it. */
function knownLeaves(known: EncodedEntries | undefined, t: Tile): Uint8Array | undefined {
  const offset = t.index * tileWidthMax - (known?.first ?? 0);
  if (!known || offset < 0 || offset + t.width > known.leaves.length) return undefined;
  const out = new Uint8Array(t.width * hashSize);
  for (let i = 0; i < t.width; i++) out.set(known.leaves[offset + i]!, i * hashSize);
  return out;
}

/**
 * Which of the objects to write exist already: one listing per tile level and one for the
 * bundles (each group's keys lie between its least and greatest, or with `toEnd`, from its least
 * to the end of the group), instead of a HEAD per object.
 */
async function listExisting(options: PublishTilesOptions, queue: readonly Tile[], toEnd: boolean): Promise<Map<string, number> | undefined> {
  const { uploader, layout } = options;
  const groups = new Map<string, { first: string; last: string }>();
  const add = (group: string, key: string, directory: string): void => {
    const g = groups.get(group);
    // Past every key of the group's directory (keys are ASCII).
    if (!g) groups.set(group, { first: key, last: toEnd ? `${layout.logKey(directory)}\uffff` : key });
    else if (key < g.first) g.first = key;
    else if (key > g.last) g.last = key;
  };
  for (const t of queue) {
    add(String(t.level), layout.hashTileKey(t), `tile/${t.level}/`);
    if (t.level === 0) add("entries", layout.entryBundleKey(t), "tile/entries/");
  }
  const listed = new Map<string, number>();
  for (const { first, last } of groups.values()) {
    const found = await uploader.keysBetween(first, last);
    if (!found) return undefined; // the bucket may not be listed: a HEAD per object
    for (const [key, bytes] of found) listed.set(key, bytes);
  }
  return listed;
}

async function publishTile(options: PublishTilesOptions, t: Tile, checked: Uint8Array | undefined, listed: ReadonlyMap<string, number> | undefined): Promise<void> {
  const { uploader, layout, source, stats } = options;
  const hashes = checked ?? readHashTile(source.hashes, t);
  assert(hashes, `the tree store lacks the hashes of ${hashTilePath(t)}`);
  // A level 0 tile from memory holds the leaf hashes of the very encodings its bundle is made of.
  const bundle = t.level !== 0 ? undefined : checked ? knownBundle(options.known!, t) : bundleOf(source, t, hashes);
  const count = (outcome: "written" | "existed") => (outcome === "written" ? stats.tiles_written++ : stats.tiles_existing++);
  // What a CDN in front of the bucket should do with it (the node serves the same headers).
  const cacheControl = t.width === tileWidthMax ? fullTileCacheControl : partialTileCacheControl;
  count(await uploader.putOnce(layout.hashTileKey(t), hashes, "application/octet-stream", { cacheControl, listed }));
  if (bundle) count(await uploader.putOnce(layout.entryBundleKey(t), bundle, "application/octet-stream", { cacheControl, listed }));
}

/** The entry bundle of level 0 tile `t` inside `known`, from its kept encodings. */
function knownBundle(known: EncodedEntries, t: Tile): Uint8Array {
  const offset = t.index * tileWidthMax - known.first;
  return encodeEntryBundle(known.encoded.slice(offset, offset + t.width));
}

/** The entry bundle of level 0 tile `t`, read from the source, after checking its entries hash to the tile's leaves. */
function bundleOf(source: LogTileSource, t: Tile, hashes: Uint8Array): Uint8Array {
  const first = t.index * tileWidthMax;
  const encoded: Uint8Array[] = [];
  for (const entry of source.entries(first, first + t.width)) {
    const index = first + encoded.length;
    assert(entry.index === index, `entries for ${hashTilePath(t)}: expected index ${index}, got ${entry.index}`);
    const bytes = encodeEntry(entry);
    const leaf = hasher.hashLeaf(bytes);
    const stored = hashes.subarray(encoded.length * hashSize, (encoded.length + 1) * hashSize);
    if (!bytesEqual(leaf, stored)) fail(`entry ${index} hashes to ${toHex(leaf)}, but the tree stores leaf ${toHex(stored)}`);
    encoded.push(bytes);
  }
  assert(encoded.length === t.width, `${hashTilePath(t)} needs ${t.width} entries, the source gave ${encoded.length}`);
  return encodeEntryBundle(encoded);
}

/**
 * Checks each hash of a level ≥ 1 tile against the Merkle tree hash of its full child tile (those
 * not checked before; a child in `fromMemory`, level 0 tiles about to be written from the sealed
 * segment's leaves, always, and hashed from there instead of the tree store).
 */
function checkUpperTile(source: LogTileSource, t: Tile, hashes: Uint8Array, checked: CheckedUpperHashes | undefined, fromMemory: Map<number, Uint8Array> | undefined): void {
  const base = t.index * tileWidthMax;
  const done = checked?.get(t.level);
  for (let i = 0; i < t.width; i++) {
    const memory = fromMemory?.get(base + i);
    if (!memory && done && base + i >= done.from && base + i < done.to) continue;
    const child: Tile = { level: t.level - 1, index: base + i, width: tileWidthMax };
    if (memory) fromMemory!.delete(base + i);
    const childHashes = memory ?? readHashTile(source.hashes, child);
    assert(childHashes, `the tree store lacks the hashes of ${hashTilePath(child)}`);
    const expected = fullTileHash(hasher, childHashes);
    assert(bytesEqual(expected, hashes.subarray(i * hashSize, (i + 1) * hashSize)), `${hashTilePath(t)} hash ${i} differs from the hash of ${hashTilePath(child)}`);
  }
  const end = base + t.width;
  const joins = done !== undefined && base <= done.to && end >= done.from;
  const last = { index: t.index, hashes };
  checked?.set(t.level, joins ? { from: Math.min(base, done.from), to: Math.max(end, done.to), last } : { from: base, to: end, last });
}

/**
 * Reads the log's objects (`checkpoint`, `tile/...`, `manifest.json`, ...) from the bucket by path
 * relative to the prefix: the shape of src/client's TileSource, so the client's verifier and
 * auditor run over a bucket through the node's S3 client (restore does).
 */
export function bucketLogReader(uploader: Uploader, layout: Layout): { location: string; read(path: string, bytesMax: number): Promise<Uint8Array | undefined> } {
  return {
    location: `s3://${uploader.bucket}/${layout.prefix}`,
    read: (path, bytesMax) => uploader.withRetries(`get ${layout.logKey(path)}`, () => uploader.getBytes(layout.logKey(path), bytesMax)),
  };
}
