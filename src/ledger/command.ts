/**
 * @module command. What clients propose and the log carries: a batch of operations, applied
 * atomically at consecutive ledger indexes. The binary codec is what Raft entries hold, so every
 * replica decodes the same command and applies it the same way.
 *
 * Layout (big-endian; docs/FORMATS.md section 1b): u8 version, u64 timestampMs, u32 op count, then
 * per op:
 *   u8 opcode (0 put, 1 delete), u8 flags (bit 0: ifMatch present, bit 1: ifNoneMatch),
 *   [u64 ifMatch], u32 key length + UTF-8 key,
 *   put only: u16 content-type length + content type, 32-byte value hash, u32 value length + value.
 * Version 1 ends there. Version 2 (a command with an idempotency key, idempotency.ts) goes on with
 *   u8 extensions (bit 0: idempotency; other bits must be 0),
 *   idempotency: u16 key length + UTF-8 key, u32 windowSecs, u32 keysMax.
 * A command without a key is written as version 1, byte for byte as before, so nodes that know
 * only version 1 still read every command they can apply; every version 1 command still decodes.
 */

import { assert, ByteReader, ByteWriter, fromUtf8 } from "../lib/index.ts";
import type { Hasher } from "../merkle/index.ts";
import { hashBytes } from "./entry.ts";
import { idempotencyKeyBytesMax, type IdempotencyTag } from "./idempotency.ts";

export interface PutOp {
  op: "put";
  key: string;
  value: Uint8Array;
  /** SHA-256 of `value`, computed by the proposer. */
  valueHash: Uint8Array;
  contentType: string;
  /** Apply only if the key's current version equals this (0: the key must not exist). */
  ifMatch?: number;
  /** Apply only if the key does not exist or is deleted. */
  ifNoneMatch?: boolean;
}

export interface DeleteOp {
  op: "delete";
  key: string;
  ifMatch?: number;
}

export type Operation = PutOp | DeleteOp;

/** A put before its value is hashed: what a request, a forwarded write or a replayed entry says. */
export interface PutRequest {
  key: string;
  value: Uint8Array;
  contentType: string;
  ifMatch?: number;
  ifNoneMatch?: boolean;
}

/**
 * The put operation of `request`, its value hashed (SHA-256) by `hasher`: the one place a put is
 * built, for every path that proposes one (HTTP PUT and batch, forwarded writes on the leader,
 * the embedded library, replay). The caller has validated the key, the content type and the
 * value's size (validate.ts).
 */
export function putOperation(request: PutRequest, hasher: Pick<Hasher, "digest">): PutOp {
  const put: PutOp = { op: "put", key: request.key, value: request.value, valueHash: hasher.digest(request.value), contentType: request.contentType };
  if (request.ifMatch !== undefined) put.ifMatch = request.ifMatch;
  if (request.ifNoneMatch === true) put.ifNoneMatch = true;
  return put;
}

export interface Command {
  /** Chosen by the proposer (the leader's clock), so every replica stores the same timestamp. */
  timestampMs: number;
  ops: Operation[];
  /** The client's idempotency key and the window the leader chose for it (format version 2). */
  idempotency?: IdempotencyTag;
}

const commandVersion = 1;
const commandVersionKeyed = 2;
const extensionIdempotency = 1;
const flagIfMatch = 1;
const flagIfNoneMatch = 2;

/** Encodes a command. */
export function encodeCommand(command: Command): Uint8Array {
  return encodeCommandAfter(undefined, command);
}

/**
 * Encodes a command behind one byte (a Raft entry's kind, cluster/entry-data.ts), so the entry's
 * data is written once, not encoded and then copied behind it. Sized exactly for ASCII keys and
 * content types: one allocation, no copy at the end.
 */
