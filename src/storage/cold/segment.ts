/**
 * @module segment. The deterministic encoding of a contiguous range of ledger entries and their
 * values: the bytes a cold segment holds before compression. The same entries give the same
 * bytes on every node.
 *
 * Layout (all integers big-endian):
 *
 *   header   8B  magic "SCRBSEG\n"
 *            u16 format version = 1
 *            u64 first index
 *            u32 count                      number of records, >= 1
 *   record   u32 entry length, then the canonical entry encoding (src/ledger/entry.ts)
 *   (count)  u32 value length, then the value (empty for a delete)
 *   trailer  8B  magic "SCRBEND\n"
 *            u32 count                      repeated, so truncation at a record boundary is caught
 *            32B SHA-256 of every byte before the trailer
 *
 * Record i holds the entry with index `first + i`; its value's SHA-256 equals the entry's
 * valueHash and its length the entry's valueBytes.
 */

import { assert, bytesEqual, ScribeError, toHex, utf8 } from "../../lib/index.ts";
import { decodeEntry, encodeEntry, entryBytesMax, entryFixedBytes, type Entry } from "../../ledger/index.ts";
import { sha256, StreamHash } from "./hashing.ts";

export interface SegmentRecord {
  entry: Entry;
  value: Uint8Array;
}

export const segmentFormatVersion = 1;
export const segmentMagic = utf8("SCRBSEG\n");
export const segmentTrailerMagic = utf8("SCRBEND\n");
export const segmentHeaderBytes = 8 + 2 + 8 + 4;
export const segmentTrailerBytes = 8 + 4 + 32;
/** A canonical entry is at most 72 fixed bytes + 1024 key bytes + 255 content-type bytes. */
export const segmentEntryBytesMax = entryBytesMax;
/** Largest value a decoder accepts; above the configurable value limit (default 4 MiB). */
export const segmentValueBytesMaxDefault = 64 * 1024 * 1024;
/** Encoder output chunk size: big enough to amortise worker messages, small enough to stream. */
export const segmentChunkBytesDefault = 256 * 1024;

/** Bytes a record takes in a segment, computed from the entry alone (no value needed). */
export function segmentRecordBytes(entry: Entry): number {
  return segmentRecordBytesOf(utf8(entry.key).length + utf8(entry.contentType).length + entry.valueBytes);
}

/** The same from an entry's variable bytes: its key's and content type's UTF-8 bytes plus its value's bytes. */
export function segmentRecordBytesOf(variableBytes: number): number {
  return 4 + entryFixedBytes + 4 + variableBytes;
}

/** Raw segment bytes for records totalling `recordBytes`. */
export function segmentRawBytes(recordBytes: number): number {
  return segmentHeaderBytes + recordBytes + segmentTrailerBytes;
}

export function segmentError(message: string, details: { objectKey?: string; index?: number } = {}): ScribeError {
  const where = [
    details.objectKey !== undefined ? `object ${details.objectKey}` : undefined,
    details.index !== undefined ? `index ${details.index}` : undefined,
  ].filter(Boolean);
  return new ScribeError("verification_failed", `segment${where.length ? ` (${where.join(", ")})` : ""}: ${message}`, {
    ...(details.objectKey !== undefined ? { object_key: details.objectKey } : {}),
    ...(details.index !== undefined ? { index: details.index } : {}),
  });
}

/**
 * Encodes `count` records starting at `firstIndex`, yielding chunks of about `chunkBytes`.
 * Each yielded chunk is a fresh buffer the caller owns. `onEntry` sees each record's canonical
 * entry bytes (to hash leaves without encoding twice).
 * Preconditions (asserted, before any byte is written for that record): indexes are consecutive,
 * each value matches its entry's size and hash, exactly `count` records are given.
 */
