/**
 * @module handlers. One handler per entry of the route table (src/http/routes.ts), keyed by the
 * route's id. A handler runs only after the guard admitted its caller for exactly that route;
 * it gets the router's path parameters (keys come from them, never from the URL string), the
 * query, the caller, and the audit record to fill. Every handler returns a `Response` itself,
 * so bodies are exactly what the API promises: raw values for GET, JSON receipts for writes,
 * `{error, code}` for every failure (thrown as ScribeError and mapped by the app).
 */

import type { Operation } from "../ledger/index.ts";
import { entryToJson } from "../client/json.ts";
import { ScribeError, toBase64, toHex, type ErrorCode } from "../lib/index.ts";
import type { StoredEntry } from "../storage/index.ts";
import type { PrometheusRegistry } from "../metrics/index.ts";
import { addNode, clusterInfo, clusterNodes, leaderInfo, ledgerSize, proposeForwarded, readIndex, removeNode } from "./cluster-routes.ts";
import { checkpointCacheControl } from "../merkle/index.ts";
import { listKeys } from "./keys.ts";
import { keyFromParam, parseBatch, parseConsistency, parseNonNegative, preconditions, readBody, validateContentType } from "./parse.ts";
import { consistencyProof, inclusionProof, verifyKey } from "./proofs.ts";
import type { RequestMetrics } from "./request-metrics.ts";
import { allowedMethods, reservedNames, type Route, type RouteId } from "./routes.ts";
import type { AuditRecord, Caller, Guard, WriteContext } from "./security.ts";
import { openApiDocument } from "./openapi.ts";
import type { ClusterService, LedgerService, ReadResult } from "./service.ts";
import { tileResponse } from "./tiles.ts";

export interface AppLimits {
  valueBytesMax: number;
  batchOpsMax: number;
  batchBytesMax: number;
}

/** What a handler gets: the dispatched route, the request, and what the router and guard found. */
export interface RouteCall {
  readonly route: Route;
  readonly request: Request;
  /** The router's path parameters: `*` raw (not decoded), `:name` decoded (null when invalid). */
  readonly params: Record<string, string | null | undefined>;
  readonly query: Record<string, string | undefined>;
  readonly caller: Caller;
  /** Fields of this request's audit record (audited routes); the handler adds what it learns. */
  readonly record: Partial<AuditRecord>;
}

export type Handler = (call: RouteCall) => Response | Promise<Response>;

export interface HandlerDeps {
  service: LedgerService;
  cluster?: ClusterService;
  limits: AppLimits;
  metrics: RequestMetrics;
  prometheus: PrometheusRegistry;
  guard: Guard;
}

const jsonHeaders = { "content-type": "application/json" };

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...jsonHeaders, ...headers } });
}

/** The JSON view of a stored entry, with its version and the leaf hash stored in the tree. */
export function entryJson(entry: StoredEntry, leafHash: Uint8Array): Record<string, unknown> {
  return { ...entryToJson(entry), version: entry.version, leaf_hash: toHex(leafHash) };
}

/**
 * A stored value. Values are whatever clients stored (a text/html page included): `nosniff`
 * keeps browsers from guessing an active type, and `sandbox` keeps a page served from the node's
 * origin from running script or reaching that origin's credentials.
 */
function valueResponse(result: ReadResult): Response {
  return new Response(result.value as Uint8Array<ArrayBuffer>, { status: 200, headers: valueHeaders(result.entry) });
}

/**
 * The headers of a value's response, by its entry object. They depend only on the entry, which
 * never changes, and a cached read returns the same entry object each time, so they are built
 * once per cached value (a Response copies them; the shared Headers is never modified).
 */
const valueHeadersByEntry = new WeakMap<StoredEntry, Headers>();

function valueHeaders(entry: StoredEntry): Headers {
  let headers = valueHeadersByEntry.get(entry);
  if (headers) return headers;
  headers = new Headers({
    "content-type": entry.contentType || "application/octet-stream",
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox",
    "x-scribe-index": String(entry.index),
    "x-scribe-version": String(entry.version),
    "x-scribe-value-hash": toHex(entry.valueHash),
    etag: `"${entry.version}"`,
  });
  valueHeadersByEntry.set(entry, headers);
  return headers;
}

/** Largest body of a /cluster/* membership request: a few small JSON fields. */
const clusterBodyBytesMax = 64 * 1024;

/** Room above the largest batch for a forwarded group's framing (the server's own body cap has the same slack). */
const forwardSlackBytes = 64 * 1024;

