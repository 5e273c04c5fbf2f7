/**
 * @module client/tile-audit. Audits a whole log from its static objects alone, with no node
 * running: a bucket the cold tier wrote (over HTTP, or synced to a directory) or a node's own
 * tiles. Trusts nothing but the verifier key:
 *
 *  1. `checkpoint` must be signed by a trusted key (and consistent with a trusted earlier one,
 *     with a consistency proof computed from tiles). When the policy requires witnesses and the
 *     checkpoint carries too few cosignatures (a bucket's checkpoint never has them: witnesses
 *     only cosign the live log's newer sizes), `witnessed-checkpoint` must extend it: a newer
 *     checkpoint meeting the whole policy, with a consistency proof from it (merkle/witnessed.ts).
 *  2. Every entry bundle is decoded; its entries are re-hashed into leaves, every key's prevIndex
 *     chain is followed, and the whole tree is rebuilt from those leaves: every hash tile is
 *     compared with the rebuilt one, and the rebuilt root with the signed root.
 *  3. Every value is read from the gzipped segments `manifest.json` lists: each record's entry must
 *     be byte-identical to the bundle's, and the value's SHA-256 and length must match it.
 *
 * Which object is wrong: the rebuilt root decides. When the entries reproduce the signed root,
 * they are genuine, and a tile that differs from the rebuilt one is named with the first entry its
 * bad hash covers. When they do not, but the tiles are consistent with each other and with the
 * signed root, the tiles are genuine and the first bundle entry whose leaf differs from its tile
 * is named. Otherwise both disagree with the signature and the first disagreement is reported.
 *
 * Memory stays small whatever the log's size: one tile per level, the bundles and tiles fetched
 * ahead (`fetchAheadMax`), one decoded segment, and one index per key (the chains).
 * Portable: no Bun or Node imports (fflate's gunzip, the injected or hash-wasm hasher).
 */

import { gunzipSync } from "fflate";
import { decodeEntry, type Entry } from "../ledger/index.ts";
import { bytesEqual, isScribeError, toHex } from "../lib/index.ts";
import {
  decodeEntryBundle,
  entryBundlePath,
  fullTileHash,
  hashSize,
  hashTilePath,
  partialTiles,
  rootFromTiles,
  tileAt,
  tileBytesMax,
  tileWidthMax,
  type Checkpoint,
  type Hasher,
  type NoteVerifier,
  type Tile,
  type CheckpointPolicy,
  requiredCount,
  verifyCheckpointWitnessed,
} from "../merkle/index.ts";
import type { AuditProgress, AuditStats } from "./audit.ts";
import { loadHasher } from "../crypto/index.ts";
import { checkpointBytesMax, entryBundleBytesMax, TileVerifier, type TileSource } from "./tiles.ts";
import { MemoryPersistence, TrustedState } from "./trusted-state.ts";
import { verifyValue } from "./verify.ts";

/** Tiles and bundles read ahead of the one being checked: keeps a slow source busy, bounds memory. */
export const tileAuditFetchAheadDefault = 8;
/** Largest manifest read (the cold tier's own limit). */
export const tileAuditManifestBytesMax = 64 * 1024 * 1024;
/** Largest segment object read into memory (the cold tier's reader limit). */
export const tileAuditSegmentBytesMax = 1024 * 1024 * 1024;

export type TileAuditFailureKind =
  | "checkpoint" // the checkpoint is missing or its signature does not verify
  | "consistency" // the checkpoint contradicts the trusted one
  | "missing" // a tile, bundle or segment the checkpoint needs is absent
  | "bundle" // an entry bundle is malformed or holds an entry that is not in the signed tree
  | "tile" // a hash tile differs from the tree the genuine entries build
  | "tree" // neither the entries nor the tiles reproduce the signed root
  | "chain" // a key's prevIndex does not link to its previous entry
  | "manifest" // manifest.json is unreadable
  | "segment" // a segment is malformed or holds an entry other than the signed one
  | "value"; // a value does not match its entry, or is in no segment

