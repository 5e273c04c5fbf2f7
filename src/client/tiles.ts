/**
 * @module client/tiles. Proofs from C2SP tlog-tiles alone: no proof endpoint, only static objects
 * that any HTTP cache, CDN, bucket or directory can serve (`checkpoint`, `tile/<L>/<N>[.p/<W>]`,
 * `tile/entries/<N>[.p/<W>]`; see src/merkle/tiles.ts and docs/FORMATS.md).
 *
 * Every hash tile is authenticated against a verified checkpoint before it is used or cached:
 * the partial tiles of the checkpoint's size must hash to its root, and a full tile must hash to
 * the value its parent tile (authenticated the same way) holds for it. Proofs are then computed
 * from authenticated tiles and verified once more with the RFC 9162 verifiers. A tile that does
 * not authenticate is a VerificationError naming it; it is never cached.
 *
 * The cache holds authenticated hash tiles by path (a path's bytes never change in a consistent
 * log), at most `cacheTilesMax` of them, least recently used first out.
 *
 * Portable (Bun, Node, browsers): the sources are the global fetch (httpTileSource) or anything
 * with `read(path, bytesMax)`; a directory source for Bun and Node is in tile-directory.ts.
 */

import { decodeEntry, type ConsistencyProofJson, type Entry } from "../ledger/index.ts";
import { bytesEqual, ScribeError, toHex } from "../lib/index.ts";
import {
  consistencyProofPlan,
  decodeEntryBundle,
  entryBundlePath,
  foldPlan,
  fullTileHash,
  hashSize,
  hashTilePath,
  inclusionProofPlan,
  isFullTile,
  nodeHashFromTiles,
  parseCheckpoint,
  partialTiles,
  rootFromTiles,
  rootPlan,
  splitNote,
  tileAt,
  tileBytesMax,
  tileParent,
  tilesForNodes,
  tileWidthMax,
  VerificationError,
  verifyConsistency,
  verifyInclusion,
  verifyNote,
  type Checkpoint,
  type Hasher,
  type NodeId,
  type NoteVerifier,
  type Tile,
} from "../merkle/index.ts";
import { loadHasher } from "../crypto/index.ts";
import type { TrustedState } from "./trusted-state.ts";

/** Where a log's static objects are read from, by path relative to its base. */
export interface TileSource {
  /** The base, for messages: a URL or a directory. */
  readonly location: string;
  /**
   * The object's bytes, or undefined when it does not exist (HTTP 404, no such file). Throws when
   * it cannot be read, or when it is larger than `bytesMax`.
   */
  read(path: string, bytesMax: number): Promise<Uint8Array | undefined>;
}

export type TileFetch = (url: string, init?: { headers?: Record<string, string> }) => Promise<Response>;

/** Largest checkpoint note read (a note with many cosignatures is still a few KiB). */
export const checkpointBytesMax = 64 * 1024;
/** Largest entry bundle read: 256 entries of at most 65535 bytes, each with its 2-byte length. */
export const entryBundleBytesMax = tileWidthMax * (2 + 0xffff);

/** A TileSource over HTTP(S) with the global fetch (or an injected one). */
export function httpTileSource(baseUrl: string, options: { headers?: Record<string, string>; fetch?: TileFetch } = {}): TileSource {
  const base = baseUrl.replace(/\/+$/, "");
  const fetcher: TileFetch = options.fetch ?? ((url, init) => fetch(url, init));
  return {
    location: base,
    async read(path, bytesMax) {
      const url = `${base}/${path}`;
      const response = await fetcher(url, { headers: options.headers ?? {} });
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      if (!response.ok) throw new ScribeError("unavailable", `GET ${url}: ${response.status} ${(await response.text()).slice(0, 300)}`);
      const declared = Number(response.headers.get("content-length") ?? "0");
      if (declared > bytesMax) {
        await response.body?.cancel();
        throw new ScribeError("payload_too_large", `GET ${url}: ${declared} bytes, more than the ${bytesMax} expected`);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.length > bytesMax) throw new ScribeError("payload_too_large", `GET ${url}: ${bytes.length} bytes, more than the ${bytesMax} expected`);
      return bytes;
    },
  };
}

/** Authenticated hash tiles a TileVerifier keeps by default: 64 × 8 KiB = 512 KiB. */
export const tileCacheTilesMaxDefault = 64;
/** Fewest tiles a cache may hold: the partial tiles of one size (at most 7) must fit at once. */
export const tileCacheTilesMin = 8;

/** A count-bounded LRU of tile bytes by path (Map order is recency: first = least recent). */
export class TileCache {
  private readonly tiles = new Map<string, Uint8Array>();
  hits = 0;
  misses = 0;

