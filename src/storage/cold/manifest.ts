/**
 * @module manifest. The JSON document naming every archived segment, in index order, with what a
 * reader needs to find and verify it. Written after the segments it lists; the checkpoint (text
 * supplied by the caller, a signed note) is published after the manifest.
 *
 *   {
 *     "format": "scribe-cold-manifest", "version": 1,
 *     "first_index": 0,              index of the first archived entry
 *     "next_index": 3000,            one past the last archived entry
 *     "segments": [SegmentDescriptor, ...],   contiguous: each starts where the previous ended
 *     "frontier": {"tree_size": 3000, "hashes": [hex, ...]} | null,
 *     "tiles_size": 3000             optional: C2SP tiles and entry bundles are in the bucket for
 *   }                                the tree of this many entries (0 or absent: none yet)
 *
 * `frontier` is the RFC 9162 compact range of leaves [0, next_index) (present when the manifest
 * starts at index 0), so the archiver can give each segment the tree root after it.
 */

import { assert, fromHex, fromUtf8, ScribeError, toHex, utf8 } from "../../lib/index.ts";
import { CompactRange } from "./hashing.ts";
import type { Layout } from "./layout.ts";
import type { Uploader } from "./uploader.ts";

export const manifestFormat = "scribe-cold-manifest";
export const manifestFormatVersion = 1;
/** A manifest larger than this is refused (about 100k segments). */
export const manifestBytesMax = 64 * 1024 * 1024;
export const checkpointBytesMax = 64 * 1024;

export interface SegmentDescriptor {
  first_index: number;
  last_index: number;
  count: number;
  object_key: string;
  object_bytes: number;
  /** Hex SHA-256 of the object's bytes as stored (compressed when compression is gzip). */
  object_sha256: string;
  raw_bytes: number;
  /** Hex SHA-256 of the raw segment encoding (see segment.ts). */
  raw_sha256: string;
  compression: "gzip" | "none";
  /** Hex RFC 9162 Merkle tree hash over this segment's leaves alone. */
  leaves_root: string;
  /** Size of the ledger tree after this segment: last_index + 1. */
  tree_size: number;
  /** Hex RFC 9162 root of leaves [0, tree_size), when the manifest starts at index 0. */
  tree_root: string | null;
}

export interface Manifest {
  format: typeof manifestFormat;
  version: number;
  first_index: number;
  next_index: number;
  segments: SegmentDescriptor[];
  frontier: { tree_size: number; hashes: string[] } | null;
  /**
   * The tiles and entry bundles (src/storage/cold/tile-writer.ts) in the bucket cover the tree of
   * this many entries: written before the manifest that says so. Absent in manifests written
   * before tiles existed (read as 0).
   */
  tiles_size?: number;
}

export function emptyManifest(firstIndex: number): Manifest {
  assert(Number.isSafeInteger(firstIndex) && firstIndex >= 0, `bad first index ${firstIndex}`);
  return {
    format: manifestFormat,
    version: manifestFormatVersion,
    first_index: firstIndex,
    next_index: firstIndex,
    segments: [],
    frontier: firstIndex === 0 ? { tree_size: 0, hashes: [] } : null,
  };
}

export function frontierOf(manifest: Manifest): CompactRange | undefined {
  if (!manifest.frontier) return undefined;
  return CompactRange.from(
    manifest.frontier.tree_size,
    manifest.frontier.hashes.map((h) => fromHex(h)!),
  );
}

/** Returns a new manifest with `descriptor` appended; precondition: it starts at next_index. */
export function appendSegment(manifest: Manifest, descriptor: SegmentDescriptor, frontier: CompactRange | undefined): Manifest {
  assert(descriptor.first_index === manifest.next_index, `segment starts at ${descriptor.first_index}, manifest expects ${manifest.next_index}`);
  assert(descriptor.last_index - descriptor.first_index + 1 === descriptor.count, "descriptor count disagrees with its range");
  assert(descriptor.tree_size === descriptor.last_index + 1, "descriptor tree_size must be last_index + 1");
  assert(!frontier || frontier.size === descriptor.tree_size, "frontier size disagrees with the segment");
  return {
    ...manifest,
    next_index: descriptor.last_index + 1,
    segments: [...manifest.segments, descriptor],
    frontier: frontier ? { tree_size: frontier.size, hashes: frontier.frontier.map(toHex) } : null,
  };
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  return utf8(`${JSON.stringify(manifest, null, 1)}\n`);
}

function bad(message: string): never {
  throw new ScribeError("verification_failed", `manifest: ${message}`);
}

const hexHash = /^[0-9a-f]{64}$/;