export interface TileAuditFailure {
  kind: TileAuditFailureKind;
  /** The first bad ledger index, or null when the failure is not about one entry. */
  index: number | null;
  /** The object (path relative to the base) at fault, or null. */
  object: string | null;
  message: string;
}

export interface TileAuditStats extends AuditStats {
  /** Hash tiles and entry bundles read. */
  tiles: number;
  bundles: number;
  /** Segments read and values checked (values: puts and deletes alike). */
  segments: number;
  values: number;
  /** False when the source has no manifest.json (the node's own tiles): values were not checked. */
  valuesChecked: boolean;
}

/** How the policy's witness requirement was met: on the checkpoint, by `witnessed-checkpoint` (of `size`), or none was asked. */
export interface TileAuditWitnessed {
  by: "note" | "extension" | "none";
  size: number | null;
}

export type TileAuditResult =
  | { ok: true; checkpoint: Checkpoint; note: string; trustedSize: number | null; witnessed: TileAuditWitnessed; stats: TileAuditStats }
  | { ok: false; failure: TileAuditFailure; checkpoint: Checkpoint | null; trustedSize: number | null; stats: TileAuditStats };

export interface TileAuditOptions {
  source: TileSource;
  /** Keys whose signatures make a checkpoint acceptable. */
  verifiers: readonly NoteVerifier[];
  /** How many of `verifiers` must have signed (default: a majority) and which witnesses must have cosigned. */
  policy?: Omit<CheckpointPolicy, "members" | "origin">;
  origin?: string;
  /** The checkpoint trusted before; moved to the audited one only when the whole audit passes. */
  trustedState?: TrustedState;
  /** "auto" (default): check values when the source has manifest.json; "require": fail without one. */
  values?: "auto" | "require" | "skip";
  fetchAheadMax?: number;
  onProgress?: (progress: AuditProgress) => void;
  hasher?: Hasher;
}

/** A disagreement found on the walk, judged once the rebuilt root is known. */
interface Disagreement {
  object: string;
  index: number;
  message: string;
}

/** Per level: the hashes rebuilt from the entries, and the hashes the fetched child tiles give. */
interface LevelState {
  rebuilt: Uint8Array;
  derived: Uint8Array;
  fill: number;
}

/** Rebuilds the tree level by level from leaves and compares it with the fetched tiles. */
class TreeCheck {
  /** First tile that differs from the rebuilt one; first bundle leaf that differs from its tile. */
  tileDiff: Disagreement | undefined;
  leafDiff: Disagreement | undefined;
  /** A tile that differs from what its own (fetched) children hash to: the tiles are not one tree. */
  tilesInconsistent = false;
  private readonly levels: LevelState[] = [];
  /** The partial tiles of the size: rebuilt and fetched bytes by level. */
  readonly partialRebuilt = new Map<string, Uint8Array>();
  readonly partialFetched = new Map<string, Uint8Array>();

  constructor(
    private readonly hasher: Hasher,
    private readonly size: number,
    private readonly readTile: (t: Tile) => Promise<Uint8Array>,
    private readonly stats: TileAuditStats,
  ) {}

  /** Level 0 tile `t`: its leaves rebuilt from the bundle, and the fetched tile. */
  async level0(t: Tile, rebuilt: Uint8Array, fetched: Uint8Array, entryNames: (i: number) => string): Promise<void> {
    for (let i = 0; i < t.width && !this.leafDiff; i++) {
      const a = rebuilt.subarray(i * hashSize, (i + 1) * hashSize);
      const b = fetched.subarray(i * hashSize, (i + 1) * hashSize);
      if (bytesEqual(a, b)) continue;
      const index = t.index * tileWidthMax + i;
      this.leafDiff = { object: entryBundlePath(t), index, message: `${entryNames(i)} in ${entryBundlePath(t)} hashes to leaf ${toHex(a)}, but ${hashTilePath(t)} holds ${toHex(b)} for leaf ${index}` };
    }
    this.compareWithRebuilt(t, rebuilt, fetched);
    await this.climb(t, rebuilt, fetched);
  }

