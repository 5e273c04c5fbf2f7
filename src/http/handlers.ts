/**
 * @module handlers. One handler per entry of the route table (src/http/routes.ts), keyed by the
 * route's id. A handler runs only after the guard admitted its caller for exactly that route;
 * it gets the router's path parameters (keys come from them, never from the URL string), the
 * query, the caller, and the audit record to fill. Every handler returns a `Response` itself,
 * so bodies are exactly what the API promises: raw values for GET, JSON receipts for writes,
 * `{error, code}` for every failure (thrown as ScribeError and mapped by the app).
 */

import { defaultHasher } from "../crypto/index.ts";
import { putOperation, validateContentType, type AuditRecord, type ClusterService, type LedgerService, type Operation, type ProposeOptions, type ReadResult, type StoredEntry, type WriteContext, type WriteResult } from "../ledger/index.ts";
import { ScribeError, toHex, type ErrorCode } from "../lib/index.ts";
import { entryJson, entryWithValue } from "./entry-json.ts";
import type { PrometheusRegistry } from "../metrics/index.ts";
import { addNode, checkpointFor, clusterInfo, clusterNodes, cosign, identity, idempotencyRecords, leaderInfo, ledgerSize, proposeForwarded, readIndex, registerKey, removeNode } from "./cluster-routes.ts";
import { checkpointCacheControl, parseKeysBody, splitNote } from "../merkle/index.ts";
import { listKeys } from "./keys.ts";
import { batchIdempotencyKey, batchOperations, keyFromParam, parseConsistency, parseIdempotencyKeyHeader, parseNonNegative, preconditions, readBody } from "./parse.ts";
import { consistencyProof, inclusionProof, verifyKey } from "./proofs.ts";
import type { RequestMetrics } from "./request-metrics.ts";
import { allowedMethods, reservedNames, type Route, type RouteId } from "./routes.ts";
import type { Caller, Guard } from "./security.ts";
import { openApiDocument } from "./openapi.ts";
import type { RequestBody } from "./request-schemas.ts";
import { tileResponse } from "./tiles.ts";
import { watchResponse } from "./watch.ts";

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
  /** A route with a JSON body schema: the body, parsed and checked against it. */
  readonly body?: unknown;
  /** When the request's work began (performance.now()), if before the handler: its body was read and checked first. */
  readonly startedMs?: number;
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
/** The common answer's headers, built once (a Response copies a `Headers` faster than it reads a plain object's). */
const plainJsonHeaders = new Headers(jsonHeaders);

export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: headers ? { ...jsonHeaders, ...headers } : plainJsonHeaders });
}

export { entryJson } from "./entry-json.ts";

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

/**
 * Largest body of a /cluster/* JSON request: a few small fields, or one signed note (a
 * checkpoint with its members' and witnesses' signatures, a keys note) of a few kilobytes.
 */
const clusterBodyBytesMax = 64 * 1024;

/**
 * How much of a route's JSON body is read (before its schema is checked), and the 413 code past
 * that: a batch up to storage.max_batch_bytes, a /cluster/* request up to clusterBodyBytesMax.
 */
export function jsonBodyLimit(route: Route, limits: AppLimits): { bytesMax: number; code: ErrorCode; what: string } {
  if (route.body === "BatchRequest") return { bytesMax: limits.batchBytesMax, code: "batch_too_large", what: "batch body" };
  return { bytesMax: clusterBodyBytesMax, code: "payload_too_large", what: "request body" };
}

/** Room above the largest batch for a forwarded group's framing (the server's own body cap has the same slack). */
const forwardSlackBytes = 64 * 1024;

/** The largest forward envelope taken: one forwarded command can carry a value of the largest size, and a group is split to fit. */
export function forwardEnvelopeBytesMax(limits: AppLimits): number {
  return Math.max(limits.batchBytesMax, limits.valueBytesMax) + forwardSlackBytes;
}

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

/** The write options of a request: its Idempotency-Key header, if any. */
function writeOptions(request: Request): ProposeOptions {
  const idempotencyKey = parseIdempotencyKeyHeader(request.headers.get("idempotency-key"));
  return idempotencyKey === undefined ? {} : { idempotencyKey };
}

