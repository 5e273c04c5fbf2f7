/**
 * @module security. Who is calling and may they: API keys with roles (read < write < admin),
 * the internal principal of node-to-node calls (an HMAC made with discovery.cluster_secret),
 * per-client token-bucket rate limits, and the audit record of mutations and admin actions.
 *
 * The app calls `Guard.admit` first for every request (Elysia onRequest); it answers 401, 403 or
 * 429 itself, or lets the request through and remembers its principal for the audit log.
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import { ScribeError } from "../lib/index.ts";

export type Role = "read" | "write" | "admin";

export interface ApiKeySpec {
  name: string;
  /** Lowercase hex SHA-256 of the key; the key itself is never stored. */
  key_sha256: string;
  role: Role;
}

export interface Principal {
  /** The API key's name, "cluster" for another node, "anonymous" when auth is off. */
  name: string;
  role: Role | "internal";
}

/** One audit record: a mutation or an admin action and how it ended. */
export interface AuditRecord {
  action: "put" | "delete" | "batch" | "node_add" | "node_remove";
  principal: string;
  role: string;
  client: string;
  key?: string;
  keys?: string[];
  index?: number;
  first_index?: number;
  last_index?: number;
  node_id?: number;
  result: "ok" | "error";
  status: number;
  code?: string;
}

export interface SecurityOptions {
  /** Empty: authentication is off (everyone is the anonymous admin). */
  apiKeys: readonly ApiKeySpec[];
  /** discovery.cluster_secret; empty: no internal principal. */
  clusterSecret: string;
  /** Tokens per second per client; 0 turns rate limiting off. */
  rateLimitPerSec: number;
  rateLimitBurst: number;
  /** Receives every audit record. */
  audit?: (record: AuditRecord) => void;
  /** Clock in ms, for tests. */
  nowMs?: () => number;
}

/** The header carrying an internal call's HMAC: `v1:<unix ms>:<hex HMAC-SHA256>`. */
export const clusterAuthHeader = "x-scribe-cluster-auth";
/**
 * The hex SHA-256 of an internal call's body, covered by its HMAC; the app checks the body it
 * reads against it, so a captured header cannot carry another body. Absent: the body is empty.
 */
export const clusterBodyHashHeader = "x-scribe-body-sha256";
const emptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** How far a node's clock may be off for its HMAC to be accepted. */
const clusterAuthSkewMsMax = 5 * 60 * 1000;
/**
 * Clients tracked by the rate limiter at once. Past this, full (idle) buckets are dropped first;
 * a flood of distinct clients then starts each one with a full bucket, which bounds memory.
 */
const rateBucketsMax = 100_000;

const roleRank: Record<Role | "internal", number> = { read: 1, write: 2, admin: 3, internal: 4 };

/** The string an internal call signs: version, time, method, path with query and body hash. */
function clusterAuthMessage(timeMs: number, method: string, pathAndQuery: string, bodySha256: string): string {
  return `v1\n${timeMs}\n${method.toUpperCase()}\n${pathAndQuery}\n${bodySha256}`;
}

/** The hex SHA-256 of a body. */
export function bodySha256(body: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(body).digest("hex");
}

/** The header value authenticating a node-to-node request (`bodySha256`: of its body, if any). */
export function clusterAuthValue(secret: string, method: string, pathAndQuery: string, timeMs = Date.now(), bodyHash = emptySha256): string {
  const mac = createHmac("sha256", secret).update(clusterAuthMessage(timeMs, method, pathAndQuery, bodyHash)).digest("hex");
  return `v1:${timeMs}:${mac}`;
}

/** True when `value` is a fresh HMAC of this request made with `secret` (compared in constant time). */
export function verifyClusterAuth(secret: string, value: string, method: string, pathAndQuery: string, nowMs: number, bodyHash = emptySha256): boolean {
  const match = /^v1:(\d{1,16}):([0-9a-f]{64})$/.exec(value);
  if (!match || secret === "" || !/^[0-9a-f]{64}$/.test(bodyHash)) return false;
  const timeMs = Number(match[1]);
  if (Math.abs(nowMs - timeMs) > clusterAuthSkewMsMax) return false;
  const want = createHmac("sha256", secret).update(clusterAuthMessage(timeMs, method, pathAndQuery, bodyHash)).digest();
  return timingSafeEqual(want, Buffer.from(match[2]!, "hex"));
}

const anonymousAdmin: Principal = { name: "anonymous", role: "admin" };

/** The role a request needs; undefined for routes open to everyone (health probes). */
export function requiredRole(method: string, path: string): Role | undefined {
  if (path === "/health") return undefined;
  if (path === "/cluster/nodes/add" || path === "/cluster/nodes/remove" || path === "/cluster/propose") return "admin";
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return "read";
  return "write";
}