  /** Records the first hash where a fetched tile differs from the rebuilt one. */
  private compareWithRebuilt(t: Tile, rebuilt: Uint8Array, fetched: Uint8Array): void {
    if (this.tileDiff || bytesEqual(rebuilt, fetched)) return;
    for (let i = 0; i < t.width; i++) {
      const a = rebuilt.subarray(i * hashSize, (i + 1) * hashSize);
      const b = fetched.subarray(i * hashSize, (i + 1) * hashSize);
      if (bytesEqual(a, b)) continue;
      const span = tileWidthMax ** t.level;
      const first = (t.index * tileWidthMax + i) * span;
      const covers = t.level === 0 ? `leaf ${first}` : `entries ${first}..${first + span - 1}`;
      this.tileDiff = { object: hashTilePath(t), index: first, message: `${hashTilePath(t)}: hash ${i} (${covers}) is ${toHex(b)}, but the entries build ${toHex(a)}` };
      return;
    }
  }

  /** A full tile's hash goes one level up; a partial tile is kept for the root. */
  private async climb(t: Tile, rebuilt: Uint8Array, fetched: Uint8Array): Promise<void> {
    if (t.width < tileWidthMax) {
      this.partialRebuilt.set(hashTilePath(t), rebuilt);
      this.partialFetched.set(hashTilePath(t), fetched);
      return;
    }
    const level = t.level + 1;
    const state = (this.levels[level] ??= { rebuilt: new Uint8Array(tileBytesMax), derived: new Uint8Array(tileBytesMax), fill: 0 });
    state.rebuilt.set(fullTileHash(this.hasher, rebuilt), state.fill * hashSize);
    state.derived.set(fullTileHash(this.hasher, fetched), state.fill * hashSize);
    state.fill += 1;
    const parentIndex = Math.floor(t.index / tileWidthMax);
    const parentWidth = tileAt(level, parentIndex, this.size)?.width ?? 0;
    if (state.fill === tileWidthMax || state.fill === parentWidth) await this.upper({ level, index: parentIndex, width: state.fill }, state);
  }

  /** A level ≥ 1 tile, complete in the rebuilt tree: fetch it and compare both ways. */
  private async upper(t: Tile, state: LevelState): Promise<void> {
    const bytes = t.width * hashSize;
    const rebuilt = state.rebuilt.slice(0, bytes);
    const derived = state.derived.slice(0, bytes);
    state.fill = 0;
    const fetched = await this.readTile(t);
    this.stats.tiles++;
    if (!bytesEqual(fetched, derived)) this.tilesInconsistent = true;
    this.compareWithRebuilt(t, rebuilt, fetched);
    await this.climb(t, rebuilt, fetched);
  }

  rebuiltRoot(): Uint8Array {
    return rootFromTiles(this.hasher, this.size, (t) => this.partialRebuilt.get(hashTilePath(t)));
  }

  fetchedRoot(): Uint8Array {
    return rootFromTiles(this.hasher, this.size, (t) => this.partialFetched.get(hashTilePath(t)));
  }
}

/** A failure found on the walk that stops it (an object missing or malformed). */
class StopAudit extends Error {
  constructor(readonly failure: TileAuditFailure) {
    super(failure.message);
  }
}

/** A manifest's segment, as far as the audit needs it. */
interface SegmentRef {
  first: number;
  last: number;
  path: string;
  gzip: boolean;
}

const segmentPathPattern = /(?:^|\/)(segments\/[0-9]{20}-[0-9]{20}\.seg(?:\.gz)?)$/;

function parseManifestSegments(bytes: Uint8Array): SegmentRef[] {
  const manifest = JSON.parse(new TextDecoder().decode(bytes)) as { format?: unknown; segments?: unknown };
  if (manifest?.format !== "scribe-cold-manifest" || !Array.isArray(manifest.segments)) throw new Error("not a scribe-cold-manifest with a segments array");
  return manifest.segments.map((s: { first_index?: unknown; last_index?: unknown; object_key?: unknown; compression?: unknown }, i: number) => {
    const match = typeof s.object_key === "string" ? segmentPathPattern.exec(s.object_key) : null;
    if (!Number.isSafeInteger(s.first_index) || !Number.isSafeInteger(s.last_index) || !match || (s.compression !== "gzip" && s.compression !== "none")) {
      throw new Error(`segment ${i} is malformed`);
    }
    return { first: s.first_index as number, last: s.last_index as number, path: match[1]!, gzip: s.compression === "gzip" };
  });
}

