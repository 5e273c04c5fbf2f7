/**
 * @module routes-kv. The route table's entries for keys and their values: atomic batches, a key's
 * history, the key listing, and a key's read, put and delete under /kv/* (any key) and as a
 * one-segment /:key (not a reserved name). The key routes come last in the table: they are its
 * parameterized catch-alls. The table is assembled in src/http/routes.ts.
 */

import { keysLimitDefault, keysLimitMax } from "./keys.ts";
import { errorResponse, header, jsonOk, query, type Json, type RouteDoc, type RouteParam, type RouteSpec } from "./route-spec.ts";

/** The answer header of a write whose receipts are an earlier write's (README, "Unknown outcomes and retries"). */
const replayedHeader: Json = {
  "Idempotent-Replayed": header("`true` when the receipts are those of an earlier write with the same Idempotency-Key, whose request was the same: nothing was appended. Absent otherwise.", { type: "string", enum: ["true"] }),
};
const receipt = jsonOk("Receipt once durable; with the header Idempotent-Replayed: true it is the receipt of an earlier write with the same Idempotency-Key (nothing was appended).", "Receipt", replayedHeader);

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

export const keyValueRoutes = [
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
      params: [
        query("from_version", "First version to list."),
        query("limit", "Most versions (1..10000)."),
        query("consistency", "linearizable (default) or stale.", { type: "string", enum: ["linearizable", "stale"] }),
      ],
      responses: {
        "200": jsonOk("The key's versions in order.", "History"),
        "400": errorResponse("invalid_key, invalid_version, invalid_request"),
        "404": errorResponse("not_found"),
        "503": errorResponse("no_leader, not_leader, timeout, unavailable, shutting_down: a linearizable read could not be confirmed; read with consistency=stale (Retry-After)"),
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
  { id: "kvGet", method: "GET", path: "/kv/*", role: "read", rateLimited: true, doc: kvDocs.get },
  { id: "kvPut", method: "PUT", path: "/kv/*", role: "write", audit: "put", rateLimited: true, doc: kvDocs.put },
  { id: "kvDelete", method: "DELETE", path: "/kv/*", role: "write", audit: "delete", rateLimited: true, doc: kvDocs.delete },
  { id: "keyGet", method: "GET", path: "/:key", role: "read", rateLimited: true, doc: segmentDocs.get },
  { id: "keyPut", method: "PUT", path: "/:key", role: "write", audit: "put", rateLimited: true, doc: segmentDocs.put },
  { id: "keyDelete", method: "DELETE", path: "/:key", role: "write", audit: "delete", rateLimited: true, doc: segmentDocs.delete },
] as const satisfies readonly RouteSpec[];
