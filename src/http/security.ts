/**
 * @module security. Who is calling and may they: API keys with roles (read < write < admin),
 * the internal principal of node-to-node calls (an HMAC made with discovery.cluster_secret, each
 * accepted once; the signature is transport/cluster-auth.ts's), per-client token-bucket rate
 * limits, and the audit record of mutations and admin actions.
 *
 * The app calls `Guard.admit` with the route the router dispatched (src/http/app.ts wraps every
 * handler of the route table), so the route judged is always the route that runs; it answers
 * 401, 403, 429 or 503 itself, before any body is read, or returns the caller.
 */

import { timingSafeEqual } from "node:crypto";
import type { AuditRecord, WriteContext } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import { bodySha256, checkClusterAuth, clusterAuthHeader, clusterAuthSkewMsMax, clusterBodyHashHeader, emptySha256 } from "../transport/index.ts";
import { routerTarget } from "./request-target.ts";
import type { RouteRole } from "./route-spec.ts";
import type { Route } from "./routes.ts";

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
  /**
   * Whether `audit` writes a record of `action` now (its log levels): a record it would drop is
   * not built. Absent: every record is written.
   */
  auditWanted?: (action: AuditRecord["action"]) => boolean;
  /** Clock in ms, for tests. */
  nowMs?: () => number;
}

/**
 * Nonces remembered at once: 16k signed calls a second sustained over the 30 s window. Memory is
 * about 100 bytes each (50 MB at worst). Past it, new internal calls get 503 until old nonces
 * expire: failing closed keeps replays out. Only holders of the secret can fill it.
 */
export const clusterNoncesMax = 500_000;
/**
 * Clients tracked by the rate limiter at once. Past this, full (idle) buckets are dropped first;
 * a flood of distinct clients then starts each one with a full bucket, which bounds memory.
 */
const rateBucketsMax = 100_000;

const roleRank: Record<RouteRole, number> = { none: 0, read: 1, write: 2, admin: 3, internal: 4 };

/**
 * Nonces of accepted internal calls, each remembered for the whole acceptance window (twice the
 * skew allowance, from when it was accepted: by then its time is out of the window anyway).
 * Entries are inserted in acceptance order, so expired ones are always at the front.
 */
export class NonceCache {
  private readonly expiresAtMs = new Map<string, number>();
  constructor(private readonly countMax = clusterNoncesMax) {}

  get size(): number {
    return this.expiresAtMs.size;
  }

  /** Records `nonce`; "replayed" when seen within the window, "full" when at the limit. */
  accept(nonce: string, nowMs: number): "ok" | "replayed" | "full" {
    for (const [old, expires] of this.expiresAtMs) {
      if (expires > nowMs) break;
      this.expiresAtMs.delete(old);
    }
    if (this.expiresAtMs.has(nonce)) return "replayed";
    if (this.expiresAtMs.size >= this.countMax) return "full";
    this.expiresAtMs.set(nonce, nowMs + 2 * clusterAuthSkewMsMax);
    return "ok";
  }
}

const anonymousAdmin: Principal = { name: "anonymous", role: "admin" };
const internalPrincipal: Principal = { name: "cluster", role: "internal" };

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

/** An admitted caller: its principal, its address, and the body hash its signature covers. */
export interface Caller {
  readonly principal: Principal;
  /** The client's IP address ("local" when unknown); computed on first use. */
  readonly client: string;
  /** For an internal call: the body hash its HMAC covers (checked by `Guard.checkBody`). */
  readonly bodyHash?: string;
}

/** The client's IP address of a request ("local" when unknown). */
export type ClientOf = (request: Request) => string;

/** A caller whose address is looked up on first use (a class: no closure and accessor per request). */
class LazyCaller implements Caller {
  private address: string | undefined;
  constructor(
    readonly principal: Principal,
    private readonly request: Request,
    private readonly clientOf: ClientOf,
    readonly bodyHash?: string,
  ) {}

  get client(): string {
    return (this.address ??= this.clientOf(this.request));
  }
}

function callerOf(principal: Principal, request: Request, clientOf: ClientOf, bodyHash?: string): Caller {
  return new LazyCaller(principal, request, clientOf, bodyHash);
}

export type Admission = { ok: true; caller: Caller } | { ok: false; error: ScribeError; headers: Record<string, string> };

/** Authentication, authorization, replay protection and rate limiting for one app. */
export class Guard {
  private readonly keysByHash: Map<string, ApiKeySpec>;
  private readonly limiter: RateLimiter | undefined;
  private readonly nowMs: () => number;
  readonly nonces = new NonceCache();

  constructor(private readonly options: SecurityOptions) {
    this.keysByHash = new Map(options.apiKeys.map((k) => [k.key_sha256.toLowerCase(), k]));
    this.limiter = options.rateLimitPerSec > 0 ? new RateLimiter(options.rateLimitPerSec, options.rateLimitBurst) : undefined;
    this.nowMs = options.nowMs ?? Date.now;
  }

  get authEnabled(): boolean {
    return this.keysByHash.size > 0;
  }