/** One record of a segment: the canonical entry bytes and the value. */
interface SegmentRecord {
  entry: Uint8Array;
  value: Uint8Array;
}

const segmentMagic = "SCRBSEG\n";
const segmentHeaderBytes = 22;

/** Parses a raw segment's records (the header's first index and count, then the records). */
function parseSegment(raw: Uint8Array, ref: SegmentRef): SegmentRecord[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.length < segmentHeaderBytes || new TextDecoder().decode(raw.subarray(0, 8)) !== segmentMagic) throw new Error("bad segment header");
  const first = Number(view.getBigUint64(10));
  const count = view.getUint32(18);
  if (first !== ref.first || count !== ref.last - ref.first + 1) throw new Error(`header says ${count} records from ${first}, the manifest ${ref.first}..${ref.last}`);
  const records: SegmentRecord[] = [];
  let at = segmentHeaderBytes;
  for (let i = 0; i < count; i++) {
    if (at + 4 > raw.length) throw new Error(`truncated at record ${i}`);
    const entryLength = view.getUint32(at);
    if (at + 8 + entryLength > raw.length) throw new Error(`truncated at record ${i}`);
    const entry = raw.subarray(at + 4, at + 4 + entryLength);
    const valueLength = view.getUint32(at + 4 + entryLength);
    const valueAt = at + 8 + entryLength;
    if (valueAt + valueLength > raw.length) throw new Error(`truncated at record ${i}`);
    records.push({ entry, value: raw.subarray(valueAt, valueAt + valueLength) });
    at = valueAt + valueLength;
  }
  return records;
}

/** Walks the segments of a manifest in index order, one decoded segment in memory at a time. */
class SegmentCursor {
  private position = -1;
  private records: SegmentRecord[] = [];

  constructor(
    private readonly source: TileSource,
    private readonly segments: readonly SegmentRef[],
    private readonly stats: TileAuditStats,
  ) {}

  /** The record of `index` (indexes asked in increasing order), or undefined when no segment has it. */
  async at(index: number): Promise<{ record: SegmentRecord; segment: string } | undefined> {
    let segment = this.segments[this.position];
    while (!segment || index > segment.last) {
      this.position++;
      segment = this.segments[this.position];
      if (!segment) return undefined;
      if (index > segment.last) continue;
      await this.load(segment);
    }
    if (index < segment.first) return undefined;
    return { record: this.records[index - segment.first]!, segment: segment.path };
  }

  private async load(segment: SegmentRef): Promise<void> {
    this.records = [];
    const object = await this.source.read(segment.path, tileAuditSegmentBytesMax);
    if (!object) throw new StopAudit({ kind: "missing", index: segment.first, object: segment.path, message: `${this.source.location}/${segment.path} (entries ${segment.first}..${segment.last}, listed in manifest.json) is missing` });
    this.stats.segments++;
    try {
      this.records = parseSegment(segment.gzip ? gunzipSync(object) : object, segment);
    } catch (error) {
      throw new StopAudit({ kind: "segment", index: segment.first, object: segment.path, message: `${segment.path} is malformed: ${(error as Error).message}` });
    }
  }
}

/** Reads an object the audit needs; a missing one stops the audit naming it. */
async function need(source: TileSource, path: string, bytesMax: number, index: number | null): Promise<Uint8Array> {
  const bytes = await source.read(path, bytesMax);
  if (!bytes) throw new StopAudit({ kind: "missing", index, object: path, message: `${source.location}/${path} is missing, but the signed checkpoint needs it` });
  return bytes;
}

interface WalkOutcome {
  tree: TreeCheck;
  chainFailure: TileAuditFailure | undefined;
  valueFailure: TileAuditFailure | undefined;
}

/** What the walk carries from entry to entry. */
interface WalkContext {
  options: TileAuditOptions;
  hasher: Hasher;
  stats: TileAuditStats;
  heads: Map<string, number>;
  cursor: SegmentCursor | undefined;
  outcome: WalkOutcome;
}

