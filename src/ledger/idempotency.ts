/**
 * @module idempotency. Idempotency keys, judged by the state machine (pure; the SQLite tables that
 * hold the records are storage/idempotency.ts). A write may carry a client-chosen key; the command
 * that carries it (command.ts, format version 2) also carries the window the leader chose. When
 * such a command is applied:
 *   - no live record has its key: it is applied as usual and, if it appended entries, a record
 *     (key → the request's fingerprint and the command's first and last ledger index) is kept;
 *   - a live record has its key and the same fingerprint: nothing is appended and the proposer
 *     gets the ORIGINAL receipts, rebuilt from the entries at [first, last];
 *   - a live record has its key and another fingerprint: refused (`idempotency_key_reused`).
 * A command refused by the state machine (412, 404) records nothing: its retry is judged again.
 *
 * Determinism. Every replica must decide the same, whatever its apply batches, restarts and
 * pruning. So whether a record is live depends only on the record and the sequence of recorded
 * commands, never on wall clocks or on what was pruned:
 *   - the idempotency clock is the largest command timestamp (leader-chosen, in every command)
 *     among recorded commands; a command is judged at max(clock, its own timestamp);
 *   - each record gets a sequence number (1, 2, ...) and, fixed when it is made from its
 *     command's window, `expiresMs` = its clock + windowSecs * 1000 and `expiresSeq` = seq + keysMax;
 *   - a record is live for a command judged at clock c when seq count s holds c < expiresMs and
 *     s < expiresSeq: at most keysMax records are live at once, each for at most windowSecs.
 * The clock and the count never decrease, so a record not live now is never live again: it may be
 * pruned at any time, in any amount, without changing any later decision.
 *
 * The fingerprint is SHA-256 over the ops without their values (op, flags, preconditions, key,
 * content type, value hash), so it costs one small hash per keyed command.
 */

import { assert, ByteWriter, bytesEqual, utf8 } from "../lib/index.ts";
import type { Command, Operation } from "./command.ts";

/** Longest idempotency key, in UTF-8 bytes (the draft IETF Idempotency-Key header allows any; 255 fits an index well). */
export const idempotencyKeyBytesMax = 255;

/** What a keyed command carries: the key and the window the leader chose for it. */
export interface IdempotencyTag {
  key: string;
  /** How long the record stays live, in the command timestamps' milliseconds / 1000. */
  windowSecs: number;
  /** How many records may be live at once: the oldest stops being live past it. */
  keysMax: number;
}

/** One kept record: everything needed to judge a retry and rebuild its receipts. */
export interface IdempotencyRecord {
  key: string;
  /** SHA-256 of fingerprintBytes(ops) of the command that made it. */
  fingerprint: Uint8Array;
  firstIndex: number;
  lastIndex: number;
  /** 1 for the first record ever made on this ledger, then +1 each. */
  seq: number;
  /** The idempotency clock once this record was made. */
  recordedMs: number;
  expiresMs: number;
  expiresSeq: number;
}

/** The idempotency clock and record count after the last record (both 0 before any). */
export interface IdempotencyClock {
  clockMs: number;
  seq: number;
}

export const emptyIdempotencyClock: IdempotencyClock = { clockMs: 0, seq: 0 };

export type IdempotencyVerdict = { kind: "fresh" } | { kind: "replay"; record: IdempotencyRecord } | { kind: "reused"; record: IdempotencyRecord };

/** Why `key` is not a usable idempotency key, or undefined: 1..255 bytes of UTF-8 without control characters. */
export function idempotencyKeyProblem(key: string): string | undefined {
  if (key.length === 0) return "the idempotency key is empty";
  if (!key.isWellFormed()) return "the idempotency key is not valid UTF-8";
  const bytes = utf8(key).length;
  if (bytes > idempotencyKeyBytesMax) return `the idempotency key is ${bytes} bytes; the most is ${idempotencyKeyBytesMax}`;
  // C0 controls, DEL and C1 controls: printable characters only.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(key)) return "the idempotency key holds a control character; use printable characters";
  return undefined;
}

/**
 * The bytes a request's fingerprint hashes: each op as the command encodes it, minus its value
 * (whose SHA-256 is in it already). Two requests with the same fingerprint append the same entries.
 */