  /**
   * Decides whether `request` may run `route`, the route the router dispatched it to. The client
   * address is looked up only when needed (rate limits, audit records).
   */
  admit(route: Route, request: Request, clientOf: ClientOf): Admission {
    const signature = request.headers.get(clusterAuthHeader);
    if (!this.authEnabled && !this.limiter && signature === null) {
      // Auth and rate limits off, not a node-to-node call: everyone is the anonymous admin.
      return { ok: true, caller: callerOf(anonymousAdmin, request, clientOf) };
    }
    let principal: Principal | undefined;
    let bodyHash: string | undefined;
    if (signature !== null) {
      // A request that claims to come from a node must prove it, whatever else it carries.
      bodyHash = request.headers.get(clusterBodyHashHeader) ?? emptySha256;
      const refused = this.checkSignature(signature, request.method, routerTarget(request.url), bodyHash);
      if (refused) return refused;
      principal = internalPrincipal;
    } else {
      principal = this.authenticate(request.headers);
    }
    if (this.limiter && route.rateLimited && principal?.role !== "internal") {
      const id = principal && principal.name !== "anonymous" ? `key:${principal.name}` : `ip:${clientOf(request)}`;
      const waitSecs = this.limiter.take(id, this.nowMs());
      if (waitSecs > 0) {
        return { ok: false, error: new ScribeError("rate_limited", `too many requests from ${id}; retry in ${waitSecs} s`), headers: { "retry-after": String(waitSecs) } };
      }
    }
    const resolved = principal ?? { name: "anonymous", role: "read" as const };
    if (route.role === "none") return { ok: true, caller: callerOf(resolved, request, clientOf, bodyHash) };
    if (!principal) {
      return { ok: false, error: new ScribeError("unauthorized", "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"), headers: { "www-authenticate": 'Bearer realm="scribe"' } };
    }
    // With authentication off, the anonymous admin may also make node-to-node calls (nodes of a
    // cluster without API keys call each other unsigned when no cluster secret is set).
    const rank = principal === anonymousAdmin ? roleRank.internal : roleRank[principal.role];
    if (rank < roleRank[route.role]) {
      const needs = route.role === "internal" ? "another node of the cluster (X-Scribe-Cluster-Auth)" : route.role;
      return { ok: false, error: new ScribeError("forbidden", `key "${principal.name}" has role ${principal.role}; ${route.method} ${route.path} needs ${needs}`), headers: {} };
    }
    return { ok: true, caller: callerOf(principal, request, clientOf, bodyHash) };
  }

  /** Undefined when the signature is good and its nonce is new; else the refusal. */
  private checkSignature(signature: string, method: string, target: string, bodyHash: string): Admission | undefined {
    const nowMs = this.nowMs();
    const check = checkClusterAuth(this.options.clusterSecret, signature, { method, target, bodyHash }, nowMs);
    if (!check.ok) return { ok: false, error: new ScribeError(check.code, check.message), headers: {} };
    const seen = this.nonces.accept(check.nonce, nowMs);
    if (seen === "replayed") return { ok: false, error: new ScribeError("replayed", "this node-to-node request was already accepted once (its nonce is spent)"), headers: {} };
    if (seen === "full") {
      return { ok: false, error: new ScribeError("unavailable", `more than ${clusterNoncesMax} node-to-node calls in the last ${(2 * clusterAuthSkewMsMax) / 1000} s; retry later`), headers: { "retry-after": "1" } };
    }
    return undefined;
  }

  /** The caller of an unsigned request, or undefined when auth is on and no valid key was given. */
  private authenticate(headers: Headers): Principal | undefined {
    if (!this.authEnabled) return anonymousAdmin;
    const key = presentedKey(headers);
    if (key === undefined) return undefined;
    const spec = this.keysByHash.get(bodySha256(key));
    return spec ? { name: spec.name, role: spec.role } : undefined;
  }

  /**
   * Checks a body the app has read: an internal call's body must be the one its HMAC covers
   * (otherwise a captured header could carry any body). Throws 401.
   */
  checkBody(caller: Caller, body: Uint8Array): void {
    if (caller.bodyHash === undefined) return;
    const actual = bodySha256(body);
    if (!timingSafeEqual(Buffer.from(actual, "hex"), Buffer.from(caller.bodyHash, "hex"))) {
      throw new ScribeError("unauthorized", "the body of this node-to-node request is not the one its signature covers");
    }
  }

  /**
   * Writes the audit record of a finished mutation or admin action of `caller`: `fields` (what the
   * handler noted: key, index, ...) and its outcome. The record is built only when the sink would
   * write it (audits), and its `client` is looked up (a getpeername) only when the sink reads it.
   */
  audit(caller: Caller, action: AuditRecord["action"], fields: Partial<AuditRecord>, outcome: Pick<AuditRecord, "result" | "status" | "code">): void {
    if (!this.audits(action)) return;
    this.options.audit!({
      principal: caller.principal.name,
      role: caller.principal.role,
      get client() {
        return caller.client;
      },
      action,
      ...fields,
      ...outcome,
    });
  }

  /** Writes an audit record for a write forwarded by another node, under its original caller. */
  auditForwarded(context: WriteContext, forwardedBy: number, record: Omit<AuditRecord, "principal" | "role" | "client" | "forwarded_by">): void {
    if (!this.audits(record.action)) return;
    this.options.audit!({ principal: context.principal, role: context.role, client: context.client, forwarded_by: forwardedBy, ...record });
  }

  /**
   * Whether a record of `action` would be written now: callers build a record only then (at the
   * default log level a PUT's record is written nowhere, and building it cost about 1 µs).
   */
  audits(action: AuditRecord["action"]): boolean {
    return this.options.audit !== undefined && (this.options.auditWanted?.(action) ?? true);
  }
}