/** Decodes a bundle entry that must be entry `index`; a malformed one stops the audit. */
function bundleEntry(bytes: Uint8Array, index: number, path: string): Entry {
  let entry: Entry;
  try {
    entry = decodeEntry(bytes);
  } catch (error) {
    throw new StopAudit({ kind: "bundle", index, object: path, message: `entry ${index} in ${path} is malformed: ${(error as Error).message}` });
  }
  if (entry.index !== index) throw new StopAudit({ kind: "bundle", index, object: path, message: `${path} holds entry ${entry.index} where entry ${index} belongs` });
  return entry;
}

/** Follows the key's prevIndex chain; records the first break. */
function checkChain(ctx: WalkContext, entry: Entry, path: string): void {
  const wanted = ctx.heads.get(entry.key) ?? -1;
  ctx.heads.set(entry.key, entry.index);
  if (entry.prevIndex === wanted || ctx.outcome.chainFailure) return;
  const message = `entry ${entry.index} (key ${JSON.stringify(entry.key)}) links to previous index ${entry.prevIndex}, but the key's previous entry is ${wanted}`;
  ctx.outcome.chainFailure = { kind: "chain", index: entry.index, object: path, message };
}

/** Checks the entry's value in its segment; records the first problem (and stops checking values). */
async function checkValue(ctx: WalkContext, entry: Entry, bytes: Uint8Array): Promise<void> {
  if (!ctx.cursor || ctx.outcome.valueFailure) return;
  const index = entry.index;
  let found: Awaited<ReturnType<SegmentCursor["at"]>>;
  try {
    found = await ctx.cursor.at(index);
  } catch (error) {
    if (!(error instanceof StopAudit)) throw error;
    ctx.outcome.valueFailure = error.failure;
    return;
  }
  if (!found) {
    ctx.outcome.valueFailure = { kind: "value", index, object: "manifest.json", message: `no segment listed in manifest.json holds entry ${index}: its value is not in the bucket` };
    return;
  }
  if (!bytesEqual(found.record.entry, bytes)) {
    ctx.outcome.valueFailure = { kind: "segment", index, object: found.segment, message: `${found.segment} holds a different entry ${index} than the signed one` };
    return;
  }
  try {
    verifyValue(found.record.value, entry, ctx.hasher);
  } catch (error) {
    ctx.outcome.valueFailure = { kind: "value", index, object: found.segment, message: `the value of entry ${index} (key ${JSON.stringify(entry.key)}) in ${found.segment} does not match the entry: ${(error as Error).message}` };
    return;
  }
  ctx.stats.values++;
}

/** One level 0 tile: its bundle's entries (leaves, chains, values), then the tile. */
async function checkBundle(ctx: WalkContext, t: Tile, bundleBytes: Uint8Array, tileBytes: Uint8Array): Promise<void> {
  const path = entryBundlePath(t);
  let raw: Uint8Array[];
  try {
    raw = decodeEntryBundle(bundleBytes, t.width);
  } catch (error) {
    throw new StopAudit({ kind: "bundle", index: t.index * tileWidthMax, object: path, message: `${path} is malformed: ${(error as Error).message}` });
  }
  const leaves = new Uint8Array(t.width * hashSize);
  const keys: string[] = [];
  for (let i = 0; i < t.width; i++) {
    const entry = bundleEntry(raw[i]!, t.index * tileWidthMax + i, path);
    leaves.set(ctx.hasher.hashLeaf(raw[i]!), i * hashSize);
    keys.push(entry.key);
    checkChain(ctx, entry, path);
    await checkValue(ctx, entry, raw[i]!);
    if (entry.op === "put") ctx.stats.puts++;
    else ctx.stats.deletes++;
    ctx.stats.valueBytes += entry.valueBytes;
  }
  ctx.stats.bundles++;
  ctx.stats.tiles++;
  await ctx.outcome.tree.level0(t, leaves, tileBytes, (i) => `entry ${t.index * tileWidthMax + i} (key ${JSON.stringify(keys[i])})`);
}