/** Most entries one GET /entries returns: keeps one response to a few MB. */
const entriesLimitMax = 10_000;

/** The key of a key route, from the router's parameter; a reserved name is refused on /:key. */
function routeKey(call: RouteCall): string {
  const wildcard = call.route.path.endsWith("*");
  const key = keyFromParam(wildcard ? call.params["*"] : call.params.key, { decoded: !wildcard, slashes: wildcard });
  if (!wildcard && reservedNames.has(key)) {
    const allowed = allowedMethods(`/${key}`);
    const hint = `/${key} is a route, not a key; use /kv/${key} for the key`;
    if (allowed.length === 0) throw new ScribeError("no_route", `no route for ${call.request.method} /${key}; ${hint}`);
    throw new ScribeError("method_not_allowed", `${call.request.method} is not allowed on /${key} (${hint}); allowed: ${allowed.join(", ")}`);
  }
  return key;
}

/**
 * Who made a write, for the leader's audit log when a follower forwards it. The client address
 * is looked up only if read (a forwarded write): on the leader it costs a getpeername per write.
 */
function writeContext(caller: Caller): WriteContext {
  return {
    principal: caller.principal.name,
    role: caller.principal.role,
    get client() {
      return caller.client;
    },
  };
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

/** The handler of every route, by route id. */
export function makeHandlers(deps: HandlerDeps): Record<RouteId, Handler> {
  return { ...keyHandlers(deps), ...ledgerHandlers(deps), ...nodeHandlers(deps), ...clusterHandlers(deps) };
}

/** Reads a bounded body; a node-to-node call's body must be the one its HMAC covers. */
async function readCheckedBody(deps: HandlerDeps, call: RouteCall, bytesMax: number, code: ErrorCode, what: string): Promise<Uint8Array> {
  const body = await readBody(call.request, bytesMax, code, what);
  deps.guard.checkBody(call.caller, body);
  return body;
}

function keyHandlers(deps: HandlerDeps) {
  const { service, limits, metrics } = deps;
  const put = (call: RouteCall) =>
    metrics.time("put", async () => {
      const key = (call.record.key = routeKey(call));
      const body = await readCheckedBody(deps, call, limits.valueBytesMax, "value_too_large", "value");
      const contentType = validateContentType(call.request.headers.get("content-type"), "application/octet-stream");
      const op: Operation = { op: "put", key, value: body, valueHash: Bun.SHA256.hash(body) as Uint8Array, contentType, ...preconditions(call.request.headers, "put") };
      const [receipt] = await service.propose([op], writeContext(call.caller));
      call.record.index = receipt!.index;
      return json(receipt);
    });
  const remove = (call: RouteCall) =>
    metrics.time("delete", async () => {
      const key = (call.record.key = routeKey(call));
      const [receipt] = await service.propose([{ op: "delete", key, ...preconditions(call.request.headers, "delete") }], writeContext(call.caller));
      call.record.index = receipt!.index;
      return json(receipt);
    });
  const get = (call: RouteCall) =>
    metrics.time("get", async () => {
      const key = routeKey(call);
      const { query } = call;
      const consistency = parseConsistency(query.consistency);
      if (query.version !== undefined && query.at !== undefined) throw new ScribeError("invalid_request", "give either version or at, not both");
      await service.readBarrier(consistency);
      if (query.version !== undefined) {
        const version = parseNonNegative(query.version, "version", "invalid_version");
        if (version < 1) throw new ScribeError("invalid_version", `version must be 1 or more, got ${query.version}`);
        return valueResponse(await service.getVersion(key, version));
      }
      if (query.at !== undefined) return valueResponse(await service.getAt(key, parseNonNegative(query.at, "at", "invalid_index")));
      return valueResponse(await service.get(key));
    });
  return { kvGet: get, kvPut: put, kvDelete: remove, keyGet: get, keyPut: put, keyDelete: remove };
}

function ledgerHandlers(deps: HandlerDeps) {
  const { service, limits, metrics } = deps;
  return {
    batch: (call: RouteCall) =>
      metrics.time("batch", async () => {
        const body = await readCheckedBody(deps, call, limits.batchBytesMax, "batch_too_large", "batch body");
        const ops = parseBatch(body, limits);
        call.record.keys = ops.map((op) => op.key);
        const receipts = await service.propose(ops, writeContext(call.caller));
        call.record.first_index = receipts[0]!.index;
        call.record.last_index = receipts.at(-1)!.index;
        return json({ first_index: receipts[0]!.index, last_index: receipts.at(-1)!.index, tree_size: receipts[0]!.tree_size, receipts });
      }),
    history: (call: RouteCall) => {
      const key = keyFromParam(call.params["*"], { decoded: false, slashes: true });
      const { query } = call;
      const fromVersion = query.from_version === undefined ? 1 : parseNonNegative(query.from_version, "from_version", "invalid_version");
      const limit = query.limit === undefined ? 1000 : parseNonNegative(query.limit, "limit", "invalid_request");
      if (limit < 1 || limit > 10000) throw new ScribeError("invalid_request", `limit must be 1..10000, got ${limit}`);
      const versions = service.history(key, Math.max(1, fromVersion), limit).map((entry) => entryJson(entry, service.tree.leafHash(entry.index)));
      return json({ key, versions });
    },
    verify: async (call: RouteCall) => json(await verifyKey(service, keyFromParam(call.params["*"], { decoded: false, slashes: true }), call.query)),
    // The tiles checkpoint too (the node root is the log's tlog-tiles base URL): cached a few seconds at most.
    checkpoint: async () => new Response((await service.checkpoint()).note, { headers: { "content-type": "text/plain; charset=utf-8", "cache-control": checkpointCacheControl } }),
    checkpointKey: () => new Response(`${service.verifierKey}\n`, { headers: { "content-type": "text/plain; charset=utf-8" } }),
    keys: async (call: RouteCall) => json(await listKeys(service, call.request.url)),
    tile: (call: RouteCall) => tileResponse(service, call.params["*"] ?? ""),
    inclusionProof: async (call: RouteCall) => json(await inclusionProof(service, call.query)),
    consistencyProof: async (call: RouteCall) => json(await consistencyProof(service, call.query)),
    entries: async (call: RouteCall) => {
      const { query } = call;
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
            if (!(error instanceof ScribeError)) throw error;
            return { ...body, value_base64: null, value_error: error.code };
          }
        }),
      );
      return json({ from, tree_size: size, entries });
    },
  };
}