export function fingerprintBytes(ops: readonly Operation[]): Uint8Array {
  let size = 4;
  for (const op of ops) size += 52 + op.key.length * 3 + (op.op === "put" ? op.contentType.length : 0);
  const writer = new ByteWriter(size);
  writer.u32(ops.length);
  for (const op of ops) {
    const flags = (op.ifMatch !== undefined ? 1 : 0) | (op.op === "put" && op.ifNoneMatch ? 2 : 0);
    writer.u8(op.op === "put" ? 0 : 1).u8(flags);
    if (op.ifMatch !== undefined) writer.u64(op.ifMatch);
    writer.lengthPrefixed(utf8(op.key));
    if (op.op === "put") writer.lengthPrefixed(utf8(op.contentType)).bytes(op.valueHash);
  }
  return writer.finish();
}

/** Whether `record` is live for a command judged at `clockMs` with `seq` records made so far. */
export function isLiveRecord(record: IdempotencyRecord, clockMs: number, seq: number): boolean {
  return clockMs < record.expiresMs && seq < record.expiresSeq;
}

/** The clock `command` is judged at. */
export function judgedAtMs(clock: IdempotencyClock, command: Pick<Command, "timestampMs">): number {
  return Math.max(clock.clockMs, command.timestampMs);
}

/**
 * Judges a keyed command against the record `found` under its key (undefined: none kept).
 * Precondition: `found.key` is the command's key.
 */
export function judgeIdempotent(found: IdempotencyRecord | undefined, fingerprint: Uint8Array, clock: IdempotencyClock, command: Command): IdempotencyVerdict {
  assert(command.idempotency !== undefined, "judgeIdempotent: the command carries no idempotency key");
  if (!found) return { kind: "fresh" };
  assert(found.key === command.idempotency.key, "judgeIdempotent: the record is for another key");
  if (!isLiveRecord(found, judgedAtMs(clock, command), clock.seq)) return { kind: "fresh" };
  return bytesEqual(found.fingerprint, fingerprint) ? { kind: "replay", record: found } : { kind: "reused", record: found };
}

/**
 * The record an accepted keyed command makes, and the clock after it. Preconditions (asserted):
 * the command is keyed with a positive window and count, and appended [firstIndex, lastIndex].
 */
export function makeRecord(clock: IdempotencyClock, command: Command, fingerprint: Uint8Array, firstIndex: number, lastIndex: number): { record: IdempotencyRecord; clock: IdempotencyClock } {
  const tag = command.idempotency;
  assert(tag !== undefined, "makeRecord: the command carries no idempotency key");
  assert(Number.isSafeInteger(tag.windowSecs) && tag.windowSecs >= 1, `makeRecord: bad window ${tag.windowSecs}`);
  assert(Number.isSafeInteger(tag.keysMax) && tag.keysMax >= 1, `makeRecord: bad keysMax ${tag.keysMax}`);
  assert(Number.isSafeInteger(firstIndex) && firstIndex >= 0 && lastIndex >= firstIndex, `makeRecord: bad range [${firstIndex}, ${lastIndex}]`);
  const recordedMs = judgedAtMs(clock, command);
  const seq = clock.seq + 1;
  const record: IdempotencyRecord = {
    key: tag.key,
    fingerprint,
    firstIndex,
    lastIndex,
    seq,
    recordedMs,
    expiresMs: recordedMs + tag.windowSecs * 1000,
    expiresSeq: seq + tag.keysMax,
  };
  return { record, clock: { clockMs: recordedMs, seq } };
}

/**
 * Checks that `record` can follow `clock` (a record received from another node during catch-up):
 * the next sequence number, a clock that does not go back, expiries derived from positive limits.
 * Returns why not, or undefined.
 */
export function recordSequenceProblem(clock: IdempotencyClock, record: IdempotencyRecord): string | undefined {
  if (record.seq !== clock.seq + 1) return `record ${record.seq} does not follow record ${clock.seq}`;
  if (record.recordedMs < clock.clockMs) return `record ${record.seq} moves the idempotency clock back (${record.recordedMs} < ${clock.clockMs})`;
  if (!(record.expiresMs > record.recordedMs) || !(record.expiresSeq > record.seq)) return `record ${record.seq} has bad expiries`;
  if (record.lastIndex < record.firstIndex || record.firstIndex < 0) return `record ${record.seq} has a bad range [${record.firstIndex}, ${record.lastIndex}]`;
  return idempotencyKeyProblem(record.key);
}