/** Walks every bundle and level 0 tile of the tree of `checkpoint` (and the upper tiles as they complete). */
async function walk(ctx: WalkContext, checkpoint: Checkpoint, readTile: (t: Tile) => Promise<Uint8Array>): Promise<void> {
  const size = checkpoint.size;
  const tileCount = Math.ceil(size / tileWidthMax);
  const ahead = Math.max(1, ctx.options.fetchAheadMax ?? tileAuditFetchAheadDefault);
  const fetches = new Map<number, Promise<[Uint8Array, Uint8Array]>>();
  const start = (n: number): void => {
    if (n >= tileCount || fetches.has(n)) return;
    const t = tileAt(0, n, size)!;
    const pair = Promise.all([need(ctx.options.source, entryBundlePath(t), entryBundleBytesMax, n * tileWidthMax), readTile(t)]);
    pair.catch(() => undefined); // awaited in order below; an early failure must not go unhandled
    fetches.set(n, pair);
  };
  for (let n = 0; n < tileCount; n++) {
    for (let k = n; k <= n + ahead; k++) start(k);
    const [bundleBytes, tileBytes] = await fetches.get(n)!;
    fetches.delete(n);
    await checkBundle(ctx, tileAt(0, n, size)!, bundleBytes, tileBytes);
    ctx.stats.entries = Math.min(size, (n + 1) * tileWidthMax);
    ctx.stats.keys = ctx.heads.size;
    ctx.options.onProgress?.({ entries: ctx.stats.entries, total: size, valueBytes: ctx.stats.valueBytes });
  }
}

/** Judges the walk: which object is at fault, if any (see the module comment). */
function judge(outcome: WalkOutcome, checkpoint: Checkpoint): TileAuditFailure | undefined {
  const { tree } = outcome;
  const rebuilt = tree.rebuiltRoot();
  if (!bytesEqual(rebuilt, checkpoint.rootHash)) {
    const tilesGenuine = !tree.tilesInconsistent && bytesEqual(tree.fetchedRoot(), checkpoint.rootHash);
    if (tilesGenuine && tree.leafDiff) {
      const { object, index, message } = tree.leafDiff;
      return { kind: "bundle", index, object, message: `${message}; the tiles reproduce the signed root, so the bundle is wrong` };
    }
    const first = tree.leafDiff ?? tree.tileDiff;
    const message = `the entries rebuild root ${toHex(rebuilt)} and the tiles give ${toHex(tree.fetchedRoot())}, but the signed root is ${toHex(checkpoint.rootHash)}${first ? `; first disagreement: ${first.message}` : ""}`;
    return { kind: "tree", index: first?.index ?? null, object: first?.object ?? null, message };
  }
  if (tree.tileDiff) {
    const { object, index, message } = tree.tileDiff;
    return { kind: "tile", index, object, message: `${message} (the entries reproduce the signed root, so the tile is wrong)` };
  }
  return outcome.chainFailure ?? outcome.valueFailure;
}

/** The segments to check values in, or a failure; undefined segments: values are not checked. */
async function loadSegments(options: TileAuditOptions): Promise<{ segments?: SegmentRef[]; failure?: TileAuditFailure }> {
  const mode = options.values ?? "auto";
  if (mode === "skip") return {};
  const bytes = await options.source.read("manifest.json", tileAuditManifestBytesMax);
  if (!bytes) {
    if (mode === "auto") return {};
    return { failure: { kind: "manifest", index: null, object: "manifest.json", message: `${options.source.location}/manifest.json is missing: the values cannot be checked` } };
  }
  try {
    return { segments: parseManifestSegments(bytes) };
  } catch (error) {
    return { failure: { kind: "manifest", index: null, object: "manifest.json", message: `${options.source.location}/manifest.json is unreadable: ${(error as Error).message}` } };
  }
}

