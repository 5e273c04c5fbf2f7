/**
 * @module tiles. The tree as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): pure math and
 * encodings, no I/O.
 *
 * A hash tile at level L and index N holds the hashes of the complete subtrees at tree level 8·L
 * with indexes N·256 .. N·256 + W - 1, 32 bytes each, back to back: W = 256 for a full tile, 1..255
 * for a partial one. Level 0 tiles hold leaf hashes; a hash in a level L ≥ 1 tile is the Merkle
 * tree hash of one full tile at level L - 1. An entry bundle N holds the leaves (canonical
 * entries) whose hashes are level 0 tile N, each prefixed by its length as a big-endian uint16.
 *
 * Paths (relative to the log's base URL):
 *   tile/<L>/<N>[.p/<W>]       hash tile
 *   tile/entries/<N>[.p/<W>]   entry bundle
 * where <N> is written in groups of three digits, all but the last prefixed with "x"
 * (1234067 → x001/x234/067), and <W> in 1..255 marks a partial tile.
 *
 * In a tree of `size` leaves, tile (L, N) has min(256, floor(size / 256^L) - 256·N) hashes
 * available: 256 makes it full; the partial tile of level L has floor(size / 256^L) mod 256.
 * Any node the tree has (a complete subtree, see node-id.ts) is inside exactly one tile of its
 * level band: node (8·L + r, i) with 0 ≤ r < 8 is the Merkle tree hash of the 2^r consecutive
 * hashes i·2^r .. (i+1)·2^r - 1 of level 8·L, which never cross a tile boundary.
 */

import { assert, fail, ScribeError } from "../lib/index.ts";
import { hashSize, type Hasher } from "./hasher.ts";
import { levelMax, rangeNodes, type NodeId } from "./node-id.ts";
import type { TreeStore } from "./tree-store.ts";
import { VerificationError } from "./verify.ts";

/** Tree levels one tile spans: a full tile is the 256 leaves of a subtree of height 8. */
export const tileHeight = 8;
/** Hashes in a full tile (2^tileHeight). */
export const tileWidthMax = 256;
/** Bytes of a full hash tile. */
export const tileBytesMax = tileWidthMax * hashSize;
/** Highest level a tile path may name (the spec's bound); trees of safe-integer size use 0..6. */
export const tileLevelMax = 63;
/** Longest leaf an entry bundle can hold: its length prefix is a uint16. */
export const bundleEntryBytesMax = 0xffff;

/** Full tiles and bundles never change: any cache may keep them for a year. */
export const fullTileCacheControl = "public, max-age=31536000, immutable";
/** Seconds a cache may keep a partial tile: its bytes never change, but it is superseded as the log grows. */
export const partialTileMaxAgeSecs = 10;
export const partialTileCacheControl = `public, max-age=${partialTileMaxAgeSecs}`;
/** Seconds a cache may keep the checkpoint (the spec: no more than a few). */
export const checkpointMaxAgeSecs = 2;
export const checkpointCacheControl = `public, max-age=${checkpointMaxAgeSecs}`;

