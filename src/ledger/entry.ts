/**
 * @module entry. The ledger entry and its canonical binary encoding, the bytes a Merkle leaf hashes.
 *
 * Layout (all integers big-endian; see docs/FORMATS.md):
 *
 *   u8   format version            = 1
 *   u64  index                     ledger position, 0-based
 *   u8   op                        0 = put, 1 = delete
 *   u32  key length, then the key  UTF-8, 1..1024 bytes
 *   32B  value hash                SHA-256 of the value (of the empty string for a delete)
 *   u64  value size in bytes       0 for a delete
 *   u16  content type length, then the content type (ASCII, 0..255 bytes)
 *   u64  timestamp                 milliseconds since the Unix epoch, chosen by the leader
 *   i64  prev index                index of the key's previous entry, or -1
 *
 * Every variable-length field carries its length, so no two different entries share an encoding.
 */

import { assert, ByteReader, fail, ByteWriter, fromUtf8 } from "../lib/index.ts";

export type Op = "put" | "delete";

export interface Entry {
  index: number;
  op: Op;
  key: string;
  /** SHA-256 of the value, 32 bytes. */
  valueHash: Uint8Array;
  valueBytes: number;
  contentType: string;
  timestampMs: number;
  /** Index of the previous entry for the same key, or -1. */
  prevIndex: number;
}

export const entryFormatVersion = 1;
export const keyBytesMax = 1024;
export const contentTypeBytesMax = 255;
export const hashBytes = 32;
/**
 * Longest canonical encoding: 72 fixed bytes + a 1024-byte key + a 255-byte content type. Far
 * below the 65535 bytes a C2SP entry bundle's uint16 length prefix allows (docs/FORMATS.md).
 */
/** Bytes of an encoded entry besides its key and content type: version 1, index 8, op 1, key length 4, value hash 32, value size 8, content type length 2, timestamp 8, previous index 8. */
export const entryFixedBytes = 72;
export const entryBytesMax = entryFixedBytes + keyBytesMax + contentTypeBytesMax;

const opCodes: Record<Op, number> = { put: 0, delete: 1 };

/** Encodes an entry canonically. Precondition: the entry is well formed (asserted). */
export function encodeEntry(entry: Entry): Uint8Array {
  const writer = new ByteWriter(asciiEncodedBytes(entry));
  writeEntry(writer, entry);
  return writer.finish();
}

/**
 * Encodes `entries` into one buffer, each behind one spare byte (a Merkle leaf's prefix, set by
 * `Hasher.hashLeavesPacked`): entry i's encoding ends at `ends[i]`, its spare byte is at
 * `ends[i - 1]` (0 for the first). One allocation for the batch instead of one per entry.
 */
export function encodeEntriesPacked(entries: readonly Entry[]): { packed: Uint8Array; ends: Uint32Array } {
  let bytes = 0;
  for (const entry of entries) bytes += 1 + asciiEncodedBytes(entry);
  const writer = new ByteWriter(bytes);
  const ends = new Uint32Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    writer.u8(0);
    writeEntry(writer, entries[i]!);
    ends[i] = writer.size;
  }
  return { packed: writer.finish(), ends };
}

/** An entry's encoded size when its key and content type are ASCII (72 fixed bytes + both): the writer's size, so that one allocation does and finish() copies nothing. */
function asciiEncodedBytes(entry: Entry): number {
  return entryFixedBytes + entry.key.length + entry.contentType.length;
}

/** Writes an entry's canonical encoding at the end of `writer`. Precondition: the entry is well formed (asserted). */
function writeEntry(writer: ByteWriter, entry: Entry): void {
  if (!(Number.isSafeInteger(entry.index) && entry.index >= 0)) fail(`bad entry index ${entry.index}`);
  assert(entry.valueHash.length === hashBytes, "value hash must be 32 bytes");
  if (!(entry.prevIndex >= -1 && entry.prevIndex < entry.index)) fail(`bad prevIndex ${entry.prevIndex} for index ${entry.index}`);
  assert(entry.op === "put" || entry.valueBytes === 0, "a delete has no value");
  const start = writer.size;
  writer.u8(entryFormatVersion).u64(entry.index).u8(opCodes[entry.op]);
  const keyBytes = writer.text(entry.key, 4);
  if (!(keyBytes >= 1 && keyBytes <= keyBytesMax)) fail(`bad key length ${keyBytes}`);
  writer.bytes(entry.valueHash).u64(entry.valueBytes);
  const contentTypeBytes = writer.text(entry.contentType, 2);
  if (contentTypeBytes > contentTypeBytesMax) fail(`bad content type length ${contentTypeBytes}`);
  writer.u64(entry.timestampMs).i64(entry.prevIndex);
  const written = writer.size - start;
  if (written !== entryFixedBytes + keyBytes + contentTypeBytes) fail(`entry ${entry.index} encodes to ${written} bytes, not ${entryFixedBytes + keyBytes + contentTypeBytes}`);
}

/** Decodes a canonical entry; throws a RangeError or TypeError on malformed bytes. */
export function decodeEntry(bytes: Uint8Array): Entry {
  const reader = new ByteReader(bytes);
  const version = reader.u8();
  if (version !== entryFormatVersion) throw new RangeError(`unknown entry format version ${version}`);
  const index = reader.u64();
  const opCode = reader.u8();
  if (opCode !== 0 && opCode !== 1) throw new RangeError(`unknown op code ${opCode}`);
  const key = fromUtf8(reader.lengthPrefixed());
  const valueHash = reader.bytes(hashBytes).slice();
  const valueBytes = reader.u64();
  const contentType = fromUtf8(reader.bytes(reader.u16()));
  const timestampMs = reader.u64();
  const prevIndex = reader.i64();
  if (reader.remaining !== 0) throw new RangeError(`${reader.remaining} trailing bytes after entry`);
  return { index, op: opCode === 0 ? "put" : "delete", key, valueHash, valueBytes, contentType, timestampMs, prevIndex };
}
