/**
 * @module app. The HTTP API as an Elysia app built by a factory, testable with
 * `app.handle(new Request(...))` without opening a port. The routes are described in README.md
 * and in the OpenAPI document served at /openapi (src/http/openapi.ts; a test checks they agree).
 *
 * Every handler returns a `Response` itself, so bodies are exactly what the API promises: raw
 * values for GET, JSON receipts for writes, `{error, code}` for every failure.
 */

import { Elysia } from "elysia";
import type { Operation } from "../ledger/index.ts";
import { entryToJson } from "../client/json.ts";
import { isScribeError, ScribeError, toBase64, toHex, type ErrorCode } from "../lib/index.ts";
import type { StoredEntry } from "../storage/index.ts";
import { addNode, clusterInfo, clusterNodes, leaderInfo, ledgerSize, proposeForwarded, readIndex, removeNode } from "./cluster-routes.ts";
import { parseBatch, parseConsistency, parseKey, parseNonNegative, preconditions, readBody, validateContentType } from "./parse.ts";
import { listKeys } from "./keys.ts";
import { consistencyProof, inclusionProof, verifyKey } from "./proofs.ts";
import { RequestMetrics } from "./request-metrics.ts";
import { Guard, type AuditRecord, type SecurityOptions } from "./security.ts";
import { openApiDocument } from "./openapi.ts";
import { createPrometheusRegistry } from "../metrics/index.ts";
import type { ClusterService, LedgerService, ReadResult } from "./service.ts";

export interface AppLimits {
  valueBytesMax: number;
  batchOpsMax: number;
  batchBytesMax: number;
}

export interface AppOptions {
  service: LedgerService;
  /** Membership and node-to-node calls; absent on a node that does not run Raft. */
  cluster?: ClusterService;
  limits: AppLimits;
  /** Called with every error that is not a ScribeError (a bug or a broken invariant). */
  onInternalError?: (error: unknown, request: Request) => void;
  /** API keys, the cluster secret, rate limits and the audit sink; absent: auth and limits off. */
  security?: SecurityOptions;
  /** The client's IP address (Bun's server.requestIP), for rate limits and the audit log. */
  clientAddress?: (request: Request) => string | undefined;
}

const jsonHeaders = { "content-type": "application/json" };

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...jsonHeaders, ...headers } });
}

export function errorResponse(error: ScribeError, headers: Record<string, string> = {}): Response {
  const extra: Record<string, string> = { ...headers };
  if (error.status === 503 || error.status === 429) extra["retry-after"] ??= "1";
  return json(error.toJSON(), error.status, extra);
}

/** The JSON view of a stored entry, with its version and the leaf hash stored in the tree. */
export function entryJson(entry: StoredEntry, leafHash: Uint8Array): Record<string, unknown> {
  return { ...entryToJson(entry), version: entry.version, leaf_hash: toHex(leafHash) };
}

function valueResponse(result: ReadResult): Response {
  const { entry, value } = result;
  return new Response(value as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers: {
      "content-type": entry.contentType || "application/octet-stream",
      "x-scribe-index": String(entry.index),
      "x-scribe-version": String(entry.version),
      "x-scribe-value-hash": toHex(entry.valueHash),
      etag: `"${entry.version}"`,
    },
  });
}

/** Largest body of a /cluster/* request: a few small JSON fields. */
const clusterBodyBytesMax = 64 * 1024;

/** Room above the largest batch for a forwarded command list's framing (the server's own body cap has the same slack). */
const forwardSlackBytes = 64 * 1024;

/** Most entries one GET /entries returns: keeps one response to a few MB. */
const entriesLimitMax = 10_000;

/** First path segments that name routes, not keys; such keys are reachable under /kv/. */
const reservedNames = new Set(["batch", "health", "metrics", "history", "verify", "checkpoint", "proof", "entries", "keys", "cluster", "kv", "openapi"]);