/** A hash tile (any level) or an entry bundle (level 0): `width` hashes or entries, 256 = full. */
export interface Tile {
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** A parsed tile path: which tile, and whether it names the hashes or the entry bundle. */
export interface TileAddress {
  readonly kind: "hash" | "entries";
  readonly tile: Tile;
}

export function tile(level: number, index: number, width: number): Tile {
  assert(Number.isInteger(level) && level >= 0 && level <= tileLevelMax, `bad tile level ${level}`);
  assert(Number.isSafeInteger(index) && index >= 0, `bad tile index ${index}`);
  assert(Number.isInteger(width) && width >= 1 && width <= tileWidthMax, `bad tile width ${width}`);
  return { level, index, width };
}

export function isFullTile(t: Tile): boolean {
  return t.width === tileWidthMax;
}

/** A stable string key for maps and logs: the hash tile's path, or the bundle's. */
export function tileKey(t: Tile, kind: TileAddress["kind"] = "hash"): string {
  return kind === "hash" ? hashTilePath(t) : entryBundlePath(t);
}

// ---------------------------------------------------------------------------------------------
// Paths

/** The index path element(s): 1234067 → "x001/x234/067", 5 → "005". */
export function tileIndexPath(index: number): string {
  assert(Number.isSafeInteger(index) && index >= 0, `bad tile index ${index}`);
  let rest = index;
  let path = String(rest % 1000).padStart(3, "0");
  rest = Math.floor(rest / 1000);
  while (rest > 0) {
    path = `x${String(rest % 1000).padStart(3, "0")}/${path}`;
    rest = Math.floor(rest / 1000);
  }
  return path;
}

function widthSuffix(t: Tile): string {
  return isFullTile(t) ? "" : `.p/${t.width}`;
}

/** `tile/<L>/<N>[.p/<W>]` */
export function hashTilePath(t: Tile): string {
  return `tile/${t.level}/${tileIndexPath(t.index)}${widthSuffix(t)}`;
}

/** `tile/entries/<N>[.p/<W>]` (precondition: a level 0 tile). */
export function entryBundlePath(t: Tile): string {
  assert(t.level === 0, `entry bundles are level 0, got level ${t.level}`);
  return `tile/entries/${tileIndexPath(t.index)}${widthSuffix(t)}`;
}

function badPath(path: string, why: string): never {
  throw new ScribeError("invalid_request", `bad tile path ${JSON.stringify(path)}: ${why}`);
}

/**
 * Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (no leading slash). Only the
 * canonical spelling is accepted, so one tile has one path. Throws a ScribeError
 * `invalid_request` saying what is wrong.
 */
export function parseTilePath(path: string): TileAddress {
  const parts = path.split("/");
  if (parts[0] !== "tile" || parts.length < 3) badPath(path, "want tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]");
  const kind = parts[1] === "entries" ? "entries" : "hash";
  let level = 0;
  if (kind === "hash") {
    if (!/^(0|[1-9][0-9]?)$/.test(parts[1]!) || Number(parts[1]) > tileLevelMax) badPath(path, `the level must be 0..${tileLevelMax} without leading zeros, got ${JSON.stringify(parts[1])}`);
    level = Number(parts[1]);
  }
  let groups = parts.slice(2);
  let width = tileWidthMax;
  const partialAt = groups.length - 2;
  if (partialAt >= 0 && groups[partialAt]!.endsWith(".p")) {
    const widthText = groups[partialAt + 1]!;
    if (!/^[1-9][0-9]{0,2}$/.test(widthText) || Number(widthText) >= tileWidthMax) badPath(path, `a partial width must be 1..${tileWidthMax - 1} without leading zeros, got ${JSON.stringify(widthText)}`);
    width = Number(widthText);
    groups = [...groups.slice(0, partialAt), groups[partialAt]!.slice(0, -2)];
  }
  return { kind, tile: { level, index: parseIndexGroups(path, groups), width } };
}

function parseIndexGroups(path: string, groups: readonly string[]): number {
  const last = groups.length - 1;
  let digits = "";
  groups.forEach((group, i) => {
    const pattern = i === last ? /^[0-9]{3}$/ : /^x[0-9]{3}$/;
    if (!pattern.test(group)) badPath(path, `index element ${JSON.stringify(group)} must be ${i === last ? "3 digits" : "x and 3 digits"}`);
    digits += i === last ? group : group.slice(1);
  });
  if (groups.length > 1 && groups[0] === "x000") badPath(path, "the index has a leading x000 element");
  const index = Number(digits);
  if (!Number.isSafeInteger(index)) badPath(path, "the index is too large");
  return index;
}

// ---------------------------------------------------------------------------------------------
// Which tiles a tree has

/** Leaves under one hash of level-L tiles: 256^L. */
function leavesPerHash(level: number): number {
  return tileWidthMax ** level;
}

/** How many hashes of tile (level, index) a tree of `size` leaves has: 0..256. */
export function tileWidthAt(level: number, index: number, size: number): number {
  assert(Number.isSafeInteger(size) && size >= 0, `bad tree size ${size}`);
  const hashes = Math.floor(size / leavesPerHash(level));
  return Math.max(0, Math.min(tileWidthMax, hashes - index * tileWidthMax));
}

/** Tile (level, index) as a tree of `size` leaves has it (full or partial), or undefined if empty. */
export function tileAt(level: number, index: number, size: number): Tile | undefined {
  const width = tileWidthAt(level, index, size);
  return width === 0 ? undefined : { level, index, width };
}

/** True when the tree of `size` leaves has every hash of `t` (a full tile, or a narrower partial). */
export function tileAvailable(t: Tile, size: number): boolean {
  return tileWidthAt(t.level, t.index, size) >= t.width;
}

/**
 * The partial tiles of a tree of `size` leaves, level 0 upward (levels whose partial width is 0
 * have none). Their hashes determine the root: see rootFromTiles.
 */
export function partialTiles(size: number): Tile[] {
  const tiles: Tile[] = [];
  for (let level = 0; leavesPerHash(level) <= size; level++) {
    const width = Math.floor(size / leavesPerHash(level)) % tileWidthMax;
    if (width > 0) tiles.push({ level, index: Math.floor(size / leavesPerHash(level + 1)), width });
  }
  return tiles;
}

/**
 * The tiles (hash tiles at every level; entry bundles are the level 0 ones) a log publishes when it
 * grows from `from` to `to` leaves: every tile that became full, and the partial tiles of `to`
 * that are not already partial tiles of `from`. Ordered by level, then index.
 */
export function tilesBetween(from: number, to: number): Tile[] {
  assert(Number.isSafeInteger(from) && Number.isSafeInteger(to) && 0 <= from && from <= to, `bad tile range ${from}..${to}`);
  const old = new Set(partialTiles(from).map((t) => hashTilePath(t)));
  const tiles: Tile[] = [];
  for (let level = 0; leavesPerHash(level) <= to; level++) {
    const span = leavesPerHash(level + 1);
    for (let index = Math.floor(from / span); index < Math.floor(to / span); index++) tiles.push({ level, index, width: tileWidthMax });
    const width = Math.floor(to / leavesPerHash(level)) % tileWidthMax;
    const partial = { level, index: Math.floor(to / span), width };
    if (width > 0 && !old.has(hashTilePath(partial))) tiles.push(partial);
  }
  return tiles;
}

/** Where a node's hashes are: the tile of its level band, and which of its hashes it folds. */
export interface NodeInTile {
  /** The tile, as wide as the tree of the given size has it. */
  readonly tile: Tile;
  /** First hash of the tile the node covers. */
  readonly offset: number;
  /** Hashes it covers: 2^(node level mod 8). */
  readonly count: number;
}

/** The tile holding node `id` in a tree of `size` leaves. Precondition: the tree has the node. */
export function tileForNode(id: NodeId, size: number): NodeInTile {
  assert(id.level <= levelMax && (id.index + 1) * 2 ** id.level <= size, `node ${id.level}/${id.index} is not complete in a tree of ${size} leaves`);
  const level = Math.floor(id.level / tileHeight);
  const count = 2 ** (id.level % tileHeight);
  const first = id.index * count;
  const index = Math.floor(first / tileWidthMax);
  const width = tileWidthAt(level, index, size);
  const offset = first - index * tileWidthMax;
  assert(offset + count <= width, `node ${id.level}/${id.index} lies beyond tile ${level}/${index} of width ${width}`);
  return { tile: { level, index, width }, offset, count };
}

/** The distinct tiles holding `ids` in a tree of `size` leaves, in first-use order. */
export function tilesForNodes(ids: readonly NodeId[], size: number): Tile[] {
  const seen = new Map<string, Tile>();
  for (const id of ids) {
    const { tile: t } = tileForNode(id, size);
    seen.set(hashTilePath(t), t);
  }
  return [...seen.values()];
}

/** The tiles whose hashes give the root of a tree of `size` leaves: its partial tiles. */
export function tilesForRoot(size: number): Tile[] {
  return tilesForNodes(rangeNodes(0, size), size);
}

/**
 * A full tile's place one level up: the tile (as wide as a tree of `size` has it) and the
 * position in it of the hash that must equal this tile's Merkle tree hash.
 */
export function tileParent(t: Tile, size: number): { tile: Tile; offset: number } {
  assert(isFullTile(t), `only a full tile has a hash one level up, got width ${t.width}`);
  const index = Math.floor(t.index / tileWidthMax);
  const width = tileWidthAt(t.level + 1, index, size);
  const offset = t.index % tileWidthMax;
  assert(offset < width, `tile ${t.level}/${t.index} is not full in a tree of ${size} leaves`);
  return { tile: { level: t.level + 1, index, width }, offset };
}

// ---------------------------------------------------------------------------------------------
// Hashing with tiles

/** The Merkle tree hash of `count` (a power of two) consecutive hashes of a tile from `offset`. */
export function hashTileRange(hasher: Hasher, hashes: Uint8Array, offset: number, count: number): Uint8Array {
  assert(count >= 1 && (count & (count - 1)) === 0 && count <= tileWidthMax, `a tile range must be a power of two up to ${tileWidthMax}, got ${count}`);
  assert((offset + count) * hashSize <= hashes.length, `tile range ${offset}+${count} is beyond ${hashes.length / hashSize} hashes`);
  let level = hashes.subarray(offset * hashSize, (offset + count) * hashSize);
  while (level.length > hashSize) level = hasher.hashLevel(level);
  return level.slice();
}

/** The Merkle tree hash of a full tile: the hash its parent tile holds for it. */
export function fullTileHash(hasher: Hasher, hashes: Uint8Array): Uint8Array {
  assert(hashes.length === tileBytesMax, `a full tile has ${tileBytesMax} bytes, got ${hashes.length}`);
  return hashTileRange(hasher, hashes, 0, tileWidthMax);
}

/** Reads a tile's bytes by tile; undefined when it is not at hand. */
export type TileLookup = (t: Tile) => Uint8Array | undefined;

/** The hash of node `id` of a tree of `size` leaves, from the tile that holds it. */
export function nodeHashFromTiles(hasher: Hasher, id: NodeId, size: number, lookup: TileLookup): Uint8Array {
  const place = tileForNode(id, size);
  const hashes = lookup(place.tile);
  assert(hashes && hashes.length === place.tile.width * hashSize, `tile ${hashTilePath(place.tile)} is needed for node ${id.level}/${id.index}`);
  return hashTileRange(hasher, hashes, place.offset, place.count);
}

/** The root of a tree of `size` leaves from its partial tiles (tilesForRoot). */
export function rootFromTiles(hasher: Hasher, size: number, lookup: TileLookup): Uint8Array {
  if (size === 0) return hasher.emptyRoot();
  const hashes = rangeNodes(0, size).map((id) => nodeHashFromTiles(hasher, id, size, lookup));
  let root = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) root = hasher.hashChildren(hashes[i]!, root);
  return root;
}

