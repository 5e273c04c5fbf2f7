/**
 * @module routes. The route table: the single source of every HTTP route. Each entry names its
 * method, path pattern, the role a caller needs, whether it is audited and rate limited, and its
 * OpenAPI operation. Everything else is derived from it: the router registration and the guard
 * (src/http/app.ts wraps each entry's handler, so the route that runs is the route judged), the
 * `Allow` header of a 405, the reserved key names, the OpenAPI document (src/http/openapi.ts) and
 * the role table of docs/SECURITY.md (scripts/gen-security-docs.ts).
 *
 * Path patterns: literal segments, `:name` for one segment, and a trailing `*` for the rest of the
 * path (keys with slashes). Adding a route is adding an entry here and its handler in app.ts (the
 * handler map is typed by `RouteId`, so a missing handler does not compile); the security suite
 * (test/http/security-matrix.test.ts) asks for a sample request of every entry.
 *
 * Request and response schemas: an entry with a JSON body names its schema (`body`, one of
 * src/http/schemas.ts's request bodies), which the router validates before the handler runs;
 * every response names its schema (a component of the OpenAPI document). Elysia parses and
 * validates a body before a handler (and before `transform` and `beforeHandle` hooks) could
 * refuse the caller, so for these routes src/http/app.ts runs the guard in the route's own parse
 * hook, before the body is read: a refused request is answered before any input is looked at,
 * and changes nothing.
 *
 * Pure data and pure functions: no Elysia, no I/O, so scripts and tests can read the table alone.
 */

import { keysLimitDefault, keysLimitMax } from "./keys.ts";
import type { RequestBodyName, ResponseSchemaName } from "./schemas.ts";

/**
 * Who may call a route. `none`: anyone (probes); `read` < `write` < `admin`: API key roles;
 * `internal`: only another node of the cluster (an `X-Scribe-Cluster-Auth` signature). With
 * authentication off (no API keys) every caller may call every route.
 */
export type RouteRole = "none" | "read" | "write" | "admin" | "internal";

export type RouteMethod = "GET" | "PUT" | "POST" | "DELETE";

/**
 * What an audited route records. One record per request, written by the guard's wrapper whatever
 * the outcome, except `forwarded`: one record per forwarded command, with the principal of the
 * client that sent it to the follower.
 */
export type RouteAudit = "put" | "delete" | "batch" | "node_add" | "node_remove" | "forwarded";

type Json = Record<string, unknown>;

/** An OpenAPI parameter other than the path's key. */
export interface RouteParam {
  name: string;
  in: "query" | "header";
  description: string;
  schema?: Json;
  required?: boolean;
}

/** The OpenAPI operation of a route; operationId is the route's id, the rest is derived. */
export interface RouteDoc {
  summary: string;
  params?: readonly RouteParam[];
  requestBody?: Json;
  /** The name and description of a trailing `*` parameter (default: the key). */
  pathParam?: { name: string; description: string };
  /** Status → OpenAPI response object. 401/403/429/503 are added from the role and flags. */
  responses: Readonly<Record<string, Json>>;
}

export interface RouteSpec {
  /** Unique; the OpenAPI operationId and the key of the handler map. */
  readonly id: string;
  readonly method: RouteMethod;
  readonly path: string;
  readonly role: RouteRole;
  readonly audit?: RouteAudit;
  /** A JSON body checked by this schema (src/http/schemas.ts) before the handler runs. */
  readonly body?: RequestBodyName;
  /** Takes a token from the caller's rate-limit bucket (when rate limits are on). */
  readonly rateLimited: boolean;
  readonly doc: RouteDoc;
}

// ---- OpenAPI building blocks ----------------------------------------------------------------