/** Which methods a path accepts, for 405 answers. Undefined when no route has this path. */
function allowedMethods(path: string): string[] | undefined {
  const fixed: Record<string, string[]> = {
    "/": ["GET"],
    "/batch": ["POST"],
    "/health": ["GET"],
    "/metrics": ["GET"],
    "/metrics/prometheus": ["GET"],
    "/checkpoint": ["GET"],
    "/checkpoint/key": ["GET"],
    "/proof/inclusion": ["GET"],
    "/proof/consistency": ["GET"],
    "/cluster/info": ["GET"],
    "/cluster/nodes": ["GET"],
    "/cluster/leader/info": ["GET"],
    "/cluster/read-index": ["GET"],
    "/cluster/ledger-size": ["GET"],
    "/cluster/nodes/add": ["POST"],
    "/cluster/propose": ["POST"],
    "/cluster/nodes/remove": ["POST"],
    "/entries": ["GET"],
    "/keys": ["GET"],
    "/kv": [],
    "/history": [],
    "/verify": [],
    "/proof": [],
    "/cluster": [],
    "/openapi": ["GET"],
  };
  if (fixed[path]) return fixed[path];
  if (path.startsWith("/history/") || path.startsWith("/verify/")) return ["GET"];
  if (path.startsWith("/kv/") || /^\/[^/]+$/.test(path)) return ["GET", "PUT", "DELETE"];
  return undefined;
}