  constructor(readonly tilesMax: number = tileCacheTilesMaxDefault) {
    if (!Number.isInteger(tilesMax) || tilesMax < tileCacheTilesMin) throw new RangeError(`a tile cache holds at least ${tileCacheTilesMin} tiles, got ${tilesMax}`);
  }

  get size(): number {
    return this.tiles.size;
  }

  get(path: string): Uint8Array | undefined {
    const bytes = this.tiles.get(path);
    if (!bytes) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.tiles.delete(path);
    this.tiles.set(path, bytes);
    return bytes;
  }

  set(path: string, bytes: Uint8Array): void {
    this.tiles.delete(path);
    this.tiles.set(path, bytes);
    for (const oldest of this.tiles.keys()) {
      if (this.tiles.size <= this.tilesMax) break;
      this.tiles.delete(oldest);
    }
  }

  clear(): void {
    this.tiles.clear();
  }
}

export interface TileVerifierOptions {
  source: TileSource;
  hasher?: Hasher;
  /** Authenticated hash tiles kept (default tileCacheTilesMaxDefault). */
  cacheTilesMax?: number;
}

/** Computes and verifies proofs, leaves and entries of a log from its tiles. */
export class TileVerifier {
  readonly cache: TileCache;
  /** Objects read from the source (cache misses), for tests and diagnostics. */
  reads = 0;
  /** Authentications under way, so concurrent proofs read each tile once. */
  private readonly pending = new Map<string, Promise<Uint8Array>>();
  private readonly pendingTop = new Map<string, Promise<Map<string, Uint8Array>>>();

  private constructor(
    readonly source: TileSource,
    readonly hasher: Hasher,
    cacheTilesMax: number,
  ) {
    this.cache = new TileCache(cacheTilesMax);
  }

  static async create(options: TileVerifierOptions): Promise<TileVerifier> {
    return new TileVerifier(options.source, options.hasher ?? (await loadHasher()), options.cacheTilesMax ?? tileCacheTilesMaxDefault);
  }

  /** Reads `checkpoint` from the source and verifies its signature (and origin, when given). */
  async checkpoint(verifiers: readonly NoteVerifier[], origin?: string): Promise<{ note: string; checkpoint: Checkpoint }> {
    const bytes = await this.source.read("checkpoint", checkpointBytesMax);
    if (!bytes) throw new ScribeError("not_found", `${this.source.location}/checkpoint is missing`);
    const note = new TextDecoder().decode(bytes);
    return { note, checkpoint: await verifyNote(note, verifiers, { origin }) };
  }

  /** Hash tile (level, index) as the tree of `checkpoint` has it, authenticated against it. */
  async hashTile(level: number, index: number, checkpoint: Checkpoint): Promise<Uint8Array> {
    const t = tileAt(level, index, checkpoint.size);
    if (!t) throw new ScribeError("invalid_range", `the tree of ${checkpoint.size} leaves has no tile ${level}/${index}`);
    return this.authenticated(t, checkpoint);
  }

  /** The hashes of `ids` (nodes of the tree of `checkpoint`), from authenticated tiles. */
  async nodeHashes(ids: readonly NodeId[], checkpoint: Checkpoint): Promise<Uint8Array[]> {
    const tiles = tilesForNodes(ids, checkpoint.size);
    const fetched = new Map(await Promise.all(tiles.map(async (t) => [hashTilePath(t), await this.authenticated(t, checkpoint)] as const)));
    return ids.map((id) => nodeHashFromTiles(this.hasher, id, checkpoint.size, (t) => fetched.get(hashTilePath(t))));
  }

  /** Leaf hash `index` of the tree of `checkpoint`. */
  async leafHash(index: number, checkpoint: Checkpoint): Promise<Uint8Array> {
    checkIndex(index, checkpoint.size);
    const bytes = await this.hashTile(0, Math.floor(index / tileWidthMax), checkpoint);
    const offset = (index % tileWidthMax) * hashSize;
    return bytes.slice(offset, offset + hashSize);
  }

  /** The RFC 9162 inclusion proof of leaf `index` in the tree of `checkpoint`, from tiles. */
  async inclusionProof(index: number, checkpoint: Checkpoint): Promise<Uint8Array[]> {
    checkIndex(index, checkpoint.size);
    const plan = inclusionProofPlan(index, checkpoint.size);
    return foldPlan(plan, await this.nodeHashes(plan.ids, checkpoint), this.hasher);
  }