/** A reference to a schema of src/http/schemas.ts (a component of the OpenAPI document). */
export const schemaRef = (name: ResponseSchemaName | RequestBodyName): Json => ({ $ref: `#/components/schemas/${name}` });
export const errorResponse = (description: string): Json => ({ description, content: { "application/json": { schema: schemaRef("Error") } } });
const jsonOk = (description: string, schema: ResponseSchemaName): Json => ({ description, content: { "application/json": { schema: schemaRef(schema) } } });
const text = (description: string): Json => ({ description, content: { "text/plain": { schema: { type: "string" } } } });
const query = (name: string, description: string, schema: Json = { type: "integer", minimum: 0 }, required = false): RouteParam => ({ name, in: "query", required, description, schema });
const receipt = jsonOk("Receipt once durable.", "Receipt");
const rawBody = (description: string): Json => ({ required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary", description } } } });

function keyDocs(where: string): Record<"get" | "put" | "delete", RouteDoc> {
  return {
    get: {
      summary: `Read a key's value (${where})`,
      params: [
        query("version", "Read this version (1-based)."),
        query("at", "Read the key as of this ledger index."),
        query("consistency", "linearizable (default) or stale.", { type: "string", enum: ["linearizable", "stale"] }),
      ],
      responses: {
        "200": {
          description: "The raw value with its stored content type; headers X-Scribe-Index, X-Scribe-Version, X-Scribe-Value-Hash, ETag, X-Content-Type-Options: nosniff, Content-Security-Policy: sandbox.",
          content: { "*/*": { schema: { type: "string", format: "binary" } } },
        },
        "400": errorResponse("invalid_key, invalid_version, invalid_index, invalid_request"),
        "404": errorResponse("not_found, deleted, version_not_found"),
        "500": errorResponse("corrupt_value, corrupt_entry: the stored value or entry fails its check (SHA-256, Merkle leaf) and is not served"),
      },
    },
    put: {
      summary: `Append a put of the raw body (${where})`,
      params: [
        { name: "If-Match", in: "header", description: "Expected current version.", schema: { type: "string" } },
        { name: "If-None-Match", in: "header", description: "`*`: only if the key has no live value.", schema: { type: "string" } },
      ],
      requestBody: { required: false, content: { "*/*": { schema: { type: "string", format: "binary" } } } },
      responses: { "200": receipt, "400": errorResponse("invalid_key, key_too_large, invalid_request"), "412": errorResponse("precondition_failed (If-Match / If-None-Match)"), "413": errorResponse("value_too_large") },
    },
    delete: {
      summary: `Append a tombstone (${where})`,
      params: [{ name: "If-Match", in: "header", description: "Expected current version.", schema: { type: "string" } }],
      responses: { "200": receipt, "400": errorResponse("invalid_key, key_too_large"), "404": errorResponse("not_found, deleted"), "412": errorResponse("precondition_failed") },
    },
  };
}

const kvDocs = keyDocs("any key, slashes allowed");
const segmentDocs = keyDocs("one path segment, not a reserved name");

// ---- The table -----------------------------------------------------------------------------

/**
 * Every route. Order matters only for readability; the router matches literal segments before
 * parameters, whatever the order of registration.
 */
export const routes = [
  { id: "root", method: "GET", path: "/", role: "read", rateLimited: true, doc: { summary: "Service name, node id and ledger size", responses: { "200": jsonOk("Service description.", "Root") } } },
  {
    id: "health",
    method: "GET",
    path: "/health",
    role: "none",
    // Probes from a load balancer share one address; a 429 there would take the node out of service.
    rateLimited: false,
    doc: { summary: "Liveness: the process answers (never needs a key)", responses: { "200": jsonOk("The process answers: status ok (a node without a leader is alive).", "Health"), "503": jsonOk("status failed: the Raft driver failed and the node must be restarted (Retry-After).", "Health") } },
  },
  {
    id: "ready",
    method: "GET",
    path: "/ready",
    role: "none",
    // Readiness probes too come from load balancers sharing an address: never rate limited.
    rateLimited: false,
    doc: { summary: "Readiness: whether this node should take traffic, with the reasons (never needs a key)", responses: { "200": jsonOk("Ready: every check passed.", "Ready"), "503": jsonOk("Not ready: `reasons` says why (Retry-After).", "Ready") } },
  },
  { id: "metrics", method: "GET", path: "/metrics", role: "read", rateLimited: true, doc: { summary: "Node state and counters as JSON", responses: { "200": jsonOk("Raft state, request counters, storage, caches.", "Metrics") } } },
  { id: "metricsPrometheus", method: "GET", path: "/metrics/prometheus", role: "read", rateLimited: true, doc: { summary: "Prometheus text exposition", responses: { "200": text("Prometheus text format 0.0.4.") } } },
  { id: "openapi", method: "GET", path: "/openapi", role: "read", rateLimited: true, doc: { summary: "This document", responses: { "200": jsonOk("OpenAPI 3.1.", "OpenApi") } } },
  {
    id: "batch",
    method: "POST",
    path: "/batch",
    role: "write",
    audit: "batch",
    body: "BatchRequest",
    rateLimited: true,
    doc: {
      summary: "Append many operations atomically at consecutive indexes",
      responses: {
        "200": jsonOk("The batch's entries, once durable: a receipt per operation.", "BatchAnswer"),
        "400": errorResponse("invalid_json, invalid_request, invalid_key, key_too_large, invalid_value"),
        "404": errorResponse("not_found, deleted: a delete of a key without a live value (nothing is appended)"),
        "412": errorResponse("precondition_failed"),
        "413": errorResponse("batch_too_large, value_too_large"),
      },
    },
  },
  {
    id: "history",
    method: "GET",
    path: "/history/*",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "Every version of a key",
      params: [query("from_version", "First version to list."), query("limit", "Most versions (1..10000).")],
      responses: { "200": jsonOk("The key's versions in order.", "History"), "400": errorResponse("invalid_key, invalid_version, invalid_request"), "404": errorResponse("not_found") },
    },
  },
  {
    id: "verify",
    method: "GET",
    path: "/verify/*",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "Inclusion proof of a key's entry against the latest signed checkpoint",
      params: [query("version", "Prove this version.")],
      responses: { "200": jsonOk("The entry, its inclusion proof against the checkpoint, and the node's verdict.", "Verify"), "400": errorResponse("invalid_key, invalid_version"), "404": errorResponse("not_found, version_not_found") },
    },
  },
  { id: "checkpoint", method: "GET", path: "/checkpoint", role: "read", rateLimited: true, doc: { summary: "The latest signed checkpoint (C2SP signed note)", responses: { "200": text("Signed note.") } } },
  { id: "checkpointKey", method: "GET", path: "/checkpoint/key", role: "read", rateLimited: true, doc: { summary: "The checkpoint verifier key", responses: { "200": text("name+hash+base64 key") } } },
  {
    id: "inclusionProof",
    method: "GET",
    path: "/proof/inclusion",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "RFC 9162 inclusion proof",
      params: [query("index", "Leaf index.", { type: "integer", minimum: 0 }, true), query("tree_size", "Tree size (default: the latest checkpoint's).")],
      responses: { "200": jsonOk("The proof, with the leaf hash.", "InclusionProof"), "400": errorResponse("invalid_index, invalid_range") },
    },
  },
  {
    id: "consistencyProof",
    method: "GET",
    path: "/proof/consistency",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "RFC 9162 consistency proof",
      params: [query("from", "Older tree size.", { type: "integer", minimum: 0 }, true), query("to", "Newer tree size (default: the latest checkpoint's).")],
      responses: { "200": jsonOk("The proof.", "ConsistencyProof"), "400": errorResponse("invalid_range") },
    },
  },
  {
    id: "entries",
    method: "GET",
    path: "/entries",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "A range of ledger entries in index order",
      params: [query("from", "First index."), query("limit", "Most entries (1..10000)."), query("values", "true: include values as value_base64; a value the node cannot hand out is null, with value_error: its code (corrupt_value, corrupt_entry, unavailable).", { type: "string", enum: ["true", "false"] })],
      responses: { "200": jsonOk("The entries from `from`, in index order.", "EntriesPage"), "400": errorResponse("invalid_range") },
    },
  },
  {
    id: "keys",
    method: "GET",
    path: "/keys",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "Keys in UTF-8 byte order with their latest index, version and deleted flag, a page at a time",
      params: [
        query("prefix", "Only keys starting with this text.", { type: "string" }),
        query("after", "Only keys after this one in byte order (the previous page's `next`).", { type: "string" }),
        query("limit", `Most keys (1..${keysLimitMax}, default ${keysLimitDefault}).`, { type: "integer", minimum: 1, maximum: keysLimitMax }),
        query("consistency", "linearizable (default) or stale.", { type: "string", enum: ["linearizable", "stale"] }),
      ],
      responses: {
        "200": jsonOk("Keys with their latest entry; pass `next` as `after` for the following page (null on the last).", "KeysPage"),
        "400": errorResponse("invalid_request (prefix, after, consistency), invalid_range (limit)"),
      },
    },
  },
  {
    id: "tile",
    method: "GET",
    path: "/tile/*",
    role: "read",
    rateLimited: true,
    doc: {
      summary:
        "The log as C2SP tlog-tiles: a hash tile (256 hashes of tree level 8·L, 32 bytes each) or an entry bundle (canonical entries, each prefixed by its uint16 big-endian length); the base URL is the node root, GET /checkpoint is its checkpoint",
      pathParam: {
        name: "tile_path",
        description:
          "C2SP tlog-tiles path below /tile/ (slashes are part of it): `<L>/<N>[.p/<W>]` for a hash tile, `entries/<N>[.p/<W>]` for an entry bundle. <N> is in groups of three digits, all but the last prefixed with x (1234067 → x001/x234/067); .p/<W> (1..255) names a partial tile.",
      },
      responses: {
        "200": {
          description: "The tile's bytes. Full tiles: Cache-Control public, max-age=31536000, immutable; partial tiles: a short max-age.",
          content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
        },
        "400": errorResponse("invalid_request: a malformed tile path"),
        "404": errorResponse("not_found: the tree does not have that tile (yet)"),
      },
    },
  },
  { id: "clusterInfo", method: "GET", path: "/cluster/info", role: "read", rateLimited: true, doc: { summary: "This node's Raft state", responses: { "200": jsonOk("Node status.", "NodeStatus") } } },
  { id: "clusterNodes", method: "GET", path: "/cluster/nodes", role: "read", rateLimited: true, doc: { summary: "Members and their progress", responses: { "200": jsonOk("Members and their progress.", "ClusterNodes") } } },
  { id: "clusterLeader", method: "GET", path: "/cluster/leader/info", role: "read", rateLimited: true, doc: { summary: "The current leader", responses: { "200": jsonOk("The leader and its addresses.", "Leader") } } },
  {
    id: "clusterReadIndex",
    method: "GET",
    path: "/cluster/read-index",
    role: "internal",
    rateLimited: false,
    doc: { summary: "Leader only: a linearizable read index (node to node)", responses: { "200": jsonOk("A read index confirmed by a quorum.", "ReadIndex"), "400": errorResponse("invalid_request") } },
  },
  {
    id: "clusterLedgerSize",
    method: "GET",
    path: "/cluster/ledger-size",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "Ledger size at an applied Raft index (node to node, catch-up)",
      params: [query("raft_index", "Applied Raft index.", { type: "integer", minimum: 0 }, true)],
      responses: { "200": jsonOk("The ledger size at that Raft index.", "LedgerSize"), "400": errorResponse("invalid_range") },
    },
  },
  {
    id: "clusterNodesAdd",
    method: "POST",
    path: "/cluster/nodes/add",
    role: "admin",
    audit: "node_add",
    body: "NodeAddRequest",
    rateLimited: true,
    doc: {
      summary: "Add a node (learner, then voter)",
      responses: { "200": jsonOk("The node's role now (learner, promoted once caught up) and the address book.", "NodeAdded"), "400": errorResponse("invalid_json, invalid_request"), "409": errorResponse("conflict"), "413": errorResponse("payload_too_large") },
    },
  },
  {
    id: "clusterNodesRemove",
    method: "POST",
    path: "/cluster/nodes/remove",
    role: "admin",
    audit: "node_remove",
    body: "NodeRemoveRequest",
    rateLimited: true,
    doc: {
      summary: "Remove a node",
      responses: { "200": jsonOk("The node was removed.", "NodeRemoved"), "400": errorResponse("invalid_json, invalid_request"), "413": errorResponse("payload_too_large") },
    },
  },
  {
    id: "clusterPropose",
    method: "POST",
    path: "/cluster/propose",
    role: "internal",
    audit: "forwarded",
    rateLimited: false,
    doc: {
      summary: "Leader only: commands forwarded by a follower, each applied on its own (node to node)",
      requestBody: rawBody("A forward envelope (src/http/forward.ts): the forwarding and receiving node ids, each command's original caller, then the command list."),
      responses: { "200": jsonOk("One outcome per forwarded command: its receipts, or its error.", "ProposeAnswer"), "400": errorResponse("invalid_request, invalid_key"), "413": errorResponse("payload_too_large, value_too_large"), "503": errorResponse("not_leader") },
    },
  },
  { id: "kvGet", method: "GET", path: "/kv/*", role: "read", rateLimited: true, doc: kvDocs.get },
  { id: "kvPut", method: "PUT", path: "/kv/*", role: "write", audit: "put", rateLimited: true, doc: kvDocs.put },
  { id: "kvDelete", method: "DELETE", path: "/kv/*", role: "write", audit: "delete", rateLimited: true, doc: kvDocs.delete },
  { id: "keyGet", method: "GET", path: "/:key", role: "read", rateLimited: true, doc: segmentDocs.get },
  { id: "keyPut", method: "PUT", path: "/:key", role: "write", audit: "put", rateLimited: true, doc: segmentDocs.put },
  { id: "keyDelete", method: "DELETE", path: "/:key", role: "write", audit: "delete", rateLimited: true, doc: segmentDocs.delete },
] as const satisfies readonly RouteSpec[];