/** The answer to a write: its body, marked `Idempotent-Replayed: true` when the receipts are an earlier write's. */
function writeResponse(result: WriteResult, body: unknown, record: Partial<AuditRecord>): Response {
  if (!result.replayed) return json(body);
  record.replayed = true;
  return json(body, 200, { "idempotent-replayed": "true" });
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

/** The epoch and keys a keys note lists (as the node applied it). */
function epochOf(note: string): { epoch: number; keys: readonly string[] } {
  const set = parseKeysBody(splitNote(note).body);
  return { epoch: set.epoch, keys: set.keys };
}

/** The handler of every route, by route id. */
export function makeHandlers(deps: HandlerDeps): Record<RouteId, Handler> {
  return { ...keyHandlers(deps), ...ledgerHandlers(deps), ...nodeHandlers(deps), ...clusterHandlers(deps) };
}

/** Reads a bounded body; a node-to-node call's body must be the one its HMAC covers. */
function readCheckedBody(deps: HandlerDeps, call: RouteCall, bytesMax: number, code: ErrorCode, what: string): Promise<Uint8Array> {
  return readBody(call.request, bytesMax, code, what).then((body) => {
    deps.guard.checkBody(call.caller, body);
    return body;
  });
}

function keyHandlers(deps: HandlerDeps) {
  const { service, limits, metrics } = deps;
  const putValue = async (call: RouteCall): Promise<Response> => {
    const key = (call.record.key = routeKey(call));
    const body = await readCheckedBody(deps, call, limits.valueBytesMax, "value_too_large", "value");
    const contentType = validateContentType(call.request.headers.get("content-type"), "application/octet-stream");
    const op = putOperation({ key, value: body, contentType, ...preconditions(call.request.headers, "put") }, defaultHasher()!);
    const result = await service.propose([op], writeContext(call.caller), writeOptions(call.request));
    const receipt = result.receipts[0]!;
    call.record.index = receipt.index;
    return writeResponse(result, receipt, call.record);
  };
  const removeKey = async (call: RouteCall): Promise<Response> => {
    const key = (call.record.key = routeKey(call));
    const op: Operation = { op: "delete", key, ...preconditions(call.request.headers, "delete") };
    const result = await service.propose([op], writeContext(call.caller), writeOptions(call.request));
    const receipt = result.receipts[0]!;
    call.record.index = receipt.index;
    return writeResponse(result, receipt, call.record);
  };
  /** After the read barrier: the value the query names. */
  const read = async (key: string, query: RouteCall["query"]): Promise<Response> => {
    if (query.version !== undefined) {
      const version = parseNonNegative(query.version, "version", "invalid_version");
      if (version < 1) throw new ScribeError("invalid_version", `version must be 1 or more, got ${query.version}`);
      return valueResponse(await service.getVersion(key, version));
    }
    if (query.at !== undefined) return valueResponse(await service.getAt(key, parseNonNegative(query.at, "at", "invalid_index")));
    return valueResponse(await service.get(key));
  };
  // The common read, the latest value with no barrier to wait for and its value cached, runs with
  // no promise at all (the barrier and the read answer at once).
  const answer = (call: RouteCall): Response | Promise<Response> => {
    const key = routeKey(call);
    const { query } = call;
    const consistency = parseConsistency(query.consistency);
    if (query.version !== undefined && query.at !== undefined) throw new ScribeError("invalid_request", "give either version or at, not both");
    const barrier = service.readBarrier(consistency);
    if (barrier) return barrier.then(() => read(key, query));
    if (query.version !== undefined || query.at !== undefined) return read(key, query);
    const result = service.get(key);
    return result instanceof Promise ? result.then(valueResponse) : valueResponse(result);
  };
  const get = (call: RouteCall) => metrics.time("get", answer, call);
  const put = (call: RouteCall) => metrics.time("put", putValue, call);
  const remove = (call: RouteCall) => metrics.time("delete", removeKey, call);
  return { kvGet: get, kvPut: put, kvDelete: remove, keyGet: get, keyPut: put, keyDelete: remove };
}

function ledgerHandlers(deps: HandlerDeps) {
  const { service, limits, metrics } = deps;
  return {
    batch: (routed: RouteCall) =>
      metrics.time("batch", async (call: RouteCall) => {
        // The body passed its schema (src/http/request-schemas.ts) before this handler ran.
        const request = call.body as RequestBody<"BatchRequest">;
        const ops = batchOperations(request.ops, limits);
        const idempotencyKey = batchIdempotencyKey(request.idempotency_key, parseIdempotencyKeyHeader(call.request.headers.get("idempotency-key")));
        call.record.keys = ops.map((op) => op.key);
        const result = await service.propose(ops, writeContext(call.caller), idempotencyKey === undefined ? {} : { idempotencyKey });
        const { receipts } = result;
        call.record.first_index = receipts[0]!.index;
        call.record.last_index = receipts.at(-1)!.index;
        return writeResponse(result, { first_index: receipts[0]!.index, last_index: receipts.at(-1)!.index, tree_size: receipts[0]!.tree_size, receipts }, call.record);
      }, routed, routed.startedMs),
    history: async (call: RouteCall) => {
      const key = keyFromParam(call.params["*"], { decoded: false, slashes: true });
      const { query } = call;
      const fromVersion = query.from_version === undefined ? 1 : parseNonNegative(query.from_version, "from_version", "invalid_version");
      const limit = query.limit === undefined ? 1000 : parseNonNegative(query.limit, "limit", "invalid_request");
      if (limit < 1 || limit > 10000) throw new ScribeError("invalid_request", `limit must be 1..10000, got ${limit}`);
      await service.readBarrier(parseConsistency(query.consistency));
      const versions = service.history(key, Math.max(1, fromVersion), limit).map((entry) => entryJson(entry, service.tree.leafHash(entry.index)));
      return json({ key, versions });
    },
    verify: async (call: RouteCall) => json(await verifyKey(service, keyFromParam(call.params["*"], { decoded: false, slashes: true }), call.query)),
    // The tiles checkpoint too (the node root is the log's tlog-tiles base URL): cached a few seconds at most.
    checkpoint: async () => new Response((await service.checkpoint()).note, { headers: { "content-type": "text/plain; charset=utf-8", "cache-control": checkpointCacheControl } }),
    checkpointKey: () => new Response(`${service.verifierKey}\n`, { headers: { "content-type": "text/plain; charset=utf-8" } }),
    checkpointKeys: () => new Response(service.checkpointKeys().map((key) => `${key}\n`).join(""), { headers: { "content-type": "text/plain; charset=utf-8" } }),
    checkpointKeyHistory: () => {
      const { origin, epochs } = service.keyHistory();
      return json({ origin, epochs: epochs.map((note) => ({ ...epochOf(note), note })) });
    },
    keys: async (call: RouteCall) => json(await listKeys(service, call.request.url)),
    watch: (call: RouteCall) => watchResponse(service, call.request),
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
      const entries = await Promise.all(service.entries(from, limit).map((entry) => entryWithValue(service, entry, withValues)));
      return json({ from, tree_size: size, entries });
    },
  };
}

