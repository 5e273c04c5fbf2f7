/**
 * @module segment-prep. Prepares a chosen range for sealing, in memory and with no durable
 * effect: its entries are read from the source ONCE and encoded ONCE; the same pass hashes the
 * raw segment (SHA-256 and size, for the object's identity in its metadata), the Merkle leaves
 * (the segment's leaves root, and the archive's frontier advanced to the segment's end), and
 * feeds the bytes to gzip in a Worker (or keeps them as they are), so the object's bytes are in
 * memory before the upload starts. The canonical entry encodings and their leaf hashes are kept
 * too, for the segment's entry bundles (tile-writer.ts), which then need no second read or
 * encoding of the entries.
 *
 * Because nothing here is durable, the archiver prepares the next segment while the previous one
 * is uploaded, verified and published (archiver.ts, `preparedSegmentsAheadMax`).
 */

import { toHex } from "../../lib/index.ts";
import { gzipStream, yieldToEventLoop, type GzipPool } from "./compression.ts";
import { CompactRange, leafHash, StreamHash } from "./hashing.ts";
import type { PendingSegment } from "./manifest.ts";
import { encodeSegment, type SegmentRecord } from "./segment.ts";
import type { EncodedEntries } from "./tile-writer.ts";

export interface PreparedSegment {
  range: PendingSegment;
  /** SHA-256 (hex) and length of the raw segment. */
  rawSha256: string;
  rawBytes: number;
  /** Merkle root (hex) of the segment's own leaves. */
  leavesRoot: string;
  /** The archive's compact range advanced to the segment's end (undefined when the archive does not start at 0). */
  tree: CompactRange | undefined;
  /** The object's bytes: the gzipped segment, or the raw one. */
  object: Uint8Array[];
  /** The range's canonical entry encodings and leaf hashes (when asked for), for its entry bundles. */
  entries: EncodedEntries | undefined;
}

export interface PrepareOptions {
  /** The range's records, read once, in index order. */
  records: Iterable<SegmentRecord>;
  range: PendingSegment;
  /** The archive's compact range up to the range's first index; advanced in place (pass a copy). */
  tree: CompactRange | undefined;
  /** Keep the entry encodings and leaf hashes for entry bundles. */
  keepEntries: boolean;
  /** Workers to gzip in (kept across segments); without it, a Worker of its own. */
  gzip?: GzipPool;
}

/** Encodes, hashes and (when the range says so) gzips one range; see the module comment. */
export async function prepareSegment(options: PrepareOptions): Promise<PreparedSegment> {
  const { range, tree } = options;
  const raw = new StreamHash();
  const leaves = CompactRange.empty();
  const entries: EncodedEntries | undefined = options.keepEntries ? { first: range.first_index, encoded: [], leaves: [] } : undefined;
  const onEntry = (encoded: Uint8Array): void => {
    const leaf = leafHash(encoded);
    leaves.append(leaf);
    tree?.append(leaf);
    if (entries) {
      entries.encoded.push(encoded);
      entries.leaves.push(leaf);
    }
  };
  // The raw chunks, hashed on the way; the event loop runs between chunks (the previous
  // segment's upload and tiles proceed meanwhile).
  async function* rawChunks(): AsyncGenerator<Uint8Array> {
    for (const chunk of encodeSegment(range.first_index, range.count, options.records, undefined, onEntry)) {
      raw.update(chunk);
      yield chunk;
      await yieldToEventLoop();
    }
  }
  const object: Uint8Array[] = [];
  const { gzip } = options;
  const level = range.compression_level;
  const chunks = range.compression !== "gzip" ? rawChunks() : gzip ? gzip.stream(rawChunks(), level) : gzipStream(rawChunks(), level);
  for await (const chunk of chunks) object.push(chunk);
  return { range, rawSha256: toHex(raw.digest()), rawBytes: raw.bytes, leavesRoot: toHex(leaves.root()), tree, object, entries };
}