  /** Verifies that `leafHash` is leaf `index` of the tree of `checkpoint`; throws a VerificationError otherwise. */
  async verifyInclusion(leafHash: Uint8Array, index: number, checkpoint: Checkpoint): Promise<void> {
    const proof = await this.inclusionProof(index, checkpoint);
    verifyInclusion(this.hasher, index, checkpoint.size, leafHash, proof, checkpoint.rootHash);
  }

  /** The root of the first `size` leaves of the tree of `checkpoint`, from tiles. */
  async rootAt(size: number, checkpoint: Checkpoint): Promise<Uint8Array> {
    if (!(Number.isSafeInteger(size) && size >= 0 && size <= checkpoint.size)) throw new ScribeError("invalid_range", `no root of size ${size} in a tree of ${checkpoint.size}`);
    if (size === 0) return this.hasher.emptyRoot();
    if (size === checkpoint.size) return checkpoint.rootHash;
    const plan = rootPlan(size);
    return foldPlan(plan, await this.nodeHashes(plan.ids, checkpoint), this.hasher)[0]!;
  }

  /** The RFC 9162 consistency proof from `size1` to the tree of `checkpoint`, from tiles. */
  async consistencyProof(size1: number, checkpoint: Checkpoint): Promise<Uint8Array[]> {
    if (!(Number.isSafeInteger(size1) && size1 >= 0 && size1 <= checkpoint.size)) throw new ScribeError("invalid_range", `no consistency proof from ${size1} to ${checkpoint.size}`);
    const plan = consistencyProofPlan(size1, checkpoint.size);
    return foldPlan(plan, await this.nodeHashes(plan.ids, checkpoint), this.hasher);
  }

  /** Verifies that `newer` extends `older` (both verified checkpoints); throws a VerificationError otherwise. */
  async verifyConsistency(older: Checkpoint, newer: Checkpoint): Promise<void> {
    if (older.size > newer.size) throw new VerificationError(`tree size ${newer.size} is below ${older.size}: a log never shrinks`);
    const proof = await this.consistencyProof(older.size, newer);
    verifyConsistency(this.hasher, older.size, newer.size, proof, older.rootHash, newer.rootHash);
  }

  /**
   * Moves `state` to the checkpoint in `note` when it is signed and consistent with the trusted
   * one, the consistency proof coming from tiles (TrustedState.update, without a proof endpoint).
   */
  async updateTrustedState(state: TrustedState, note: string, extension?: string): Promise<Checkpoint> {
    const announced = parseCheckpoint(splitNote(note).body);
    const trusted = await state.current();
    // TrustedState verifies the note's signature before it asks for a proof, so by then the
    // announced checkpoint is signed; the proof's tiles are authenticated against the larger one.
    return state.update(note, async (from, to) => {
      const target = [announced, trusted].find((c) => c?.size === to);
      if (!target) throw new VerificationError(`no checkpoint of size ${to} to take a consistency proof from`);
      const json: ConsistencyProofJson = {
        from,
        to,
        from_root: toHex(await this.rootAt(from, target)),
        to_root: toHex(target.rootHash),
        proof: (await this.consistencyProof(from, target)).map(toHex),
      };
      return json;
    }, extension);
  }

  /** Entry `index` from its bundle, checked against its leaf in the tree of `checkpoint`. */
  async entry(index: number, checkpoint: Checkpoint): Promise<Entry> {
    checkIndex(index, checkpoint.size);
    const t = tileAt(0, Math.floor(index / tileWidthMax), checkpoint.size)!;
    const [bundle, leaf] = await Promise.all([this.readBundle(t), this.leafHash(index, checkpoint)]);
    const path = entryBundlePath(t);
    const bytes = decodeEntryBundle(bundle, t.width)[index % tileWidthMax]!;
    const computed = this.hasher.hashLeaf(bytes);
    if (!bytesEqual(computed, leaf)) throw new VerificationError(`entry ${index} in ${this.source.location}/${path} hashes to ${toHex(computed)}, but leaf ${index} of the signed tree is ${toHex(leaf)}`);
    try {
      return decodeEntry(bytes);
    } catch (error) {
      throw new VerificationError(`entry ${index} in ${path} is in the signed tree but does not decode: ${(error as Error).message}`);
    }
  }

  /** An entry bundle's bytes (a partial one falls back to the full bundle's prefix). */
  async readBundle(t: Tile): Promise<Uint8Array> {
    this.reads++;
    const bytes = await this.source.read(entryBundlePath(t), entryBundleBytesMax);
    if (bytes) return bytes;
    if (!isFullTile(t)) {
      const full = await this.source.read(entryBundlePath({ ...t, width: tileWidthMax }), entryBundleBytesMax);
      if (full) return prefixOfBundle(full, t.width);
    }
    throw new ScribeError("not_found", `${this.source.location}/${entryBundlePath(t)} is missing`);
  }