function nodeHandlers(deps: HandlerDeps) {
  const { service, metrics, prometheus } = deps;
  return {
    root: () => json({ name: "scribe-ledger", node_id: service.nodeId, ledger_size: service.size, docs: "https://github.com/ (see README.md)" }),
    // Liveness: 200 whenever the process answers, leader or not (an election is no reason to
    // restart a node); 503 only once its Raft driver failed (it must be restarted).
    health: () => {
      const status = service.status();
      const body = {
        status: status.failed === null ? "ok" : "failed",
        node_id: status.node_id,
        role: status.role,
        leader_id: status.leader_id,
        term: status.term,
        ledger_size: status.ledger_size,
        commit_index: status.commit_index,
        applied_index: status.applied_index,
        // The last checkpoint this member refused because its ledger disagrees: an alarm for its operator.
        checkpoint_disagreement: status.checkpoint_disagreement ?? null,
        // Whether writes can be taken here (a full disk): the node stays alive and serves reads either way.
        storage: status.storage,
      };
      // Liveness: 200 whenever the process serves; 503 only once its driver failed (it must restart).
      return json(body, status.failed === null ? 200 : 503, status.failed === null ? {} : { "retry-after": "1" });
    },
    // Readiness: whether to send this node traffic, with the reason for every "no".
    ready: () => {
      const readiness = service.readiness();
      if (readiness.ready) return json({ ready: true, checks: readiness.checks });
      return json(readiness, 503, { "retry-after": "1" });
    },
    metrics: () => json({ ...service.status(), requests: metrics.snapshot(), ...service.metrics() }),
    metricsPrometheus: async () => new Response(await prometheus.metrics(), { headers: { "content-type": prometheus.contentType } }),
    openapi: () => json(openApiDocument(deps.limits)),
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
    clusterIdentity: () => json(identity(cluster)),
    clusterIdempotency: (call: RouteCall) => json(idempotencyRecords(cluster, call.query)),
    // Bodies checked by their schemas before these run (src/http/request-schemas.ts), and node-to-node
    // ones against their signature (in the route's parse hook, src/http/app.ts).
    clusterCosign: async (call: RouteCall) => json(await cosign(cluster, call.body as RequestBody<"CosignRequest">)),
    clusterCheckpoint: async (call: RouteCall) => json(await checkpointFor(cluster, call.body as RequestBody<"CheckpointRequest">)),
    clusterKeys: async (call: RouteCall) => json(await registerKey(cluster, call.body as RequestBody<"KeyRegistration">)),
    clusterNodesAdd: async (call: RouteCall) => json(await addNode(cluster, call.body as RequestBody<"NodeAddRequest">)),
    clusterNodesRemove: async (call: RouteCall) => json(await removeNode(cluster, call.body as RequestBody<"NodeRemoveRequest">)),
    clusterPropose: async (call: RouteCall) => {
      const body = await readCheckedBody(deps, call, forwardEnvelopeBytesMax(limits), "payload_too_large", "forward envelope");
      return json(await proposeForwarded({ cluster, service, guard, body, valueBytesMax: limits.valueBytesMax }));
    },
  };
}