export function* encodeSegment(
  firstIndex: number,
  count: number,
  records: Iterable<SegmentRecord>,
  chunkBytes = segmentChunkBytesDefault,
  onEntry?: (encodedEntry: Uint8Array, record: SegmentRecord) => void,
): Generator<Uint8Array> {
  assert(Number.isSafeInteger(firstIndex) && firstIndex >= 0, `bad first index ${firstIndex}`);
  assert(Number.isInteger(count) && count >= 1 && count <= 0xffffffff, `bad segment count ${count}`);
  const body = new StreamHash();
  let chunk = new Uint8Array(Math.max(chunkBytes, segmentHeaderBytes));
  let view = new DataView(chunk.buffer);
  let fill = 0;
  /** Makes room for `bytes` more; a record larger than a chunk gets a chunk of its own size. */
  const reserve = (bytes: number): void => {
    if (fill + bytes <= chunk.length) return;
    const next = new Uint8Array(Math.max(chunkBytes, fill + bytes));
    next.set(chunk.subarray(0, fill));
    chunk = next;
    view = new DataView(chunk.buffer);
  };
  const take = (): Uint8Array => {
    const out = chunk.slice(0, fill);
    fill = 0;
    body.update(out);
    return out;
  };

  chunk.set(segmentMagic, 0);
  view.setUint16(8, segmentFormatVersion);
  view.setBigUint64(10, BigInt(firstIndex));
  view.setUint32(18, count);
  fill = segmentHeaderBytes;

  let written = 0;
  const valueHash = new Uint8Array(32);
  for (const record of records) {
    const { entry, value } = record;
    const index = firstIndex + written;
    assert(written < count, `segment at ${firstIndex} given more than ${count} records`);
    assert(entry.index === index, `segment expected index ${index}, got ${entry.index}`);
    assert(value.length === entry.valueBytes, `value at index ${index} has ${value.length} bytes, entry says ${entry.valueBytes}`);
    Bun.SHA256.hash(value, valueHash);
    assert(bytesEqual(valueHash, entry.valueHash), `value at index ${index} does not match its valueHash`);
    const encoded = encodeEntry(entry);
    onEntry?.(encoded, record);
    reserve(8 + encoded.length + value.length);
    view.setUint32(fill, encoded.length);
    chunk.set(encoded, fill + 4);
    fill += 4 + encoded.length;
    view.setUint32(fill, value.length);
    chunk.set(value, fill + 4);
    fill += 4 + value.length;
    written += 1;
    if (fill >= chunkBytes) yield take();
  }
  assert(written === count, `segment at ${firstIndex} expected ${count} records, got ${written}`);
  if (fill > 0) yield take();

  const trailer = new Uint8Array(segmentTrailerBytes);
  trailer.set(segmentTrailerMagic, 0);
  new DataView(trailer.buffer).setUint32(8, count);
  trailer.set(body.digest(), 12);
  yield trailer;
}