  /** Hash tile bytes, read (a missing partial tile falls back to the full tile's prefix). */
  private async readTile(t: Tile): Promise<Uint8Array> {
    this.reads++;
    const path = hashTilePath(t);
    let bytes = await this.source.read(path, tileBytesMax);
    if (!bytes && !isFullTile(t)) bytes = (await this.source.read(hashTilePath({ ...t, width: tileWidthMax }), tileBytesMax))?.subarray(0, t.width * hashSize);
    if (!bytes) throw new ScribeError("not_found", `${this.source.location}/${path} is missing`);
    if (bytes.length !== t.width * hashSize) throw new VerificationError(`${this.source.location}/${path} has ${bytes.length} bytes, a tile of width ${t.width} has ${t.width * hashSize}`);
    return bytes;
  }

  /** Tile `t` (as wide as the tree of `checkpoint` has it), authenticated, from the cache or the source. */
  private authenticated(t: Tile, checkpoint: Checkpoint): Promise<Uint8Array> {
    const path = hashTilePath(t);
    const cached = this.cache.get(path);
    if (cached) return Promise.resolve(cached);
    const key = `${path}@${checkpoint.size}:${toHex(checkpoint.rootHash)}`;
    let running = this.pending.get(key);
    if (!running) {
      running = this.authenticate(t, checkpoint).finally(() => this.pending.delete(key));
      this.pending.set(key, running);
    }
    return running;
  }

  private async authenticate(t: Tile, checkpoint: Checkpoint): Promise<Uint8Array> {
    const path = hashTilePath(t);
    if (!isFullTile(t)) {
      const key = `${checkpoint.size}:${toHex(checkpoint.rootHash)}`;
      let running = this.pendingTop.get(key);
      if (!running) {
        running = this.authenticateTop(checkpoint).finally(() => this.pendingTop.delete(key));
        this.pendingTop.set(key, running);
      }
      const top = await running;
      const bytes = top.get(path);
      if (!bytes) throw new ScribeError("invalid_range", `${path} is not a partial tile of the tree of ${checkpoint.size} leaves`);
      return bytes;
    }
    const parent = tileParent(t, checkpoint.size);
    const [bytes, parentBytes] = await Promise.all([this.readTile(t), this.authenticated(parent.tile, checkpoint)]);
    const expected = parentBytes.subarray(parent.offset * hashSize, (parent.offset + 1) * hashSize);
    const actual = fullTileHash(this.hasher, bytes);
    if (!bytesEqual(actual, expected)) {
      throw new VerificationError(`${this.source.location}/${path} hashes to ${toHex(actual)}, but ${hashTilePath(parent.tile)} of the signed tree holds ${toHex(expected)} for it`);
    }
    this.cache.set(path, bytes);
    return bytes;
  }

  /** Reads the partial tiles of the checkpoint's size; they must hash to its root. */
  private async authenticateTop(checkpoint: Checkpoint): Promise<Map<string, Uint8Array>> {
    const tiles = partialTiles(checkpoint.size);
    const top = new Map(await Promise.all(tiles.map(async (t) => [hashTilePath(t), this.cache.get(hashTilePath(t)) ?? (await this.readTile(t))] as const)));
    const root = rootFromTiles(this.hasher, checkpoint.size, (t) => top.get(hashTilePath(t)));
    if (!bytesEqual(root, checkpoint.rootHash)) {
      const names = tiles.map((t) => hashTilePath(t)).join(", ");
      throw new VerificationError(`the partial tiles of size ${checkpoint.size} (${names}) at ${this.source.location} hash to ${toHex(root)}, not the signed root ${toHex(checkpoint.rootHash)}`);
    }
    for (const [path, bytes] of top) this.cache.set(path, bytes);
    return top;
  }
}

function checkIndex(index: number, size: number): void {
  if (!(Number.isSafeInteger(index) && index >= 0 && index < size)) throw new ScribeError("invalid_range", `index ${index} is not below the tree size ${size}`);
}

/** The first `width` entries of a bundle, re-encoded as a bundle of their own bytes. */
function prefixOfBundle(full: Uint8Array, width: number): Uint8Array {
  let at = 0;
  for (let i = 0; i < width && at + 2 <= full.length; i++) at += 2 + ((full[at]! << 8) | full[at + 1]!);
  return full.subarray(0, Math.min(at, full.length));
}