export type RouteId = (typeof routes)[number]["id"];
export type Route = RouteSpec & { readonly id: RouteId };

/** The table as plain `Route`s (the `as const` literal types are for `RouteId` only). */
export const routeTable: readonly Route[] = routes;

// ---- Derived views -------------------------------------------------------------------------

/** True when the pattern's last segment is a parameter (`:name` or `*`). */
export function isParameterized(pattern: string): boolean {
  return pattern.includes(":") || pattern.endsWith("*");
}

/**
 * First path segments that name routes, not keys: `PUT /health` is refused and such keys live
 * under /kv/. Derived from the table, so a new route reserves its name.
 */
export const reservedNames: ReadonlySet<string> = new Set(
  routeTable
    .map((route) => route.path.split("/")[1] ?? "")
    .filter((segment) => segment !== "" && !segment.startsWith(":") && segment !== "*"),
);

/**
 * Does `path` (as the router sees it: not decoded, no query) match `pattern`? A trailing slash
 * is ignored, as the router ignores it. `:name` matches one non-empty segment, except a reserved
 * name in the first segment; `*` matches the rest, possibly empty.
 */
export function matchesPattern(pattern: string, path: string): boolean {
  const bare = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (pattern.endsWith("*")) return path.startsWith(pattern.slice(0, -1));
  const want = pattern.split("/");
  const got = bare.split("/");
  if (want.length !== got.length) return false;
  return want.every((part, i) => {
    if (!part.startsWith(":")) return part === got[i];
    const segment = got[i]!;
    return segment !== "" && !(i === 1 && reservedNames.has(segment));
  });
}

/**
 * The methods a path accepts, for the `Allow` header of a 405. Literal routes win over
 * parameterized ones (`/health` is the health route, not a key). Empty: no route has this path.
 */
export function allowedMethods(path: string): RouteMethod[] {
  const literal = routeTable.filter((route) => !isParameterized(route.path) && matchesPattern(route.path, path));
  const matching = literal.length > 0 ? literal : routeTable.filter((route) => isParameterized(route.path) && matchesPattern(route.path, path));
  return [...new Set(matching.map((route) => route.method))];
}

/** A route's pattern as an OpenAPI path: `/:key` becomes `{key}`, a trailing `/*` its named parameter (default `{key}`). */
export function openApiPathOf(route: Pick<RouteSpec, "path" | "doc">): string {
  return route.path.replace(/\/:([A-Za-z_]+)/g, "/{$1}").replace(/\/\*$/, `/{${route.doc.pathParam?.name ?? "key"}}`);
}