/** Encodes a segment into one buffer (tests and small segments). */
export function encodeSegmentBytes(firstIndex: number, records: readonly SegmentRecord[]): Uint8Array {
  const parts = [...encodeSegment(firstIndex, records.length, records)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export interface SegmentDecodeOptions {
  /** Named in every error. */
  objectKey?: string;
  /** When given, the header must agree. */
  expectFirstIndex?: number;
  expectCount?: number;
  valueBytesMax?: number;
}

export interface SegmentSummary {
  firstIndex: number;
  count: number;
  /** SHA-256 and length of the whole raw segment, trailer included. */
  rawSha256: Uint8Array;
  rawBytes: number;
}

/** A queue of received chunks that hands out exact byte ranges. */
class ChunkQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  available = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** Reads the next big-endian u32 without consuming it; precondition: 4 bytes available. */
  peekU32(): number {
    const bytes = this.peek(4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  }

  peek(length: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length - this.head >= length) return first.subarray(this.head, this.head + length);
    const out = new Uint8Array(length);
    let offset = 0;
    let head = this.head;
    for (const chunk of this.chunks) {
      const part = chunk.subarray(head, Math.min(chunk.length, head + length - offset));
      out.set(part, offset);
      offset += part.length;
      head = 0;
      if (offset === length) break;
    }
    return out;
  }

  take(length: number): Uint8Array {
    assert(length <= this.available, "chunk queue underflow");
    const out = this.peek(length);
    this.available -= length;
    let remaining = length;
    while (remaining > 0) {
      const chunk = this.chunks[0]!;
      const inChunk = chunk.length - this.head;
      if (inChunk > remaining) {
        this.head += remaining;
        remaining = 0;
      } else {
        remaining -= inChunk;
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}

/**
 * Incremental verifying decoder: `push` chunks, receive the records completed so far; `finish`
 * checks the trailer and returns the summary. Every error names the object and the index.
 */
export class SegmentDecoder {
  private readonly queue = new ChunkQueue();
  private readonly bodyHash = new StreamHash();
  private readonly rawHash = new StreamHash();
  private phase: "header" | "records" | "trailer" | "done" = "header";
  private firstIndex = 0;
  private count = 0;
  private decoded = 0;
  private readonly valueBytesMax: number;

  constructor(private readonly options: SegmentDecodeOptions = {}) {
    this.valueBytesMax = options.valueBytesMax ?? segmentValueBytesMaxDefault;
  }

  private fail(message: string, index?: number): never {
    throw segmentError(message, { objectKey: this.options.objectKey, index });
  }

  private take(length: number, inBody = true): Uint8Array {
    const bytes = this.queue.take(length);
    if (inBody) this.bodyHash.update(bytes);
    this.rawHash.update(bytes);
    return bytes;
  }

  /** Feeds bytes; returns the records they complete, in index order. */
  push(chunk: Uint8Array): SegmentRecord[] {
    if (this.phase === "done" && chunk.length > 0) this.fail(`${chunk.length} bytes after the trailer`);
    this.queue.push(chunk);
    const out: SegmentRecord[] = [];
    for (;;) {
      if (this.phase === "header") {
        if (this.queue.available < segmentHeaderBytes) return out;
        this.readHeader();
      } else if (this.phase === "records") {
        if (this.decoded === this.count) {
          this.phase = "trailer";
          continue;
        }
        const record = this.tryReadRecord();
        if (!record) return out;
        out.push(record);
      } else if (this.phase === "trailer") {
        if (this.queue.available < segmentTrailerBytes) return out;
        this.readTrailer();
      } else {
        if (this.queue.available > 0) this.fail(`${this.queue.available} bytes after the trailer`);
        return out;
      }
    }
  }

  private readHeader(): void {
    const header = this.take(segmentHeaderBytes);
    const view = new DataView(header.buffer, header.byteOffset, header.length);
    if (!bytesEqual(header.subarray(0, 8), segmentMagic)) this.fail(`bad magic ${toHex(header.subarray(0, 8))}`);
    const version = view.getUint16(8);
    if (version !== segmentFormatVersion) this.fail(`unknown segment format version ${version}, want ${segmentFormatVersion}`);
    const first = view.getBigUint64(10);
    if (first > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`first index ${first} out of range`);
    this.firstIndex = Number(first);
    this.count = view.getUint32(18);
    const { expectFirstIndex, expectCount } = this.options;
    if (expectFirstIndex !== undefined && this.firstIndex !== expectFirstIndex) {
      this.fail(`header says first index ${this.firstIndex}, expected ${expectFirstIndex}`, this.firstIndex);
    }
    if (expectCount !== undefined && this.count !== expectCount) {
      this.fail(`header says ${this.count} records, expected ${expectCount}`, this.firstIndex);
    }
    if (this.count === 0) this.fail("header says 0 records", this.firstIndex);
    this.phase = "records";
  }

  private tryReadRecord(): SegmentRecord | undefined {
    const index = this.firstIndex + this.decoded;
    if (this.queue.available < 4) return undefined;
    const entryLength = this.queue.peekU32();
    if (entryLength > segmentEntryBytesMax) this.fail(`entry length ${entryLength} exceeds ${segmentEntryBytesMax}`, index);
    if (this.queue.available < 4 + entryLength + 4) return undefined;
    const head = this.queue.peek(4 + entryLength + 4);
    const valueLength = new DataView(head.buffer, head.byteOffset + 4 + entryLength, 4).getUint32(0);
    if (valueLength > this.valueBytesMax) this.fail(`value length ${valueLength} exceeds ${this.valueBytesMax}`, index);
    if (this.queue.available < 4 + entryLength + 4 + valueLength) return undefined;
    this.take(4);
    const entryBytes = this.take(entryLength);
    this.take(4);
    const value = this.take(valueLength);
    let entry: Entry;
    try {
      entry = decodeEntry(entryBytes);
    } catch (error) {
      this.fail(`malformed entry: ${(error as Error).message}`, index);
    }
    if (entry.index !== index) this.fail(`record ${this.decoded} holds index ${entry.index}, expected ${index}`, index);
    if (value.length !== entry.valueBytes) this.fail(`value has ${value.length} bytes, entry says ${entry.valueBytes}`, index);
    if (!bytesEqual(sha256(value), entry.valueHash)) this.fail("value does not match the entry's valueHash", index);
    this.decoded += 1;
    return { entry, value };
  }

  private readTrailer(): void {
    const expectedBody = this.bodyHash.digest();
    const trailer = this.take(segmentTrailerBytes, false);
    const lastIndex = this.firstIndex + this.count - 1;
    if (!bytesEqual(trailer.subarray(0, 8), segmentTrailerMagic)) this.fail("bad trailer magic", lastIndex);
    const count = new DataView(trailer.buffer, trailer.byteOffset + 8, 4).getUint32(0);
    if (count !== this.count) this.fail(`trailer says ${count} records, header says ${this.count}`, lastIndex);
    if (!bytesEqual(trailer.subarray(12, 44), expectedBody)) this.fail("trailer SHA-256 does not match the segment body", lastIndex);
    this.phase = "done";
  }

  /** Checks the segment ended exactly at its trailer; returns its summary. */
  finish(): SegmentSummary {
    if (this.phase !== "done") {
      const index = this.phase === "header" ? this.options.expectFirstIndex : this.firstIndex + this.decoded;
      const where =
        this.phase === "header"
          ? "in the header"
          : this.phase === "trailer"
            ? "in the trailer"
            : `at record ${this.decoded} of ${this.count}`;
      this.fail(`truncated ${where}`, index);
    }
    if (this.queue.available > 0) this.fail(`${this.queue.available} bytes after the trailer`);
    return { firstIndex: this.firstIndex, count: this.count, rawSha256: this.rawHash.digest(), rawBytes: this.rawHash.bytes };
  }
}

/** Decodes and verifies a whole raw segment held in memory. */
export function decodeSegmentBytes(bytes: Uint8Array, options: SegmentDecodeOptions = {}): { records: SegmentRecord[]; summary: SegmentSummary } {
  const decoder = new SegmentDecoder(options);
  const records = decoder.push(bytes);
  return { records, summary: decoder.finish() };
}

/** Decodes and verifies a stream of raw segment chunks, yielding records in index order. */
export async function* decodeSegmentStream(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: SegmentDecodeOptions = {},
  onSummary?: (summary: SegmentSummary) => void,
): AsyncGenerator<SegmentRecord> {
  const decoder = new SegmentDecoder(options);
  for await (const chunk of chunks) yield* decoder.push(chunk);
  const summary = decoder.finish();
  onSummary?.(summary);
}