/** The presented API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  return headers.get("x-api-key") ?? undefined;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Token buckets per client id: `perSec` tokens a second up to `burst`. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly perSec: number,
    private readonly burst: number,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until a token is due. */
  take(client: string, nowMs: number): number {
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size >= rateBucketsMax) this.evict(nowMs);
      bucket = { tokens: this.burst, updatedMs: nowMs };
      this.buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.perSec);
    bucket.updatedMs = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSec));
  }

  private evict(nowMs: number): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.perSec >= this.burst) this.buckets.delete(client);
    }
    // Everyone is busy: drop the oldest half (Map iterates in insertion order).
    if (this.buckets.size >= rateBucketsMax) {
      let drop = this.buckets.size / 2;
      for (const client of this.buckets.keys()) {
        if (drop-- <= 0) break;
        this.buckets.delete(client);
      }
    }
  }
}

export type Admission = { ok: true; principal: Principal } | { ok: false; error: ScribeError; headers: Record<string, string> };

/** Authentication, authorization and rate limiting for one app. */
export class Guard {
  private readonly keysByHash: Map<string, ApiKeySpec>;
  private readonly limiter: RateLimiter | undefined;
  private readonly nowMs: () => number;
  private readonly principals = new WeakMap<Request, { principal: Principal; client: string; bodyHash?: string }>();

  constructor(private readonly options: SecurityOptions) {
    this.keysByHash = new Map(options.apiKeys.map((k) => [k.key_sha256.toLowerCase(), k]));
    this.limiter = options.rateLimitPerSec > 0 ? new RateLimiter(options.rateLimitPerSec, options.rateLimitBurst) : undefined;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get authEnabled(): boolean {
    return this.keysByHash.size > 0;
  }

  /** Decides whether `request` (from `client`, an IP address) may proceed. */
  admit(request: Request, client: string): Admission {
    if (!this.authEnabled && !this.limiter && !request.headers.has(clusterAuthHeader)) {
      // Auth and rate limits off, not a node-to-node call: everyone is the anonymous admin.
      this.principals.set(request, { principal: anonymousAdmin, client });
      return { ok: true, principal: anonymousAdmin };
    }
    const url = new URL(request.url);
    const { principal, bodyHash } = this.authenticate(request, url);
    if (this.limiter && principal?.role !== "internal") {
      const id = principal && principal.name !== "anonymous" ? `key:${principal.name}` : `ip:${client}`;
      const waitSecs = this.limiter.take(id, this.nowMs());
      if (waitSecs > 0) {
        return { ok: false, error: new ScribeError("rate_limited", `too many requests from ${id}; retry in ${waitSecs} s`), headers: { "retry-after": String(waitSecs) } };
      }
    }
    const needed = requiredRole(request.method, url.pathname);
    const resolved = principal ?? { name: "anonymous", role: "read" as const };
    this.principals.set(request, { principal: resolved, client, bodyHash });
    if (needed === undefined) return { ok: true, principal: resolved };
    if (!principal) {
      return { ok: false, error: new ScribeError("unauthorized", "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"), headers: { "www-authenticate": 'Bearer realm="scribe"' } };
    }
    if (roleRank[principal.role] < roleRank[needed]) {
      return { ok: false, error: new ScribeError("forbidden", `key "${principal.name}" has role ${principal.role}; ${request.method} ${url.pathname} needs ${needed}`), headers: {} };
    }
    return { ok: true, principal };
  }

  /**
   * The caller, or undefined when auth is on and no valid credential was given. An internal
   * caller comes with the body hash its HMAC covers, for `checkBody`.
   */
  private authenticate(request: Request, url: URL): { principal: Principal | undefined; bodyHash?: string } {
    const internal = request.headers.get(clusterAuthHeader);
    const bodyHash = request.headers.get(clusterBodyHashHeader) ?? emptySha256;
    if (internal !== null && verifyClusterAuth(this.options.clusterSecret, internal, request.method, url.pathname + url.search, this.nowMs(), bodyHash)) {
      return { principal: { name: "cluster", role: "internal" }, bodyHash };
    }
    if (!this.authEnabled) return { principal: { name: "anonymous", role: "admin" } };
    const key = presentedKey(request.headers);
    if (key === undefined) return { principal: undefined };
    const spec = this.keysByHash.get(bodySha256(key));
    return { principal: spec ? { name: spec.name, role: spec.role } : undefined };
  }

  /**
   * Checks a body the app has read: an internal call's body must be the one its HMAC covers
   * (otherwise a captured header could carry any body for a few minutes). Throws 401.
   */
  checkBody(request: Request, body: Uint8Array): void {
    const declared = this.principals.get(request)?.bodyHash;
    if (declared === undefined) return;
    const actual = bodySha256(body);
    if (!timingSafeEqual(Buffer.from(actual, "hex"), Buffer.from(declared, "hex"))) {
      throw new ScribeError("unauthorized", "the body of this node-to-node request is not the one its signature covers");
    }
  }

  /** Writes an audit record for a finished mutation or admin action of `request`. */
  audit(request: Request, record: Omit<AuditRecord, "principal" | "role" | "client">): void {
    if (!this.options.audit) return;
    const who = this.principals.get(request);
    this.options.audit({ principal: who?.principal.name ?? "anonymous", role: who?.principal.role ?? "unknown", client: who?.client ?? "unknown", ...record });
  }
}
