/**
 * @module forward. The forward envelope, the body of POST /cluster/propose (and of a forward
 * frame on the Raft transport, below): a follower's group of independent writes for the leader,
 * with who made each one, so the leader audits it under the original client.
 *
 *   "SFW1"                       4 bytes, format and version
 *   from, to                     u32 each: the forwarding node's id and the leader it is for
 *   callers                      u32-length-prefixed UTF-8 JSON: one {principal, role, client} or
 *                                null per command, in order
 *   command list                 the rest: src/ledger/command.ts's list encoding; a write with
 *                                an idempotency key is a version 2 command carrying the key
 *                                (its window fields are 0: the leader sets the window)
 *
 * Over HTTP the whole body is covered by the node-to-node signature (its SHA-256 is signed), on
 * the transport by the connection's cluster-secret handshake, so the callers cannot be altered in
 * transit; `to` keeps a captured forward from being replayed to another member. Both sides import
 * this module: cluster/ encodes (forwarding.ts), http/ decodes (cluster-routes.ts). Pure.
 */

import { ByteReader, ByteWriter, fromUtf8, ScribeError, utf8 } from "../lib/index.ts";
import { decodeCommandList, encodeCommandList, type Operation } from "./command.ts";
import type { WriteContext } from "./service.ts";

const magic = utf8("SFW1");

/** One forwarded write: its ops (applied atomically), who made it on the follower, its idempotency key. */
export interface ForwardedCommand {
  ops: Operation[];
  context?: WriteContext;
  idempotencyKey?: string;
}

export interface ForwardEnvelope {
  from: number;
  to: number;
  commands: ForwardedCommand[];
}

export function encodeForward(envelope: ForwardEnvelope): Uint8Array {
  const list = encodeCommandList(
    envelope.commands.map((c) => (c.idempotencyKey === undefined ? { timestampMs: 0, ops: c.ops } : { timestampMs: 0, ops: c.ops, idempotency: { key: c.idempotencyKey, windowSecs: 0, keysMax: 0 } })),
  );
  const callers = utf8(JSON.stringify(envelope.commands.map((c) => c.context ?? null)));
  const writer = new ByteWriter(magic.length + 12 + callers.length + list.length);
  writer.bytes(magic).u32(envelope.from).u32(envelope.to).lengthPrefixed(callers).bytes(list);
  return writer.finish();
}

function isContext(value: unknown): value is WriteContext {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return typeof c.principal === "string" && typeof c.role === "string" && typeof c.client === "string";
}

/**
 * Decodes a forward body. Throws 400: `invalid_key` when a key is not valid UTF-8,
 * `invalid_request` for anything else malformed.
 */
export function decodeForward(body: Uint8Array): ForwardEnvelope {
  let from: number;
  let to: number;
  let callers: unknown;
  let rest: Uint8Array;
  try {
    const reader = new ByteReader(body);
    const head = reader.bytes(magic.length);
    if (!head.every((b, i) => b === magic[i])) throw new RangeError("not a forward envelope (want SFW1)");
    from = reader.u32();
    to = reader.u32();
    callers = JSON.parse(fromUtf8(reader.lengthPrefixed()));
    rest = reader.bytes(reader.remaining);
  } catch (error) {
    throw new ScribeError("invalid_request", `malformed forward envelope: ${(error as Error).message}`);
  }
  let commands;
  try {
    commands = decodeCommandList(rest);
  } catch (error) {
    // fromUtf8 is strict: a key that is not UTF-8 fails here with a TypeError.
    if (error instanceof TypeError) throw new ScribeError("invalid_key", "a forwarded key is not valid UTF-8");
    throw new ScribeError("invalid_request", `malformed command list: ${(error as Error).message}`);
  }
  if (!Array.isArray(callers) || callers.length !== commands.length || !callers.every((c) => c === null || isContext(c))) {
    throw new ScribeError("invalid_request", `malformed forward envelope: want one {principal, role, client} or null per command (${commands.length})`);
  }
  return {
    from,
    to,
    commands: commands.map((c, i) => {
      const command: ForwardedCommand = { ops: c.ops };
      if (callers[i] !== null) command.context = callers[i] as WriteContext;
      if (c.idempotency) command.idempotencyKey = c.idempotency.key;
      return command;
    }),
  };
}

/**
 * Forwarded groups also travel over the Raft transport (cluster/forward-channel.ts), beside Raft
 * messages, as payloads of their own:
 *
 *   kind                         u8: forwardRequestKind or forwardAnswerKind (a Raft message
 *                                starts with its codec's version, 1, so the kinds never collide)
 *   id                           u32: the sender's request id, which the answer repeats
 *   body                         the rest: a request's forward envelope (above; empty for a
 *                                probe), an answer's UTF-8 JSON `{outcomes}` or `{error, code}`,
 *                                as POST /cluster/propose answers
 */
export const forwardRequestKind = 0xf0;
export const forwardAnswerKind = 0xf1;

export interface ForwardFrame {
  kind: typeof forwardRequestKind | typeof forwardAnswerKind;
  id: number;
  body: Uint8Array;
}

export function encodeForwardFrame(frame: ForwardFrame): Uint8Array {
  const writer = new ByteWriter(5 + frame.body.length);
  writer.u8(frame.kind).u32(frame.id).bytes(frame.body);
  return writer.finish();
}

/** The forward frame in a transport payload; undefined when the payload is something else (a Raft message). Throws RangeError when cut short. */
export function decodeForwardFrame(payload: Uint8Array): ForwardFrame | undefined {
  const kind = payload[0];
  if (kind !== forwardRequestKind && kind !== forwardAnswerKind) return undefined;
  const reader = new ByteReader(payload);
  reader.u8();
  const id = reader.u32();
  return { kind, id, body: reader.bytes(reader.remaining) };
}
