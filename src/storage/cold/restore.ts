/**
 * @module restore. Rebuilds a ledger from the bucket alone: reads the manifest, downloads every
 * segment in index order, verifies each completely (object SHA-256 against the manifest, every
 * entry and value, raw SHA-256, the Merkle root of its leaves, and the running tree root), and only
 * then streams its records to the sink. A tampered object stops the restore with an error naming
 * the object key and the index. The caller checks the returned root against the checkpoint.
 */

import { ScribeError, toHex } from "../../lib/index.ts";
import { CompactRange } from "./hashing.ts";
import type { Layout } from "./layout.ts";
import { readCheckpoint, readManifest, type Manifest, type SegmentDescriptor } from "./manifest.ts";
import type { SegmentRecord } from "./segment.ts";
import { fetchSegment, segmentObjectBytesMaxDefault } from "./segment-fetch.ts";
import { segmentError } from "./segment.ts";
import type { Uploader } from "./uploader.ts";

export interface RestoreOptions {
  uploader: Uploader;
  layout: Layout;
  /** Receives every record in index order; awaited (backpressure). */
  sink: (record: SegmentRecord) => void | Promise<void>;
  /**
   * Called with each verified segment's leaf hashes before any of its records reach the sink
   * (restore checks them against the bucket's tiles); throwing stops the restore.
   */
  checkSegment?: (descriptor: SegmentDescriptor, leafHashes: readonly Uint8Array[]) => void | Promise<void>;
  /** Called after each segment's records were all delivered. */
  onSegment?: (descriptor: SegmentDescriptor) => void | Promise<void>;
  /** Use this manifest instead of reading the bucket's. */
  manifest?: Manifest;
  objectBytesMax?: number;
}

export interface RestoreResult {
  first_index: number;
  /** One past the last restored index. */
  tree_size: number;
  segments: number;
  entries: number;
  /** Hex RFC 9162 root of leaves [0, tree_size), when the archive starts at index 0. */
  root: string | null;
  /** The checkpoint text found in the bucket, unverified (the caller verifies its signature and root). */
  checkpoint: string | null;
}

export async function restoreFromBucket(options: RestoreOptions): Promise<RestoreResult> {
  const { uploader, layout } = options;
  const manifest = options.manifest ?? (await readManifest(uploader, layout));
  if (!manifest) throw new ScribeError("not_found", `no manifest at ${layout.manifestKey()}`);
  const checkpoint = (await readCheckpoint(uploader, layout)) ?? null;
  const tree = manifest.first_index === 0 ? CompactRange.empty() : undefined;
  let entries = 0;
  for (const descriptor of manifest.segments) {
    const verified = await fetchSegment(uploader, descriptor, options.objectBytesMax ?? segmentObjectBytesMaxDefault);
    for (const leaf of verified.leafHashes) tree?.append(leaf);
    if (tree && descriptor.tree_root !== null && toHex(tree.root()) !== descriptor.tree_root) {
      throw segmentError("tree root after this segment does not match the manifest", {
        objectKey: descriptor.object_key,
        index: descriptor.last_index,
      });
    }
    await options.checkSegment?.(descriptor, verified.leafHashes);
    for (const record of verified.records) await options.sink(record);
    entries += verified.records.length;
    await options.onSegment?.(descriptor);
  }
  return {
    first_index: manifest.first_index,
    tree_size: manifest.next_index,
    segments: manifest.segments.length,
    entries,
    root: tree ? toHex(tree.root()) : null,
    checkpoint,
  };
}
