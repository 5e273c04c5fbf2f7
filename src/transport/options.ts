/** @module transport/options. Named limits of the transport, their defaults, and option checking. */

import { ScribeError, utf8, type RandomSource } from "../lib/index.ts";
import { backoffLimitsDefault, type BackoffLimits } from "./backoff.ts";
import { frameBytesMaxDefault } from "./frame.ts";
import { isNodeId, secretBytesMin } from "./handshake.ts";
import type { TransportLogger, TransportOptions } from "./types.ts";

/**
 * Per-peer queue limit in messages. Raft sends a handful of messages per peer per tick (append,
 * heartbeat, votes); thousands queued means the peer is unreachable and the rest will be resent.
 */
export const queueMessagesMaxDefault = 16_384;
/** Per-peer queue limit in bytes: room for two maximum frames (catch-up batches) in flight. */
export const queueBytesMaxDefault = 2 * frameBytesMaxDefault;
/**
 * A handshake is two round trips (three with TLS): milliseconds on a LAN, a few hundred across
 * regions. A second bounds how long a silent stranger holds a handshake slot, and so how long a
 * peer waits for one to free up.
 */
export const handshakeTimeoutMsDefault = 1_000;
/** Unauthenticated inbound connections at once: far above a cluster's size, low enough to shed a connection flood. */
export const inboundHandshakesMaxDefault = 64;
/**
 * Unauthenticated inbound connections at once from one source (an IPv4 address or an IPv6 /64).
 * A peer node holds one at a time for a few milliseconds (two while a redial overlaps a dying
 * connection), and a few nodes may share a host or a NAT address; a stranger holding idle
 * connections from one source takes at most this many slots, leaving the rest to real peers.
 */
export const inboundHandshakesPerSourceMaxDefault = 8;
export interface ResolvedOptions {
  nodeId: number;
  secret: Uint8Array;
  frameBytesMax: number;
  queueMessagesMax: number;
  queueBytesMax: number;
  backoff: BackoffLimits;
  handshakeTimeoutMs: number;
  inboundHandshakesMax: number;
  inboundHandshakesPerSourceMax: number;
  writeEachMessage: boolean;
}

export const silentLogger: TransportLogger = { info() {}, warn() {}, error() {} };
export const mathRandom: RandomSource = { int: (bound) => Math.floor(Math.random() * bound) };

export function invalidOption(message: string): ScribeError {
  return new ScribeError("invalid_request", message);
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved <= 0) {
    throw invalidOption(`transport option ${name} is ${String(value)}, wanted a positive integer`);
  }
  return resolved;
}

/** Checks and fills in defaults; throws a ScribeError naming the first bad option. */
export function resolveOptions(options: TransportOptions): ResolvedOptions {
  if (!isNodeId(options.nodeId)) throw invalidOption(`transport nodeId is ${String(options.nodeId)}, wanted a positive integer`);
  const secret = typeof options.secret === "string" ? utf8(options.secret) : options.secret;
  if (!(secret instanceof Uint8Array) || secret.length < secretBytesMin) {
    throw invalidOption(`transport secret has ${secret?.length ?? 0} bytes, wanted at least ${secretBytesMin}`);
  }
  const frameBytesMax = positiveInteger("frameBytesMax", options.frameBytesMax, frameBytesMaxDefault);
  // The u32 length prefix bounds a frame at 4 GiB - 1.
  if (frameBytesMax > 0xffff_ffff) throw invalidOption(`transport frameBytesMax is ${frameBytesMax}, wanted at most ${0xffff_ffff}`);
  const queueBytesMax = positiveInteger("queueBytesMax", options.queueBytesMax, Math.max(queueBytesMaxDefault, frameBytesMax));
  if (queueBytesMax < frameBytesMax) {
    throw invalidOption(`transport queueBytesMax is ${queueBytesMax}, wanted at least frameBytesMax (${frameBytesMax})`);
  }
  const backoff = {
    backoffMsMin: positiveInteger("backoffMsMin", options.backoffMsMin, backoffLimitsDefault.backoffMsMin),
    backoffMsMax: positiveInteger("backoffMsMax", options.backoffMsMax, backoffLimitsDefault.backoffMsMax),
  };
  if (backoff.backoffMsMax < backoff.backoffMsMin) {
    throw invalidOption(`transport backoffMsMax (${backoff.backoffMsMax}) is below backoffMsMin (${backoff.backoffMsMin})`);
  }
  const inboundHandshakesMax = positiveInteger("inboundHandshakesMax", options.inboundHandshakesMax, inboundHandshakesMaxDefault);
  const inboundHandshakesPerSourceMax = positiveInteger(
    "inboundHandshakesPerSourceMax",
    options.inboundHandshakesPerSourceMax,
    Math.min(inboundHandshakesPerSourceMaxDefault, inboundHandshakesMax),
  );
  return {
    nodeId: options.nodeId,
    secret,
    frameBytesMax,
    queueMessagesMax: positiveInteger("queueMessagesMax", options.queueMessagesMax, queueMessagesMaxDefault),
    queueBytesMax,
    backoff,
    handshakeTimeoutMs: positiveInteger("handshakeTimeoutMs", options.handshakeTimeoutMs, handshakeTimeoutMsDefault),
    inboundHandshakesMax,
    inboundHandshakesPerSourceMax,
    writeEachMessage: options.writeEachMessage ?? false,
  };
}