export function encodeCommandAfter(kindByte: number | undefined, command: Command): Uint8Array {
  const tag = command.idempotency;
  let size = (kindByte === undefined ? 0 : 1) + 13 + (tag ? 11 + tag.key.length : 0);
  for (const op of command.ops) {
    size += 6 + op.key.length + (op.ifMatch !== undefined ? 8 : 0) + (op.op === "put" ? 6 + op.contentType.length + hashBytes + op.value.length : 0);
  }
  const writer = new ByteWriter(size);
  if (kindByte !== undefined) writer.u8(kindByte);
  writer.u8(tag ? commandVersionKeyed : commandVersion).u64(command.timestampMs).u32(command.ops.length);
  for (const op of command.ops) {
    const flags = (op.ifMatch !== undefined ? flagIfMatch : 0) | (op.op === "put" && op.ifNoneMatch ? flagIfNoneMatch : 0);
    writer.u8(op.op === "put" ? 0 : 1).u8(flags);
    if (op.ifMatch !== undefined) writer.u64(op.ifMatch);
    writer.text(op.key, 4);
    if (op.op === "put") {
      assert(op.valueHash.length === hashBytes, "value hash must be 32 bytes");
      writer.text(op.contentType, 2);
      writer.bytes(op.valueHash).lengthPrefixed(op.value);
    }
  }
  if (tag) {
    writer.u8(extensionIdempotency);
    const keyBytes = writer.text(tag.key, 2);
    assert(keyBytes >= 1 && keyBytes <= idempotencyKeyBytesMax, `idempotency key must be 1..${idempotencyKeyBytesMax} bytes`);
    writer.u32(tag.windowSecs).u32(tag.keysMax);
  }
  return writer.finish();
}

/** Decodes a command; throws RangeError/TypeError on malformed bytes. Values are views into `bytes`. */
export function decodeCommand(bytes: Uint8Array): Command {
  const reader = new ByteReader(bytes);
  const version = reader.u8();
  if (version !== commandVersion && version !== commandVersionKeyed) throw new RangeError(`unknown command version ${version}`);
  const timestampMs = reader.u64();
  const count = reader.u32();
  const ops: Operation[] = [];
  for (let i = 0; i < count; i++) {
    const code = reader.u8();
    const flags = reader.u8();
    const ifMatch = flags & flagIfMatch ? reader.u64() : undefined;
    const key = fromUtf8(reader.lengthPrefixed());
    if (code === 0) {
      const contentType = fromUtf8(reader.bytes(reader.u16()));
      const valueHash = reader.bytes(hashBytes);
      const value = reader.lengthPrefixed();
      const op: PutOp = { op: "put", key, value, valueHash, contentType };
      if (ifMatch !== undefined) op.ifMatch = ifMatch;
      if (flags & flagIfNoneMatch) op.ifNoneMatch = true;
      ops.push(op);
    } else if (code === 1) {
      const op: DeleteOp = { op: "delete", key };
      if (ifMatch !== undefined) op.ifMatch = ifMatch;
      ops.push(op);
    } else {
      throw new RangeError(`unknown op code ${code}`);
    }
  }
  const command: Command = { timestampMs, ops };
  if (version === commandVersionKeyed) {
    const extensions = reader.u8();
    if (extensions !== extensionIdempotency) throw new RangeError(`unknown command extensions ${extensions}`);
    const key = fromUtf8(reader.bytes(reader.u16()));
    command.idempotency = { key, windowSecs: reader.u32(), keysMax: reader.u32() };
  }
  if (reader.remaining !== 0) throw new RangeError(`${reader.remaining} trailing bytes after command`);
  return command;
}

/** Most commands one command list may carry (a follower's forwarded group commit). */
export const commandListMax = 8192;

/** Encodes independent commands back to back: u32 count, then each command length-prefixed. */
export function encodeCommandList(commands: readonly Command[]): Uint8Array {
  assert(commands.length <= commandListMax, `a command list holds at most ${commandListMax} commands`);
  const encoded = commands.map(encodeCommand);
  const writer = new ByteWriter(4 + encoded.reduce((n, c) => n + 4 + c.length, 0));
  writer.u32(encoded.length);
  for (const c of encoded) writer.lengthPrefixed(c);
  return writer.finish();
}

/** Decodes a command list; throws RangeError/TypeError on malformed bytes. */
export function decodeCommandList(bytes: Uint8Array): Command[] {
  const reader = new ByteReader(bytes);
  const count = reader.u32();
  if (count > commandListMax) throw new RangeError(`a command list holds at most ${commandListMax} commands, got ${count}`);
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) commands.push(decodeCommand(reader.lengthPrefixed()));
  if (reader.remaining !== 0) throw new RangeError(`${reader.remaining} trailing bytes after the command list`);
  return commands;
}
