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
 * every JSON response names its schema (a component of the OpenAPI document), and so does each
 * line of GET /watch's NDJSON. Each entry's responses are the statuses its handler can answer;
 * src/http/openapi.ts adds those of the guard and the request target (400, 401, 403, 429, 503).
 * Elysia parses and validates a body before a handler (and before `transform` and `beforeHandle`
 * hooks) could refuse the caller, so for these routes src/http/app.ts runs the guard in the
 * route's own parse hook, before the body is read: a refused request is answered before any
 * input is looked at, and changes nothing.
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
/** A JSON answer: every one names its schema. */
const jsonOk = (description: string, schema: ResponseSchemaName, headers?: Json): Json => ({ description, ...(headers ? { headers } : {}), content: { "application/json": { schema: schemaRef(schema) } } });
const text = (description: string): Json => ({ description, content: { "text/plain": { schema: { type: "string" } } } });
const header = (description: string, schema: Json = { type: "string" }): Json => ({ description, schema });
const query = (name: string, description: string, schema: Json = { type: "integer", minimum: 0 }, required = false): RouteParam => ({ name, in: "query", required, description, schema });
/** The answer header of a write whose receipts are an earlier write's (README, "Unknown outcomes and retries"). */
const replayedHeader: Json = {
  "Idempotent-Replayed": header("`true` when the receipts are those of an earlier write with the same Idempotency-Key, whose request was the same: nothing was appended. Absent otherwise.", { type: "string", enum: ["true"] }),
};
const receipt = jsonOk("Receipt once durable; with the header Idempotent-Replayed: true it is the receipt of an earlier write with the same Idempotency-Key (nothing was appended).", "Receipt", replayedHeader);
const rawBody = (description: string): Json => ({ required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary", description } } } });

/** The Idempotency-Key header of a write (README, "Unknown outcomes and retries"). */
const idempotencyKeyParam: RouteParam = {
  name: "Idempotency-Key",
  in: "header",
  description:
    "A client-chosen key (1..255 bytes of printable UTF-8) making the write safe to retry: a retry with the same key and the same request within api.idempotency_window_secs appends nothing and answers the original receipts (with Idempotent-Replayed: true); the same key with another request is refused 422.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};

/** What every write may answer besides its own refusals: the outcome-honest statuses. */
const writeOutcomes: Readonly<Record<string, Json>> = {
  "422": errorResponse("idempotency_key_reused: the Idempotency-Key was used within its window for a different request; nothing was appended"),
  "503": errorResponse("unavailable, no_leader, not_leader, shutting_down, timeout: refused, and nothing was appended (Retry-After)"),
  "504": errorResponse("outcome_unknown: the node cannot know whether the write was appended (the leader was lost mid-request, the write timed out after it was proposed, the node stopped); it may still commit. Retry with the same Idempotency-Key to learn its outcome without appending twice"),
  "507": errorResponse("insufficient_storage: the data directory's free space is below storage.min_free_bytes (or the disk is full); nothing was appended; reads still work"),
};

/**
 * What a route that may need a quorum checkpoint made now (a cosigning round, or the leader's
 * checkpoint adopted by a follower) answers when none can be had.
 */
const checkpointFailures: Readonly<Record<string, Json>> = {
  "409": errorResponse("checkpoint_disagreement: this node's own ledger disagrees with the checkpoint it was handed, so it refuses to serve it (an alarm: docs/TROUBLESHOOTING.md)"),
  "500": errorResponse("verification_failed: the leader's checkpoint does not verify with this node's view of the members' keys"),
  "503": errorResponse("no_quorum, no_leader, not_leader, not_caught_up, timeout, unavailable: no quorum checkpoint could be made in time (Retry-After)"),
  "507": errorResponse("insufficient_storage: the disk is full, so a signed checkpoint cannot be stored"),
};

/** The answer of a one-segment `/{key}` that names a route with other methods (`PUT /health`, `GET /batch`). */
const reservedKeyResponse = (example: string): Json =>
  errorResponse(`method_not_allowed: the key is the name of a route that takes other methods (${example}); such keys live under /kv/ (Allow lists the route's methods)`);

/**
 * The operations of a key route; `segment`: the one-segment `/{key}`, whose key may be the name of
 * a route (answered as that route's refusal: 405 with Allow, or 404 no_route).
 */
function keyDocs(where: string, segment: boolean): Record<"get" | "put" | "delete", RouteDoc> {
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
          description: "The raw value with its stored content type (X-Content-Type-Options: nosniff, Content-Security-Policy: sandbox).",
          headers: {
            "X-Scribe-Index": header("The ledger index of the entry served.", { type: "integer", minimum: 0 }),
            "X-Scribe-Version": header("Its version (1-based).", { type: "integer", minimum: 1 }),
            "X-Scribe-Value-Hash": header("SHA-256 of the value, hex (checked before it was served)."),
            ETag: header("The version, quoted: use it in If-Match."),
          },
          content: { "*/*": { schema: { type: "string", format: "binary" } } },
        },
        "400": errorResponse("invalid_key, invalid_version, invalid_index, invalid_request"),
        "404": errorResponse(segment ? "not_found, deleted, version_not_found; no_route: the key is the name of a route without GET (/cluster): it lives under /kv/" : "not_found, deleted, version_not_found"),
        "500": errorResponse("corrupt_value, corrupt_entry: the stored value or entry fails its check (SHA-256, Merkle leaf) and is not served"),
        "503": errorResponse("no_leader, not_leader, timeout, unavailable, shutting_down: a linearizable read could not be confirmed (read with consistency=stale), or the value left the hot tier and S3 did not answer (Retry-After)"),
        ...(segment ? { "405": reservedKeyResponse("GET /batch") } : {}),
      },
    },
    put: {
      summary: `Append a put of the raw body (${where})`,
      params: [
        { name: "If-Match", in: "header", description: "Expected current version.", schema: { type: "string" } },
        { name: "If-None-Match", in: "header", description: "`*`: only if the key has no live value.", schema: { type: "string" } },
        idempotencyKeyParam,
      ],
      requestBody: { required: false, content: { "*/*": { schema: { type: "string", format: "binary" } } } },
      responses: {
        "200": receipt,
        "400": errorResponse("invalid_key, key_too_large, invalid_request (also a malformed Idempotency-Key)"),
        "412": errorResponse("precondition_failed (If-Match / If-None-Match)"),
        "413": errorResponse("value_too_large"),
        ...writeOutcomes,
        ...(segment ? { "404": errorResponse("no_route: the key is the name of a route without PUT (/cluster): it lives under /kv/"), "405": reservedKeyResponse("PUT /health") } : {}),
      },
    },
    delete: {
      summary: `Append a tombstone (${where})`,
      params: [{ name: "If-Match", in: "header", description: "Expected current version.", schema: { type: "string" } }, idempotencyKeyParam],
      responses: {
        "200": receipt,
        "400": errorResponse("invalid_key, key_too_large, invalid_request"),
        "404": errorResponse(segment ? "not_found, deleted; no_route: the key is the name of a route without DELETE (/cluster): it lives under /kv/" : "not_found, deleted"),
        "412": errorResponse("precondition_failed"),
        ...writeOutcomes,
        ...(segment ? { "405": reservedKeyResponse("DELETE /health") } : {}),
      },
    },
  };
}

