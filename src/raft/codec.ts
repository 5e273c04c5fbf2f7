/**
 * @module raft/codec. Binary encoding of Raft messages and entries (big-endian, fixed layout).
 *
 * Message layout (version 1):
 *   u8 version (=1) | u8 type | u64 from | u64 to | u64 term | u64 logTerm | u64 index
 *   | u64 commit | u64 rejectHint | u64 readSeq | u8 flags (1 reject, 2 transfer, 4 has catchup)
 *   | u32 entryCount | entryCount x Entry | [catchup: u64 index | u64 term | Membership]
 * Entry: u64 term | u64 index | u8 type (1 normal, 2 config) | u32 length | data
 * Membership: u64 index | u32 voterCount | u64 x voterCount | u32 learnerCount | u64 x learnerCount
 *
 * decode* throws a RangeError on any malformed input: truncation, trailing bytes, unknown type
 * or version, zero node ids, counts that cannot fit in the remaining bytes.
 */

import { ByteReader, ByteWriter } from "../lib/index.ts";
import type { Entry, Membership, Message, MessageType } from "./types.ts";

const VERSION = 1;
const ENTRY_HEADER_BYTES = 21;

const messageTypes: readonly MessageType[] = [
  "vote",
  "voteResponse",
  "preVote",
  "preVoteResponse",
  "append",
  "appendResponse",
  "heartbeat",
  "heartbeatResponse",
  "catchup",
  "timeoutNow",
];
const typeCode = new Map(messageTypes.map((t, i) => [t, i + 1]));

const FLAG_REJECT = 1;
const FLAG_TRANSFER = 2;
const FLAG_CATCHUP = 4;

export function writeEntry(w: ByteWriter, entry: Entry): void {
  w.u64(entry.term).u64(entry.index).u8(entry.type === "normal" ? 1 : 2).lengthPrefixed(entry.data);
}

/** Reads an entry; the data is copied so it does not alias the input buffer. */
export function readEntry(r: ByteReader): Entry {
  const term = r.u64();
  const index = r.u64();
  const code = r.u8();
  if (code !== 1 && code !== 2) throw new RangeError(`entry: unknown type ${code}`);
  const data = r.lengthPrefixed().slice();
  return { term, index, type: code === 1 ? "normal" : "config", data };
}

export function encodeEntry(entry: Entry): Uint8Array {
  const w = new ByteWriter(ENTRY_HEADER_BYTES + entry.data.length);
  writeEntry(w, entry);
  return w.finish();
}

export function decodeEntry(bytes: Uint8Array): Entry {
  const r = new ByteReader(bytes);
  const entry = readEntry(r);
  if (r.remaining !== 0) throw new RangeError(`entry: ${r.remaining} trailing bytes`);
  return entry;
}

function writeIds(w: ByteWriter, ids: readonly number[]): void {
  w.u32(ids.length);
  for (const id of ids) w.u64(id);
}

function readIds(r: ByteReader): number[] {
  const count = r.u32();
  if (count * 8 > r.remaining) throw new RangeError(`membership: ${count} ids cannot fit in ${r.remaining} bytes`);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = r.u64();
    if (id <= 0) throw new RangeError("membership: node id 0");
    ids.push(id);
  }
  return ids;
}

export function writeMembership(w: ByteWriter, m: Membership): void {
  w.u64(m.index);
  writeIds(w, m.voters);
  writeIds(w, m.learners);
}

export function readMembership(r: ByteReader): Membership {
  const index = r.u64();
  const voters = readIds(r);
  const learners = readIds(r);
  return { voters, learners, index };
}

export function encodeMembership(m: Membership): Uint8Array {
  const w = new ByteWriter(64);
  writeMembership(w, m);
  return w.finish();
}

export function decodeMembership(bytes: Uint8Array): Membership {
  const r = new ByteReader(bytes);
  const m = readMembership(r);
  if (r.remaining !== 0) throw new RangeError(`membership: ${r.remaining} trailing bytes`);
  return m;
}

function membershipBytes(m: Membership): number {
  return 8 + 4 + 8 * m.voters.length + 4 + 8 * m.learners.length;
}

const MESSAGE_HEADER_BYTES = 71;

export function encodeMessage(m: Message): Uint8Array {
  const code = typeCode.get(m.type);
  if (code === undefined) throw new RangeError(`message: unknown type ${String(m.type)}`);
  let size = MESSAGE_HEADER_BYTES;
  for (const e of m.entries) size += ENTRY_HEADER_BYTES + e.data.length;
  if (m.catchup) size += 16 + membershipBytes(m.catchup.membership);
  const w = new ByteWriter(size);
  w.u8(VERSION).u8(code).u64(m.from).u64(m.to).u64(m.term).u64(m.logTerm).u64(m.index).u64(m.commit).u64(m.rejectHint).u64(m.readSeq);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.transfer ? FLAG_TRANSFER : 0) | (m.catchup ? FLAG_CATCHUP : 0));
  w.u32(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.catchup) {
    w.u64(m.catchup.index).u64(m.catchup.term);
    writeMembership(w, m.catchup.membership);
  }
  if (w.size !== size) throw new RangeError(`message: size mismatch ${w.size} != ${size}`);
  return w.finish();
}

/** Entries travel only in appends, contiguous after `index`, with terms rising to at most `term`. */
function checkAppendEntries(type: MessageType, term: number, index: number, entries: readonly Entry[]): void {
  if (type !== "append") throw new RangeError(`message: ${type} cannot carry entries`);
  let previousTerm = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.index !== index + 1 + i) throw new RangeError(`message: entry ${i} has index ${e.index}, want ${index + 1 + i}`);
    if (e.term < previousTerm || e.term > term || e.term === 0) {
      throw new RangeError(`message: entry ${e.index} has term ${e.term} (previous ${previousTerm}, message term ${term})`);
    }
    previousTerm = e.term;
  }
}

export function decodeMessage(bytes: Uint8Array): Message {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== VERSION) throw new RangeError(`message: unsupported version ${version}`);
  const code = r.u8();
  const type = messageTypes[code - 1];
  if (type === undefined) throw new RangeError(`message: unknown type code ${code}`);
  const from = r.u64();
  const to = r.u64();
  if (from <= 0 || to <= 0) throw new RangeError(`message: node ids must be positive (from ${from}, to ${to})`);
  const term = r.u64();
  const logTerm = r.u64();
  const index = r.u64();
  const commit = r.u64();
  const rejectHint = r.u64();
  const readSeq = r.u64();
  const flags = r.u8();
  if (flags & ~(FLAG_REJECT | FLAG_TRANSFER | FLAG_CATCHUP)) throw new RangeError(`message: unknown flags ${flags}`);
  const count = r.u32();
  if (count * ENTRY_HEADER_BYTES > r.remaining) throw new RangeError(`message: ${count} entries cannot fit in ${r.remaining} bytes`);
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) entries[i] = readEntry(r);
  if (count > 0) checkAppendEntries(type, term, index, entries);
  let catchup: Message["catchup"] = null;
  if (flags & FLAG_CATCHUP) {
    const cIndex = r.u64();
    const cTerm = r.u64();
    const membership = readMembership(r);
    catchup = { index: cIndex, term: cTerm, membership };
  }
  if (type === "catchup" && catchup === null) throw new RangeError("message: catchup without catchup info");
  if (r.remaining !== 0) throw new RangeError(`message: ${r.remaining} trailing bytes`);
  return {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    transfer: (flags & FLAG_TRANSFER) !== 0,
    readSeq,
    catchup,
  };
}
