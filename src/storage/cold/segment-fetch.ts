/**
 * @module segment-fetch. Downloads one segment object and verifies it completely before anything
 * of it is used: object size and SHA-256 against the descriptor, decompression, every record
 * (index sequence, value hashes), the trailer, the raw SHA-256, and the Merkle root of its leaves.
 */

import { bytesEqual, ScribeError, toHex } from "../../lib/index.ts";
import { encodeEntry } from "../../ledger/index.ts";
import { collect, gunzipStream, yieldToEventLoop } from "./compression.ts";
import { CompactRange, leafHash, sha256 } from "./hashing.ts";
import type { SegmentDescriptor } from "./manifest.ts";
import { segmentError, SegmentDecoder, type SegmentRecord, type SegmentSummary } from "./segment.ts";
import type { Uploader } from "./uploader.ts";

/** Raw bytes decoded between yields to the event loop (~a few ms of work). */
const decodeSliceBytes = 1024 * 1024;

/** Largest segment object fetched into memory; above the largest configured segment size. */
export const segmentObjectBytesMaxDefault = 1024 * 1024 * 1024;

export type SegmentExpectation = Pick<SegmentDescriptor, "object_key" | "first_index" | "count" | "compression"> &
  Partial<Pick<SegmentDescriptor, "object_bytes" | "object_sha256" | "raw_bytes" | "raw_sha256" | "leaves_root">>;

export interface VerifiedSegment {
  records: SegmentRecord[];
  summary: SegmentSummary;
  objectBytes: number;
  objectSha256: string;
  /** Leaf hashes of the records, in order (for the caller's tree). */
  leafHashes: Uint8Array[];
  leavesRoot: string;
}

/** Verifies a segment object's bytes against what is expected of it. */
export async function verifySegmentObject(object: Uint8Array, expected: SegmentExpectation): Promise<VerifiedSegment> {
  const key = expected.object_key;
  const objectSha256 = toHex(sha256(object));
  if (expected.object_bytes !== undefined && object.length !== expected.object_bytes) {
    throw segmentError(`object has ${object.length} bytes, manifest says ${expected.object_bytes}`, { objectKey: key, index: expected.first_index });
  }
  if (expected.object_sha256 !== undefined && objectSha256 !== expected.object_sha256) {
    throw segmentError(`object sha256 ${objectSha256} does not match the manifest's ${expected.object_sha256}`, {
      objectKey: key,
      index: expected.first_index,
    });
  }
  let raw: Uint8Array;
  if (expected.compression === "gzip") {
    try {
      raw = await collect(gunzipStream([object]));
    } catch (error) {
      throw segmentError(`gunzip failed: ${(error as Error).message}`, { objectKey: key, index: expected.first_index });
    }
  } else {
    raw = object;
  }
  const decoder = new SegmentDecoder({ objectKey: key, expectFirstIndex: expected.first_index, expectCount: expected.count });
  const records: SegmentRecord[] = [];
  // Decode (and hash) in slices so a large segment does not hold the event loop for its whole length.
  for (let offset = 0; offset < raw.length; offset += decodeSliceBytes) {
    for (const record of decoder.push(raw.subarray(offset, offset + decodeSliceBytes))) records.push(record);
    if (offset + decodeSliceBytes < raw.length) await yieldToEventLoop();
  }
  const summary = decoder.finish();
  const lastIndex = expected.first_index + expected.count - 1;
  if (expected.raw_bytes !== undefined && summary.rawBytes !== expected.raw_bytes) {
    throw segmentError(`raw segment has ${summary.rawBytes} bytes, manifest says ${expected.raw_bytes}`, { objectKey: key, index: lastIndex });
  }
  if (expected.raw_sha256 !== undefined && toHex(summary.rawSha256) !== expected.raw_sha256) {
    throw segmentError(`raw sha256 does not match the manifest`, { objectKey: key, index: lastIndex });
  }
  const range = CompactRange.empty();
  const leafHashes = records.map((record) => leafHash(encodeEntry(record.entry)));
  for (const leaf of leafHashes) range.append(leaf);
  const leavesRoot = toHex(range.root());
  if (expected.leaves_root !== undefined && leavesRoot !== expected.leaves_root) {
    throw segmentError(`Merkle root of the segment's leaves does not match the manifest`, { objectKey: key, index: lastIndex });
  }
  return { records, summary, objectBytes: object.length, objectSha256, leafHashes, leavesRoot };
}

/** Downloads and verifies one segment. */
export async function fetchSegment(
  uploader: Uploader,
  expected: SegmentExpectation,
  objectBytesMax = segmentObjectBytesMaxDefault,
): Promise<VerifiedSegment> {
  const object = await uploader.withRetries(`get ${expected.object_key}`, () => uploader.getBytes(expected.object_key, objectBytesMax));
  if (!object) {
    throw new ScribeError("not_found", `segment object ${expected.object_key} is missing`, { object_key: expected.object_key });
  }
  return verifySegmentObject(object, expected);
}

/** True when `record`'s entry is byte-identical to `entry` in canonical encoding. */
export function sameEntry(a: SegmentRecord["entry"], b: SegmentRecord["entry"]): boolean {
  return bytesEqual(encodeEntry(a), encodeEntry(b));
}