/** Parses and validates a manifest: known format, contiguous segments, well-formed fields. */
export function parseManifest(bytes: Uint8Array): Manifest {
  let data: Manifest;
  try {
    data = JSON.parse(fromUtf8(bytes)) as Manifest;
  } catch (error) {
    bad(`not valid JSON: ${(error as Error).message}`);
  }
  if (data?.format !== manifestFormat) bad(`format is ${JSON.stringify(data?.format)}, want ${manifestFormat}`);
  if (data.version !== manifestFormatVersion) bad(`version is ${data.version}, want ${manifestFormatVersion}`);
  if (!Number.isSafeInteger(data.first_index) || data.first_index < 0) bad(`bad first_index ${data.first_index}`);
  if (!Array.isArray(data.segments)) bad("segments is not an array");
  let next = data.first_index;
  for (const [i, s] of data.segments.entries()) {
    if (s.first_index !== next) bad(`segment ${i} starts at ${s.first_index}, expected ${next}`);
    if (!Number.isSafeInteger(s.last_index) || s.last_index < s.first_index) bad(`segment ${i} has bad last_index ${s.last_index}`);
    if (s.count !== s.last_index - s.first_index + 1) bad(`segment ${i} count ${s.count} disagrees with its range`);
    if (s.tree_size !== s.last_index + 1) bad(`segment ${i} tree_size ${s.tree_size} is not last_index + 1`);
    for (const field of ["object_bytes", "raw_bytes"] as const) {
      if (!Number.isSafeInteger(s[field]) || s[field] < 0) bad(`segment ${i} has bad ${field} ${s[field]}`);
    }
    for (const field of ["object_sha256", "raw_sha256", "leaves_root"] as const) {
      if (!hexHash.test(s[field])) bad(`segment ${i} has bad ${field}`);
    }
    if (s.tree_root !== null && !hexHash.test(s.tree_root)) bad(`segment ${i} has bad tree_root`);
    if (typeof s.object_key !== "string" || s.object_key === "") bad(`segment ${i} has no object_key`);
    if (s.compression !== "gzip" && s.compression !== "none") bad(`segment ${i} has unknown compression ${s.compression}`);
    next = s.last_index + 1;
  }
  if (data.next_index !== next) bad(`next_index ${data.next_index}, segments end at ${next}`);
  if (data.tiles_size !== undefined && !(Number.isSafeInteger(data.tiles_size) && data.tiles_size >= 0 && data.tiles_size <= next)) {
    bad(`tiles_size ${data.tiles_size} must be 0..${next}`);
  }
  if (data.frontier !== null) {
    if (data.first_index !== 0) bad("a frontier needs first_index 0");
    if (data.frontier.tree_size !== next) bad(`frontier tree_size ${data.frontier.tree_size}, expected ${next}`);
    if (!data.frontier.hashes.every((h) => hexHash.test(h))) bad("frontier has a bad hash");
    try {
      frontierOf(data);
    } catch (error) {
      bad(`frontier: ${(error as Error).message}`);
    }
  }
  return data;
}

/** Index of the segment holding `index`, or -1. */
export function findSegment(manifest: Manifest, index: number): number {
  let low = 0;
  let high = manifest.segments.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const segment = manifest.segments[mid]!;
    if (index < segment.first_index) high = mid - 1;
    else if (index > segment.last_index) low = mid + 1;
    else return mid;
  }
  return -1;
}

export async function readManifest(uploader: Uploader, layout: Layout): Promise<Manifest | undefined> {
  const bytes = await uploader.withRetries("read manifest", () => uploader.getBytes(layout.manifestKey(), manifestBytesMax));
  return bytes ? parseManifest(bytes) : undefined;
}

export async function writeManifest(uploader: Uploader, layout: Layout, manifest: Manifest): Promise<void> {
  await uploader.putBytes(layout.manifestKey(), encodeManifest(manifest), "application/json");
}

/** Publishes the checkpoint text (a signed note from the caller); call after writeManifest. */
export async function publishCheckpoint(uploader: Uploader, layout: Layout, text: string): Promise<void> {
  const bytes = utf8(text);
  if (bytes.length > checkpointBytesMax) throw new ScribeError("payload_too_large", `checkpoint has ${bytes.length} bytes, limit ${checkpointBytesMax}`);
  await uploader.putBytes(layout.checkpointKey(), bytes, "text/plain; charset=utf-8");
}

export async function readCheckpoint(uploader: Uploader, layout: Layout): Promise<string | undefined> {
  const bytes = await uploader.withRetries("read checkpoint", () => uploader.getBytes(layout.checkpointKey(), checkpointBytesMax));
  return bytes ? fromUtf8(bytes) : undefined;
}

/**
 * Publishes the witnessed extension of the bucket's checkpoint (src/merkle/witnessed.ts: a newer
 * witnessed checkpoint with a consistency proof from `checkpoint`'s size); call after the checkpoint.
 */
export async function publishWitnessedCheckpoint(uploader: Uploader, layout: Layout, text: string): Promise<void> {
  const bytes = utf8(text);
  if (bytes.length > checkpointBytesMax) throw new ScribeError("payload_too_large", `witnessed checkpoint has ${bytes.length} bytes, limit ${checkpointBytesMax}`);
  await uploader.putBytes(layout.witnessedCheckpointKey(), bytes, "text/plain; charset=utf-8");
}

export async function readWitnessedCheckpoint(uploader: Uploader, layout: Layout): Promise<string | undefined> {
  const bytes = await uploader.withRetries("read witnessed checkpoint", () => uploader.getBytes(layout.witnessedCheckpointKey(), checkpointBytesMax));
  return bytes ? fromUtf8(bytes) : undefined;
}

/** The range being sealed, recorded before its upload so a restart seals the same range. */
export interface PendingSegment {
  first_index: number;
  last_index: number;
  count: number;
  compression: "gzip" | "none";
  compression_level: number;
}

export async function readPending(uploader: Uploader, layout: Layout): Promise<PendingSegment | undefined> {
  const bytes = await uploader.withRetries("read pending", () => uploader.getBytes(layout.pendingKey(), checkpointBytesMax));
  if (!bytes) return undefined;
  try {
    const pending = JSON.parse(fromUtf8(bytes)) as PendingSegment;
    if (!Number.isSafeInteger(pending.first_index) || !Number.isSafeInteger(pending.last_index)) return undefined;
    return pending;
  } catch {
    return undefined;
  }
}

export async function writePending(uploader: Uploader, layout: Layout, pending: PendingSegment): Promise<void> {
  await uploader.putBytes(layout.pendingKey(), utf8(JSON.stringify(pending)), "application/json");
}
