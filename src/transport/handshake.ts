/**
 * @module transport/handshake. The cluster-secret handshake (protocol version 2), as pure
 * functions over bytes.
 *
 * The dialer (the node that opened the TCP connection) proves that it knows the secret FIRST, over
 * a nonce from each side; the acceptor answers with its own proof only after checking the
 * dialer's, and otherwise closes without sending another byte. So a stranger that connects to a
 * Raft port and says HELLO gets back only the acceptor's id and 32 random bytes: nothing computed
 * from the secret, nothing to test guesses of the secret against offline.
 *
 *   1. dialer   → acceptor  HELLO(role 0, dialerId, acceptorId it wants, nonceD)
 *   2. acceptor → dialer    HELLO(role 1, acceptorId, dialerId, nonceA)           (no proof)
 *   3. dialer   → acceptor  AUTH(proofD)
 *   4. acceptor checks proofD in constant time; wrong: it closes (TCP reset), sending nothing.
 *      Right: acceptor → dialer  AUTH(proofA), and it accepts MESSAGE frames from then on.
 *   5. dialer checks proofA; wrong: it closes. Right: it sends MESSAGE frames.
 *
 * Frames (frame.ts): u32 payloadBytes | u8 type | payload, integers big-endian.
 *
 *   HELLO frame, 59 bytes: 00 00 00 36 | 01 | payload (54 bytes):
 *     offset  0  4 bytes  "SCRB" (53 43 52 42)
 *     offset  4  u8       protocol version = 2
 *     offset  5  u8       role: 0 dialer, 1 acceptor
 *     offset  6  u64      senderId   (the node sending this HELLO)
 *     offset 14  u64      receiverId (the node it is meant for)
 *     offset 22  32 bytes nonce, fresh random bytes per connection and side
 *   AUTH frame, 37 bytes: 00 00 00 20 | 02 | payload (32 bytes):
 *     HMAC-SHA256(key = the secret's bytes (UTF-8 of discovery.cluster_secret),
 *                 message = label | u64 dialerId | u64 acceptorId | nonceD | nonceA)
 *     label = "scribe-transport-v2 dialer" (26 bytes) in proofD,
 *             "scribe-transport-v2 acceptor" (28 bytes) in proofA.
 *
 * Both nonces are fresh per connection, so a recorded proof cannot be replayed on another
 * connection; the role label differs per side, so an acceptor's proof cannot be reflected back as
 * a dialer's; both ids are bound, so a proof for one pair of nodes is worthless for another.
 *
 * What remains: the dialer's proof covers a nonce the acceptor chose, so whoever can make a node
 * DIAL it (by taking over a member's Raft address) can record one proof and guess offline. Nodes
 * dial only the members' configured addresses; `security.raft_tls` authenticates the acceptor by
 * its certificate before any proof is sent; and `discovery.cluster_secret` must carry at least 128
 * bits of entropy (src/config/secret.ts), which puts offline guessing out of reach anyway.
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ByteReader, ByteWriter, bytesEqual, utf8 } from "../lib/index.ts";

export const helloMagic = utf8("SCRB");
export const protocolVersion = 2;
export const helloPayloadBytes = 4 + 1 + 1 + 8 + 8 + 32;
export const nonceBytes = 32;
export const proofBytes = 32;
/**
 * The transport's own floor on the secret's length. The node's configuration asks for more: at
 * least 128 bits of estimated entropy (src/config/secret.ts), checked when the config is loaded.
 */
export const secretBytesMin = 16;
/** HMAC labels: the protocol version and the prover's role, so no proof is valid in another place. */
export const proofLabels = { dialer: "scribe-transport-v2 dialer", acceptor: "scribe-transport-v2 acceptor" } as const;

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
  const label = prover === Role.dialer ? proofLabels.dialer : proofLabels.acceptor;
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