/** Builds the Elysia app serving `service`. */
export function createApp(options: AppOptions) {
  const { service, limits, cluster } = options;
  const metrics = new RequestMetrics();
  const guard = new Guard(options.security ?? { apiKeys: [], clusterSecret: "", rateLimitPerSec: 0, rateLimitBurst: 1 });
  const prometheus = createPrometheusRegistry(service, metrics);

  /** Reads a bounded body; a node-to-node call's body must be the one its HMAC covers. */
  const readCheckedBody = async (request: Request, bytesMax: number, code: ErrorCode, what: string): Promise<Uint8Array> => {
    const body = await readBody(request, bytesMax, code, what);
    guard.checkBody(request, body);
    return body;
  };

  /** Runs a mutation or admin action and writes its audit record, whatever the outcome. */
  const audited = async (request: Request, base: Pick<AuditRecord, "action"> & Partial<AuditRecord>, run: () => Promise<[Response, Partial<AuditRecord>]>): Promise<Response> => {
    try {
      const [response, fields] = await run();
      guard.audit(request, { ...base, ...fields, result: "ok", status: response.status });
      return response;
    } catch (error) {
      const known = isScribeError(error);
      guard.audit(request, { ...base, result: "error", status: known ? error.status : 500, code: known ? error.code : "internal" });
      throw error;
    }
  };

  const putValue = async (request: Request, key: string): Promise<Response> => {
    const body = await readCheckedBody(request, limits.valueBytesMax, "value_too_large", "value");
    const contentType = validateContentType(request.headers.get("content-type"), "application/octet-stream");
    const condition = preconditions(request.headers, "put");
    const op: Operation = { op: "put", key, value: body, valueHash: Bun.SHA256.hash(body) as Uint8Array, contentType, ...condition };
    return audited(request, { action: "put", key }, async () => {
      const [receipt] = await service.propose([op]);
      return [json(receipt), { index: receipt!.index }];
    });
  };

  const deleteValue = async (request: Request, key: string): Promise<Response> => {
    const condition = preconditions(request.headers, "delete");
    return audited(request, { action: "delete", key }, async () => {
      const [receipt] = await service.propose([{ op: "delete", key, ...condition }]);
      return [json(receipt), { index: receipt!.index }];
    });
  };

  const getValue = async (request: Request, key: string, query: Record<string, string | undefined>): Promise<Response> => {
    const consistency = parseConsistency(query.consistency);
    if (query.version !== undefined && query.at !== undefined) {
      throw new ScribeError("invalid_request", "give either version or at, not both");
    }
    await service.readBarrier(consistency);
    if (query.version !== undefined) {
      const version = parseNonNegative(query.version, "version", "invalid_version");
      if (version < 1) throw new ScribeError("invalid_version", `version must be 1 or more, got ${query.version}`);
      return valueResponse(await service.getVersion(key, version));
    }
    if (query.at !== undefined) return valueResponse(await service.getAt(key, parseNonNegative(query.at, "at", "invalid_index")));
    return valueResponse(await service.get(key));
  };

  const keyRoute = (prefix: string) => (ctx: { request: Request; query: Record<string, string | undefined> }) => {
    const key = parseKey(ctx.request.url, prefix);
    if (prefix === "/" && reservedNames.has(key)) {
      const allowed = allowedMethods(`/${key}`) ?? [];
      throw new ScribeError("method_not_allowed", `${ctx.request.method} is not allowed on /${key} (a reserved name; use /kv/${key} for the key); allowed: ${allowed.join(", ")}`);
    }
    switch (ctx.request.method) {
      case "PUT":
        return metrics.time("put", () => putValue(ctx.request, key));
      case "DELETE":
        return metrics.time("delete", () => deleteValue(ctx.request, key));
      default:
        return metrics.time("get", () => getValue(ctx.request, key, ctx.query));
    }
  };

  const app = new Elysia()
    .onRequest(({ request, server }) => {
      const admission = guard.admit(request, options.clientAddress?.(request) ?? server?.requestIP(request)?.address ?? "local");
      if (!admission.ok) return errorResponse(admission.error, admission.headers);
    })
    .onError(({ error, code, request }) => {
      if (isScribeError(error)) {
        // A 405 names the methods the path does accept.
        const allowed = error.code === "method_not_allowed" ? allowedMethods(new URL(request.url).pathname) : undefined;
        return errorResponse(error, allowed ? { allow: allowed.join(", ") } : {});
      }
      if (code === "NOT_FOUND") {
        const path = new URL(request.url).pathname;
        const allowed = allowedMethods(path);
        if (allowed) {
          return errorResponse(new ScribeError("method_not_allowed", `${request.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`), { allow: allowed.join(", ") });
        }
        return errorResponse(new ScribeError("no_route", `no route for ${request.method} ${path}; keys with slashes go under /kv/`));
      }
      if (code === "PARSE") return errorResponse(new ScribeError("invalid_request", "the request body could not be parsed"));
      options.onInternalError?.(error, request);
      return errorResponse(new ScribeError("internal", "internal error"));
    })
    .get("/", () => json({ name: "scribe-ledger", node_id: service.nodeId, ledger_size: service.size, docs: "https://github.com/ (see README.md)" }))
    .get("/health", () => {
      const status = service.status();
      const body = { status: status.healthy ? "ok" : "unavailable", node_id: status.node_id, role: status.role, leader_id: status.leader_id, term: status.term, ledger_size: status.ledger_size, applied_index: status.applied_index };
      return json(body, status.healthy ? 200 : 503, status.healthy ? {} : { "retry-after": "1" });
    })
    .get("/metrics", () => json({ ...service.status(), requests: metrics.snapshot(), ...service.metrics() }))
    .post(
      "/batch",
      async ({ request }) =>
        metrics.time("batch", async () => {
          const body = await readCheckedBody(request, limits.batchBytesMax, "batch_too_large", "batch body");
          const ops = parseBatch(body, limits);
          return audited(request, { action: "batch", keys: ops.map((op) => op.key) }, async () => {
            const receipts = await service.propose(ops);
            const response = json({ first_index: receipts[0]!.index, last_index: receipts.at(-1)!.index, tree_size: receipts[0]!.tree_size, receipts });
            return [response, { first_index: receipts[0]!.index, last_index: receipts.at(-1)!.index }];
          });
        }),
      { parse: "none" },
    )
    .get("/cluster/info", () => json(clusterInfo(service)))
    .get("/cluster/nodes", () => json(clusterNodes(service)))
    .get("/cluster/leader/info", () => json(leaderInfo(service)))
    .get("/cluster/read-index", async () => json(await readIndex(cluster)))
    .get("/cluster/ledger-size", ({ query }) => json(ledgerSize(cluster, query)))
    .post(
      "/cluster/nodes/add",
      async ({ request }) => {
        const body = await readCheckedBody(request, clusterBodyBytesMax, "payload_too_large", "request body");
        return audited(request, { action: "node_add", node_id: nodeIdHint(body) }, async () => [json(await addNode(cluster, body)), {}]);
      },
      { parse: "none" },
    )
    .post(
      "/cluster/propose",
      async ({ request }) => {
        // One forwarded command can carry a value of the largest size; a group is split to fit.
        const body = await readCheckedBody(request, Math.max(limits.batchBytesMax, limits.valueBytesMax) + forwardSlackBytes, "payload_too_large", "forwarded command list");
        return json(await proposeForwarded(cluster, body, limits.valueBytesMax));
      },
      { parse: "none" },
    )
    .post(
      "/cluster/nodes/remove",
      async ({ request }) => {
        const body = await readCheckedBody(request, clusterBodyBytesMax, "payload_too_large", "request body");
        return audited(request, { action: "node_remove", node_id: nodeIdHint(body) }, async () => [json(await removeNode(cluster, body)), {}]);
      },
      { parse: "none" },
    )
    .get("/metrics/prometheus", async () => new Response(await prometheus.metrics(), { headers: { "content-type": prometheus.contentType } }))
    .get("/openapi", () => json(openApiDocument()))
    .get("/checkpoint", async () => new Response((await service.checkpoint()).note, { headers: { "content-type": "text/plain; charset=utf-8" } }))
    .get("/checkpoint/key", () => new Response(`${service.verifierKey}\n`, { headers: { "content-type": "text/plain; charset=utf-8" } }))
    .get("/verify/*", async ({ request, query }) => json(await verifyKey(service, request.url, query)))
    .get("/proof/inclusion", async ({ query }) => json(await inclusionProof(service, query)))
    .get("/proof/consistency", async ({ query }) => json(await consistencyProof(service, query)))
    .get("/entries", async ({ query }) => {
      const from = query.from === undefined ? 0 : parseNonNegative(query.from, "from", "invalid_range");
      const limit = query.limit === undefined ? 100 : parseNonNegative(query.limit, "limit", "invalid_range");
      if (limit < 1 || limit > entriesLimitMax) throw new ScribeError("invalid_range", `limit must be 1..${entriesLimitMax}, got ${limit}`);
      const size = service.size;
      if (from > size) throw new ScribeError("invalid_range", `from=${from} is beyond the ledger size ${size}`);
      const withValues = query.values === "true";
      const entries = await Promise.all(
        service.entries(from, limit).map(async (entry) => {
          const body = entryJson(entry, service.tree.leafHash(entry.index));
          if (!withValues) return body;
          try {
            return { ...body, value_base64: toBase64(await service.valueAt(entry)) };
          } catch (error) {
            // Never the bytes of a value that fails its check: null, and why (corrupt_value,
            // corrupt_entry, or unavailable when evicted and S3 is unreachable). Auditors report it.
            if (!isScribeError(error)) throw error;
            return { ...body, value_base64: null, value_error: error.code };
          }
        }),
      );
      return json({ from, tree_size: size, entries });
    })
    .get("/keys", async ({ request }) => json(await listKeys(service, request.url)))
    .get("/history/*", ({ request, query }) => {
      const key = parseKey(request.url, "/history/");
      const fromVersion = query.from_version === undefined ? 1 : parseNonNegative(query.from_version, "from_version", "invalid_version");
      const limit = query.limit === undefined ? 1000 : parseNonNegative(query.limit, "limit", "invalid_request");
      if (limit < 1 || limit > 10000) throw new ScribeError("invalid_request", `limit must be 1..10000, got ${limit}`);
      const versions = service.history(key, Math.max(1, fromVersion), limit).map((entry) => entryJson(entry, service.tree.leafHash(entry.index)));
      return json({ key, versions });
    })
    .get("/kv/*", keyRoute("/kv/"))
    .put("/kv/*", keyRoute("/kv/"), { parse: "none" })
    .delete("/kv/*", keyRoute("/kv/"), { parse: "none" })
    .get("/:key", keyRoute("/"))
    .put("/:key", keyRoute("/"), { parse: "none" })
    .delete("/:key", keyRoute("/"), { parse: "none" })
    .put("/", () => emptyKey())
    .delete("/", () => emptyKey())
    .put("/kv/", () => emptyKey())
    .get("/kv/", () => emptyKey())
    .delete("/kv/", () => emptyKey());

  return Object.assign(app, { requestMetrics: metrics, prometheus, guard });
}

/** The node_id of a membership request body, for the audit record (undefined when unreadable). */
function nodeIdHint(body: Uint8Array): number | undefined {
  try {
    const id = (JSON.parse(new TextDecoder().decode(body)) as { node_id?: unknown }).node_id;
    return typeof id === "number" ? id : undefined;
  } catch {
    return undefined;
  }
}

function emptyKey(): never {
  throw new ScribeError("invalid_key", "the key is empty; keys are 1..1024 bytes of UTF-8");
}

export type ScribeApp = ReturnType<typeof createApp>;