const kvDocs = keyDocs("any key, slashes allowed", false);
const segmentDocs = keyDocs("one path segment, not a reserved name", true);

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
      params: [{ ...idempotencyKeyParam, description: `${idempotencyKeyParam.description} May be given as the body's idempotency_key instead; both given must be equal.` }],
      responses: {
        "200": jsonOk("The batch's entries, once durable: a receipt per operation (Idempotent-Replayed: true when they are an earlier batch's with the same idempotency key).", "BatchAnswer", replayedHeader),
        "400": errorResponse("invalid_json, invalid_request (also a malformed or mismatched idempotency key), invalid_key, key_too_large, invalid_value"),
        "404": errorResponse("not_found, deleted: a delete of a key without a live value (nothing is appended)"),
        "412": errorResponse("precondition_failed"),
        "413": errorResponse("batch_too_large, value_too_large"),
        ...writeOutcomes,
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
      responses: {
        ...checkpointFailures,
        "200": jsonOk("The entry, its inclusion proof against a quorum checkpoint that covers it, and the node's verdict.", "Verify"),
        "400": errorResponse("invalid_key, invalid_version"),
        "404": errorResponse("not_found, version_not_found"),
      },
    },
  },
  {
    id: "checkpoint",
    method: "GET",
    path: "/checkpoint",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "The cluster's newest checkpoint (C2SP signed note) with the signatures of a majority of the voters, and external witnesses' cosignatures when configured",
      // The newest served checkpoint stands in when none covering the whole tree can be made in time: the failures come only before the first.
      responses: { ...checkpointFailures, "200": text("Signed note.") },
    },
  },
  { id: "checkpointKey", method: "GET", path: "/checkpoint/key", role: "read", rateLimited: true, doc: { summary: "This node's own checkpoint verifier key", responses: { "200": text("name+hash+base64 key") } } },
  {
    id: "checkpointKeys",
    method: "GET",
    path: "/checkpoint/keys",
    role: "read",
    rateLimited: true,
    doc: { summary: "The verifier keys of the current voters, one per line: a checkpoint is the cluster's when a majority of them signed it", responses: { "200": text("name+hash+base64 key, one per line") } },
  },
  {
    id: "checkpointKeyHistory",
    method: "GET",
    path: "/checkpoint/keys/history",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "Every key-set epoch of the cluster: keys notes, each signed by a majority of the previous epoch's members (docs/FORMATS.md, Keys notes)",
      responses: { "200": jsonOk("The origin and every epoch's keys and keys note.", "KeyHistory") },
    },
  },
  {
    id: "inclusionProof",
    method: "GET",
    path: "/proof/inclusion",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "RFC 9162 inclusion proof",
      params: [query("index", "Leaf index.", { type: "integer", minimum: 0 }, true), query("tree_size", "Tree size (default: the latest checkpoint's).")],
      // Without tree_size: the newest served checkpoint's size (one is made when none is served yet).
      responses: { ...checkpointFailures, "200": jsonOk("The proof, with the leaf hash.", "InclusionProof"), "400": errorResponse("invalid_range") },
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
      // Without to: the newest served checkpoint's size (one is made when none is served yet).
      responses: { ...checkpointFailures, "200": jsonOk("The proof.", "ConsistencyProof"), "400": errorResponse("invalid_range") },
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
    id: "watch",
    method: "GET",
    path: "/watch",
    role: "read",
    // One token per stream opened; api.watch_streams_max bounds how many stay open.
    rateLimited: true,
    doc: {
      summary:
        "The ledger as a verifiable change feed (NDJSON): entries in index order with no gap, and signed checkpoints with the proofs that bind every entry and every checkpoint to the one before (docs/FORMATS.md section 8)",
      params: [
        query("from", "First index to stream (0: the whole ledger; GET /checkpoint's tree size: new entries only).", { type: "integer", minimum: 0 }, true),
        query("prefix", "Only entries of keys starting with this text (checkpoint lines still come, with an inclusion proof per entry).", { type: "string" }),
        query("values", "true: each entry carries value_base64 (null with value_error when the node cannot hand it out), read through the cold tier.", { type: "string", enum: ["true", "false"] }),
        query("checkpoint_size", "The tree size the client trusts: the first checkpoint line's consistency proof starts there (default 0: none)."),
        query("until", "End the stream (with {\"end\": \"until\"}) once every entry below this index was sent and covered by a checkpoint line."),
      ],
      responses: {
        "200": {
          description:
            "NDJSON: one JSON object per line, each a WatchLine (the schema describes one line, as a streamed media type's schema does): entries (the GET /entries item), checkpoint lines {checkpoint, from_size, proof, next_index, position_proof | inclusion, frontier (first line of a full stream)}, and a final {end, resume_from} (until, leader_changed, shutting_down) or {error, code, resume_from} line (slow_consumer, or a failure). A connection that is cut has no final line.",
          content: { "application/x-ndjson": { schema: schemaRef("WatchLine") } },
        },
        "400": errorResponse("invalid_range (from, checkpoint_size, until), invalid_request (prefix, values, a repeated parameter)"),
        "503": errorResponse("too_many_streams (api.watch_streams_max), shutting_down (Retry-After)"),
      },
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
        "503": errorResponse("no_leader, not_leader, timeout, unavailable, shutting_down: a linearizable read could not be confirmed; read with consistency=stale (Retry-After)"),
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
  {
    id: "clusterLeader",
    method: "GET",
    path: "/cluster/leader/info",
    role: "read",
    rateLimited: true,
    doc: { summary: "The current leader", responses: { "200": jsonOk("The leader and its addresses.", "Leader"), "503": errorResponse("no_leader: the cluster has no leader right now (Retry-After)") } },
  },
  {
    id: "clusterReadIndex",
    method: "GET",
    path: "/cluster/read-index",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "Leader only: a linearizable read index (node to node)",
      responses: {
        "200": jsonOk("A read index confirmed by a quorum.", "ReadIndex"),
        "400": errorResponse("invalid_request: this node does not run Raft"),
        "503": errorResponse("not_leader, timeout, unavailable, shutting_down: no read index confirmed (Retry-After)"),
      },
    },
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
      responses: { "200": jsonOk("The ledger size at that Raft index.", "LedgerSize"), "400": errorResponse("invalid_range: no raft_index, or no ledger size recorded for it") },
    },
  },
  {
    id: "clusterCosign",
    method: "POST",
    path: "/cluster/cosign",
    role: "internal",
    body: "CosignRequest",
    rateLimited: false,
    doc: {
      summary: "Leader to member: sign a checkpoint body after checking it against this member's ledger ({body}), sign a keys note body ({keys_body}), or take the newest quorum checkpoint ({latest})",
      responses: {
        "200": jsonOk("{signature}: this member's signature line (body, keys_body); {size}: the size of the checkpoint it serves now (latest).", "CosignAnswer"),
        "400": errorResponse("invalid_json, invalid_request (not one of the three fields; not a checkpoint or keys note body; another origin)"),
        "409": errorResponse("checkpoint_disagreement: this member's ledger has another root at that size, or contradicts what it signed"),
        "413": errorResponse("payload_too_large"),
        "500": errorResponse("verification_failed: the latest checkpoint does not verify with this member's view of the voters' keys"),
        "503": errorResponse("not_caught_up: this member has not applied that size (or that key set) in time; unavailable: it does not know the cluster's origin yet (Retry-After)"),
        "507": errorResponse("insufficient_storage: the disk is full, so the signed checkpoint cannot be stored"),
      },
    },
  },
  {
    id: "clusterCheckpoint",
    method: "POST",
    path: "/cluster/checkpoint",
    role: "internal",
    body: "CheckpointRequest",
    rateLimited: false,
    doc: {
      summary: "Follower to leader: a quorum checkpoint of at least `size` leaves (a cosigning round when needed)",
      responses: {
        "200": jsonOk("The checkpoint note.", "CheckpointNote"),
        "400": errorResponse("invalid_json, invalid_request"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("not_leader, no_quorum, timeout, unavailable: no such checkpoint could be made in time (Retry-After)"),
        "507": errorResponse("insufficient_storage: the disk is full, so the signed checkpoint cannot be stored"),
      },
    },
  },
  {
    id: "clusterKeys",
    method: "POST",
    path: "/cluster/keys",
    role: "internal",
    body: "KeyRegistration",
    rateLimited: false,
    doc: {
      summary: "Member to leader: register the member's checkpoint verifier key, with a proof of possession",
      responses: {
        "200": jsonOk("The key is registered (applied on the leader).", "KeyRegistered"),
        "400": errorResponse("invalid_json, invalid_request (also a bad verifier key, or a proof that does not verify or is for another origin, node or key)"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("not_leader, unavailable (the origin is not fixed yet, the proposal was refused), timeout: not applied in time (Retry-After)"),
      },
    },
  },
  {
    id: "clusterIdentity",
    method: "GET",
    path: "/cluster/identity",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "The replicated cluster identity: origin, member keys by node id, keys notes (node to node, catch-up)",
      responses: { "200": jsonOk("The identity as this node applied it.", "ClusterIdentity"), "400": errorResponse("invalid_request: this node does not run Raft") },
    },
  },
  {
    id: "clusterIdempotency",
    method: "GET",
    path: "/cluster/idempotency",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "Idempotency records of a ledger range (node to node, catch-up)",
      params: [query("from", "First ledger index.", { type: "integer", minimum: 0 }, true), query("to", "Ledger index past the range.", { type: "integer", minimum: 0 }, true)],
      responses: { "200": jsonOk("The records of the range.", "IdempotencyRecords"), "400": errorResponse("invalid_range: from or to missing, or not from <= to <= from + 100000") },
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
      responses: {
        "200": jsonOk("The node's role now (learner, promoted once caught up) and the address book.", "NodeAdded"),
        "400": errorResponse("invalid_json, invalid_request"),
        "409": errorResponse("conflict: the change was refused (another change or a leadership transfer is pending, or it is invalid)"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("no_leader, not_leader, unavailable, timeout: refused, nothing changed (Retry-After)"),
        "504": errorResponse("outcome_unknown: proposed, or sent to the leader, without an answer in time; it may still be applied: check GET /cluster/nodes"),
      },
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
      responses: {
        "200": jsonOk("The node was removed.", "NodeRemoved"),
        "400": errorResponse("invalid_json, invalid_request"),
        "404": errorResponse("not_found: the node is not a member"),
        "409": errorResponse("conflict: the change was refused (another change or a leadership transfer is pending, or it is invalid)"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("no_leader, not_leader, unavailable, timeout: refused, nothing changed (Retry-After)"),
        "504": errorResponse("outcome_unknown: proposed, or sent to the leader, without an answer in time; it may still be applied: check GET /cluster/nodes"),
      },
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
      requestBody: rawBody("A forward envelope (src/ledger/forward.ts): the forwarding and receiving node ids, each command's original caller and idempotency key, then the command list."),
      responses: { "200": jsonOk("One outcome per forwarded command: its receipts (replayed: true when an earlier command's), or its error.", "ProposeAnswer"), "400": errorResponse("invalid_request, invalid_key, key_too_large"), "413": errorResponse("payload_too_large, value_too_large"), "503": errorResponse("not_leader: this node is not the leader, or the forward is for another node; nothing was appended (Retry-After)") },
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