function nodeHandlers(deps: HandlerDeps) {
  const { service, metrics, prometheus } = deps;
  return {
    root: () => json({ name: "scribe-ledger", node_id: service.nodeId, ledger_size: service.size, docs: "https://github.com/ (see README.md)" }),
    health: () => {
      const status = service.status();
      const body = { status: status.healthy ? "ok" : "unavailable", node_id: status.node_id, role: status.role, leader_id: status.leader_id, term: status.term, ledger_size: status.ledger_size, applied_index: status.applied_index };
      return json(body, status.healthy ? 200 : 503, status.healthy ? {} : { "retry-after": "1" });
    },
    metrics: () => json({ ...service.status(), requests: metrics.snapshot(), ...service.metrics() }),
    metricsPrometheus: async () => new Response(await prometheus.metrics(), { headers: { "content-type": prometheus.contentType } }),
    openapi: () => json(openApiDocument()),
  };
}

function clusterHandlers(deps: HandlerDeps) {
  const { service, cluster, limits, guard } = deps;
  return {
    clusterInfo: () => json(clusterInfo(service)),
    clusterNodes: () => json(clusterNodes(service)),
    clusterLeader: () => json(leaderInfo(service)),
    clusterReadIndex: async () => json(await readIndex(cluster)),
    clusterLedgerSize: (call: RouteCall) => json(ledgerSize(cluster, call.query)),
    clusterNodesAdd: async (call: RouteCall) => {
      const body = await readCheckedBody(deps, call, clusterBodyBytesMax, "payload_too_large", "request body");
      call.record.node_id = nodeIdHint(body);
      return json(await addNode(cluster, body));
    },
    clusterNodesRemove: async (call: RouteCall) => {
      const body = await readCheckedBody(deps, call, clusterBodyBytesMax, "payload_too_large", "request body");
      call.record.node_id = nodeIdHint(body);
      return json(await removeNode(cluster, body));
    },
    clusterPropose: async (call: RouteCall) => {
      // One forwarded command can carry a value of the largest size; a group is split to fit.
      const body = await readCheckedBody(deps, call, Math.max(limits.batchBytesMax, limits.valueBytesMax) + forwardSlackBytes, "payload_too_large", "forward envelope");
      return json(await proposeForwarded({ cluster, service, guard, body, valueBytesMax: limits.valueBytesMax }));
    },
  };
}
