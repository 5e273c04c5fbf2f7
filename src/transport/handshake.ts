/**
 * @module transport/handshake. The cluster-secret handshake, as pure functions over bytes.
 *
 * The dialer (the node that opened the TCP connection) and the acceptor exchange:
 *
 *   1. dialer   → acceptor  HELLO(role 0, dialerId, acceptorId it wants, nonceD)
 *   2. acceptor → dialer    HELLO(role 1, acceptorId, dialerId, nonceA), AUTH(proofA)
 *   3. dialer   → acceptor  AUTH(proofD), then MESSAGE frames
 *
 * HELLO payload (54 bytes): "SCRB" | u8 version (1) | u8 role (0 dialer, 1 acceptor) |
 *   u64 senderId | u64 receiverId | 32-byte random nonce.           (all integers big-endian)
 * AUTH payload (32 bytes): HMAC-SHA256(secret, label || u64 dialerId || u64 acceptorId ||
 *   nonceD || nonceA), label = "scribe-transport-v1 dialer" or "scribe-transport-v1 acceptor".
 *
 * Both nonces are fresh per connection, so a recorded proof cannot be replayed; the role label
 * differs per side, so an acceptor's proof cannot be reflected back as a dialer's. The acceptor
 * proves first, so a dialer holding a wrong secret learns so before it sends any message, and an
 * acceptor accepts MESSAGE frames only after checking the dialer's proof.
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ByteReader, ByteWriter, bytesEqual, utf8 } from "../lib/index.ts";

export const helloMagic = utf8("SCRB");
export const protocolVersion = 1;
export const helloPayloadBytes = 4 + 1 + 1 + 8 + 8 + 32;
export const nonceBytes = 32;
export const proofBytes = 32;
/** A shorter secret is refused at start: it would be guessable offline from one recorded handshake. */
export const secretBytesMin = 16;

export const Role = { dialer: 0, acceptor: 1 } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Hello {
  role: Role;
  senderId: number;
  receiverId: number;
  nonce: Uint8Array;
}

/** True for the node ids the transport carries: positive safe integers. */
export function isNodeId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(nonceBytes));
}

export function encodeHello(hello: Hello): Uint8Array {
  const out = new ByteWriter(helloPayloadBytes)
    .bytes(helloMagic)
    .u8(protocolVersion)
    .u8(hello.role)
    .u64(hello.senderId)
    .u64(hello.receiverId)
    .bytes(hello.nonce)
    .finish();
  if (out.length !== helloPayloadBytes) throw new RangeError(`hello is ${out.length} bytes, wanted ${helloPayloadBytes}`);
  return out;
}

/** Decodes a HELLO payload; returns a reason string when it is not a valid hello. */
export function decodeHello(payload: Uint8Array): Hello | string {
  if (payload.length !== helloPayloadBytes) return `hello of ${payload.length} bytes, wanted ${helloPayloadBytes}`;
  const reader = new ByteReader(payload);
  if (!bytesEqual(reader.bytes(4), helloMagic)) return "hello magic is not SCRB";
  const version = reader.u8();
  if (version !== protocolVersion) return `protocol version ${version}, wanted ${protocolVersion}`;
  const role = reader.u8();
  if (role !== Role.dialer && role !== Role.acceptor) return `hello role ${role} is neither 0 nor 1`;
  let senderId: number;
  let receiverId: number;
  try {
    senderId = reader.u64();
    receiverId = reader.u64();
  } catch {
    return "hello node id exceeds the safe integer range";
  }
  if (!isNodeId(senderId) || !isNodeId(receiverId)) return "hello node id is zero";
  return { role, senderId, receiverId, nonce: reader.bytes(nonceBytes).slice() };
}

export interface ProofInput {
  secret: Uint8Array;
  dialerId: number;
  acceptorId: number;
  dialerNonce: Uint8Array;
  acceptorNonce: Uint8Array;
}

/** HMAC-SHA256 proof of knowing the secret, bound to both ids, both nonces and the prover's role. */
export function computeProof(prover: Role, input: ProofInput): Uint8Array {
  const label = prover === Role.dialer ? "scribe-transport-v1 dialer" : "scribe-transport-v1 acceptor";
  const message = new ByteWriter(128)
    .bytes(utf8(label))
    .u64(input.dialerId)
    .u64(input.acceptorId)
    .bytes(input.dialerNonce)
    .bytes(input.acceptorNonce)
    .finish();
  return new Uint8Array(createHmac("sha256", input.secret).update(message).digest());
}

/** Constant-time check of a received proof. */
export function verifyProof(prover: Role, input: ProofInput, proof: Uint8Array): boolean {
  if (proof.length !== proofBytes) return false;
  return timingSafeEqual(computeProof(prover, input), proof);
}
