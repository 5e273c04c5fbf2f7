/**
 * @module cluster-auth. The signature of node-to-node HTTP calls: an HMAC-SHA256 made with
 * discovery.cluster_secret (the secret the Raft handshake proves, handshake.ts) over the time, a
 * fresh nonce, the method, the request target and the body's SHA-256. cluster/peer-client.ts
 * signs every call; http/security.ts checks it (and remembers each nonce once).
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { toHex, type ErrorCode } from "../lib/index.ts";

/** The header carrying an internal call's HMAC: `v2:<unix ms>:<nonce>:<hex HMAC-SHA256>`. */
export const clusterAuthHeader = "x-scribe-cluster-auth";
/**
 * The hex SHA-256 of an internal call's body, covered by its HMAC; the app checks the body it
 * reads against it, so a captured header cannot carry another body. Absent: the body is empty.
 */
export const clusterBodyHashHeader = "x-scribe-body-sha256";
/** The hex SHA-256 of an empty body. */
export const emptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/**
 * How far the signing node's clock may be from ours. A signature is accepted while its time is
 * within this of our clock, so it is good for at most twice this (30 s) of our time, and its
 * nonce is remembered that long. Nodes run NTP; 15 s leaves room for a slow VM clock.
 */
export const clusterAuthSkewMsMax = 15_000;
/**
 * The string an internal call signs: version, time, nonce, method, request target (path and
 * query exactly as sent) and body hash.
 */
function clusterAuthMessage(timeMs: number, nonce: string, method: string, target: string, bodySha256: string): string {
  return `v2\n${timeMs}\n${nonce}\n${method.toUpperCase()}\n${target}\n${bodySha256}`;
}

/** The hex SHA-256 of a body. */
export function bodySha256(body: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(body).digest("hex");
}

export interface ClusterAuthInput {
  secret: string;
  method: string;
  /** The request target: path and query, exactly as sent. */
  target: string;
  /** The body's hex SHA-256 (default: of an empty body). */
  bodyHash?: string;
  timeMs?: number;
  /** 32 hex digits; default: fresh random bytes. */
  nonce?: string;
}

/** The header value authenticating one node-to-node request; every call gets a fresh nonce. */
export function clusterAuthValue(input: ClusterAuthInput): string {
  const timeMs = input.timeMs ?? Date.now();
  const nonce = input.nonce ?? toHex(crypto.getRandomValues(new Uint8Array(16)));
  const mac = createHmac("sha256", input.secret).update(clusterAuthMessage(timeMs, nonce, input.method, input.target, input.bodyHash ?? emptySha256)).digest("hex");
  return `v2:${timeMs}:${nonce}:${mac}`;
}

export type ClusterAuthCheck = { ok: true; nonce: string; timeMs: number } | { ok: false; code: ErrorCode; message: string };

/**
 * Checks an internal call's signature (in constant time) and its time. The nonce is not
 * consumed here: `NonceCache.accept` does that, after this succeeds.
 */
export function checkClusterAuth(secret: string, value: string, request: { method: string; target: string; bodyHash: string }, nowMs: number): ClusterAuthCheck {
  const match = /^v2:(\d{1,16}):([0-9a-f]{32}):([0-9a-f]{64})$/.exec(value);
  if (secret === "") return { ok: false, code: "unauthorized", message: "this node has no discovery.cluster_secret; node-to-node signatures cannot be checked" };
  if (!match || !/^[0-9a-f]{64}$/.test(request.bodyHash)) return { ok: false, code: "unauthorized", message: "malformed X-Scribe-Cluster-Auth (want v2:<unix ms>:<32 hex nonce>:<64 hex HMAC>)" };
  const timeMs = Number(match[1]);
  const nonce = match[2]!;
  const want = createHmac("sha256", secret).update(clusterAuthMessage(timeMs, nonce, request.method, request.target, request.bodyHash)).digest();
  if (!timingSafeEqual(want, Buffer.from(match[3]!, "hex"))) return { ok: false, code: "unauthorized", message: "the node-to-node signature does not match this request" };
  const skewMs = nowMs - timeMs;
  if (Math.abs(skewMs) > clusterAuthSkewMsMax) {
    return { ok: false, code: "clock_skew", message: `the signing node's clock is ${Math.round(skewMs / 1000)} s from this node's; at most ${clusterAuthSkewMsMax / 1000} s is accepted (check NTP)` };
  }
  return { ok: true, nonce, timeMs };
}