// ---------------------------------------------------------------------------------------------
// Reading hash tiles from stored nodes

/**
 * The narrow interface tiles are read through: consecutive stored hashes of one tree level. The
 * node's TreeStore (one row per node) answers it today; a store keeping whole tiles could too.
 */
export interface NodeRunReader {
  /** Hashes of nodes (level, index + i) for 0 ≤ i < count, back to back; undefined if any is absent. */
  readRun(level: number, index: number, count: number): Uint8Array | undefined;
}

/** A NodeRunReader over any TreeStore: its own readRun when it has one, else getNodes. */
export function nodeRunReader(store: TreeStore & Partial<NodeRunReader>): NodeRunReader {
  if (typeof store.readRun === "function") return store as NodeRunReader;
  return {
    readRun(level, index, count) {
      const ids = Array.from({ length: count }, (_, i) => ({ level, index: index + i }));
      const hashes = store.getNodes(ids);
      const out = new Uint8Array(count * hashSize);
      for (let i = 0; i < count; i++) {
        const hash = hashes[i];
        if (!hash) return undefined;
        out.set(hash, i * hashSize);
      }
      return out;
    },
  };
}

/** The bytes of hash tile `t` from stored nodes; undefined when the store lacks any of them. */
export function readHashTile(reader: NodeRunReader, t: Tile): Uint8Array | undefined {
  assert(t.level * tileHeight <= levelMax, `tile level ${t.level} is above any tree of safe-integer size`);
  const bytes = reader.readRun(t.level * tileHeight, t.index * tileWidthMax, t.width);
  if (bytes) assert(bytes.length === t.width * hashSize, `run of ${t.width} hashes came back as ${bytes.length} bytes`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Entry bundles

/** Encodes leaves (1..256 of them) as an entry bundle: each prefixed by its uint16 length. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  assert(entries.length >= 1 && entries.length <= tileWidthMax, `a bundle holds 1..${tileWidthMax} entries, got ${entries.length}`);
  let bytes = 0;
  for (const entry of entries) {
    // Checked per entry: the message is formatted only when it fails.
    if (entry.length > bundleEntryBytesMax) fail(`a bundle entry is at most ${bundleEntryBytesMax} bytes, got ${entry.length}`);
    bytes += 2 + entry.length;
  }
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const entry of entries) {
    out[at] = entry.length >>> 8;
    out[at + 1] = entry.length & 0xff;
    out.set(entry, at + 2);
    at += 2 + entry.length;
  }
  return out;
}

/**
 * Decodes an entry bundle into its leaves (views into `bytes`). Throws a VerificationError when a
 * length runs past the end, or when `width` is given and the count differs.
 */
export function decodeEntryBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (entries.length === tileWidthMax) throw new VerificationError(`entry bundle holds more than ${tileWidthMax} entries`);
    if (at + 2 > bytes.length) throw new VerificationError(`entry bundle ends inside the length of entry ${entries.length}`);
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (at + 2 + length > bytes.length) throw new VerificationError(`entry ${entries.length} of the bundle claims ${length} bytes, only ${bytes.length - at - 2} remain`);
    entries.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (width !== undefined && entries.length !== width) throw new VerificationError(`entry bundle holds ${entries.length} entries, expected ${width}`);
  return entries;
}