/** `witnessed-checkpoint`, read only when the policy requires witnesses (undefined when absent). */
async function witnessedExtension(options: TileAuditOptions): Promise<string | undefined> {
  const witnesses = options.policy?.witnesses ?? [];
  if (requiredCount(options.policy?.witnessesRequired ?? "all", witnesses.length) === 0) return undefined;
  const bytes = await options.source.read("witnessed-checkpoint", checkpointBytesMax);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/**
 * Audits the log behind `options.source` up to its signed checkpoint (see the module comment).
 * Returns a result (a failure is a value naming the object and the first bad index); throws only
 * when the source cannot be read at all.
 */
export async function auditTiles(options: TileAuditOptions): Promise<TileAuditResult> {
  const hasher = options.hasher ?? (await loadHasher());
  const stats: TileAuditStats = { entries: 0, puts: 0, deletes: 0, keys: 0, valueBytes: 0, tiles: 0, bundles: 0, segments: 0, values: 0, valuesChecked: false };
  const trustedSize = (await options.trustedState?.current())?.size ?? null;
  const fail = (failure: TileAuditFailure, checkpoint: Checkpoint | null): TileAuditResult => ({ ok: false, failure, checkpoint, trustedSize, stats });
  const source = options.source;

  const noteBytes = await source.read("checkpoint", checkpointBytesMax);
  if (!noteBytes) return fail({ kind: "checkpoint", index: null, object: "checkpoint", message: `${source.location}/checkpoint is missing` }, null);
  const note = new TextDecoder().decode(noteBytes);
  const extension = await witnessedExtension(options);
  let checkpoint: Checkpoint;
  let witnessed: TileAuditWitnessed;
  try {
    const verdict = await verifyCheckpointWitnessed(note, { ...options.policy, members: options.verifiers, origin: options.origin }, { extension, hasher });
    checkpoint = verdict.checkpoint;
    witnessed = { by: verdict.witnessedBy, size: verdict.witnessedSize };
  } catch (error) {
    if (!isScribeError(error)) throw error;
    const object = extension === undefined ? "checkpoint" : "witnessed-checkpoint";
    return fail({ kind: "checkpoint", index: null, object, message: `${source.location}/checkpoint does not verify: ${error.message}` }, null);
  }

  const { segments, failure: manifestFailure } = await loadSegments(options);
  if (manifestFailure) return fail(manifestFailure, checkpoint);
  stats.valuesChecked = segments !== undefined;
  const readTile = async (t: Tile): Promise<Uint8Array> => {
    const bytes = await need(source, hashTilePath(t), tileBytesMax, t.index * tileWidthMax ** (t.level + 1));
    if (bytes.length !== t.width * hashSize) throw new StopAudit({ kind: "tile", index: t.index * tileWidthMax ** (t.level + 1), object: hashTilePath(t), message: `${hashTilePath(t)} has ${bytes.length} bytes, a tile of width ${t.width} has ${t.width * hashSize}` });
    return bytes;
  };
  const outcome: WalkOutcome = { tree: new TreeCheck(hasher, checkpoint.size, readTile, stats), chainFailure: undefined, valueFailure: undefined };
  const ctx: WalkContext = { options, hasher, stats, heads: new Map(), cursor: segments ? new SegmentCursor(source, segments, stats) : undefined, outcome };
  try {
    await walk(ctx, checkpoint, readTile);
  } catch (error) {
    if (error instanceof StopAudit) return fail(error.failure, checkpoint);
    throw error;
  }
  const failure = judge(outcome, checkpoint);
  if (failure) return fail(failure, checkpoint);

  // Every tile is genuine now, so a consistency failure is the log's, not a tile's.
  if (options.trustedState) {
    const verifier = await TileVerifier.create({ source, hasher });
    const trustedNote = await options.trustedState.currentNote();
    const scratch = new TrustedState({ verifiers: options.verifiers, policy: options.policy, origin: options.origin, persistence: new MemoryPersistence(trustedNote), hasher });
    try {
      await verifier.updateTrustedState(scratch, note, extension);
    } catch (error) {
      if (!isScribeError(error)) throw error;
      return fail({ kind: "consistency", index: null, object: "checkpoint", message: `the checkpoint (size ${checkpoint.size}) is inconsistent with the trusted checkpoint (size ${trustedSize}): ${error.message}` }, checkpoint);
    }
    await verifier.updateTrustedState(options.trustedState, note, extension);
  }
  return { ok: true, checkpoint, note, trustedSize, witnessed, stats };
}
