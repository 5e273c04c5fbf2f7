/**
 * @module openapi. The OpenAPI 3.1 description of the HTTP API, served as JSON at GET /openapi.
 * Written by hand because every handler returns a raw Response (values are raw bytes, not JSON);
 * test/http/openapi.test.ts checks it against the app's real routes both ways.
 */

import { keysLimitDefault, keysLimitMax } from "./keys.ts";

type Json = Record<string, unknown>;

const error = (description: string): Json => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
const jsonOk = (description: string, schema: Json = { type: "object" }): Json => ({ description, content: { "application/json": { schema } } });
const text = (description: string): Json => ({ description, content: { "text/plain": { schema: { type: "string" } } } });
const query = (name: string, description: string, schema: Json = { type: "integer", minimum: 0 }, required = false): Json => ({ name, in: "query", required, description, schema });
const keyParam: Json = { name: "key", in: "path", required: true, description: "The key, percent-encoded; 1..1024 bytes of UTF-8 (slashes allowed under /kv/ and /history/, /verify/).", schema: { type: "string" } };

const commonErrors: Json = {
  "401": error("unauthorized: no or unknown API key (when security.api_keys is set)"),
  "403": error("forbidden: the key's role is too low"),
  "429": error("rate_limited: too many requests (Retry-After)"),
  "503": error("unavailable, no_leader, timeout or shutting_down (Retry-After)"),
};

function op(summary: string, responses: Json, extra: Json = {}): Json {
  return { summary, responses: { ...responses, ...commonErrors }, ...extra };
}

function keyOperations(where: string): Json {
  return {
    parameters: [keyParam],
    get: op(`Read a key's value (${where})`, {
      "200": { description: "The raw value with its stored content type; headers X-Scribe-Index, X-Scribe-Version, X-Scribe-Value-Hash, ETag.", content: { "*/*": { schema: { type: "string", format: "binary" } } } },
      "400": error("invalid_key, invalid_version, invalid_index, invalid_request"),
      "404": error("not_found, deleted, version_not_found"),
      "500": error("corrupt_value, corrupt_entry: the stored value or entry fails its check (SHA-256, Merkle leaf) and is not served"),
    }, {
      parameters: [
        query("version", "Read this version (1-based)."),
        query("at", "Read the key as of this ledger index."),
        query("consistency", "linearizable (default) or stale.", { type: "string", enum: ["linearizable", "stale"] }),
      ],
    }),
    put: op(`Append a put of the raw body (${where})`, {
      "200": jsonOk("Receipt once durable.", { $ref: "#/components/schemas/Receipt" }),
      "400": error("invalid_key, invalid_request"),
      "412": error("precondition_failed (If-Match / If-None-Match)"),
      "413": error("value_too_large"),
    }, {
      parameters: [
        { name: "If-Match", in: "header", required: false, description: "Expected current version.", schema: { type: "string" } },
        { name: "If-None-Match", in: "header", required: false, description: "`*`: only if the key has no live value.", schema: { type: "string" } },
      ],
      requestBody: { required: false, content: { "*/*": { schema: { type: "string", format: "binary" } } } },
    }),
    delete: op(`Append a tombstone (${where})`, {
      "200": jsonOk("Receipt once durable.", { $ref: "#/components/schemas/Receipt" }),
      "404": error("not_found, deleted"),
      "412": error("precondition_failed"),
    }),
  };
}

/** The OpenAPI 3.1 document. */
export function openApiDocument(): Json {
  return {
    openapi: "3.1.0",
    info: { title: "Scribe Ledger", version: "0.1.0", description: "A verifiable, append-only key-value ledger. Every error body is {error, code}." },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API key (security.api_keys)." },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      },
      schemas: {
        Error: { type: "object", required: ["error", "code"], properties: { error: { type: "string" }, code: { type: "string" } } },
        Receipt: {
          type: "object",
          required: ["key", "op", "index", "version", "leaf_hash", "tree_size", "timestamp_ms"],
          properties: {
            key: { type: "string" },
            op: { type: "string", enum: ["put", "delete"] },
            index: { type: "integer" },
            version: { type: "integer" },
            leaf_hash: { type: "string" },
            tree_size: { type: "integer" },
            timestamp_ms: { type: "integer" },
          },
        },
      },
    },
    security: [{}, { bearer: [] }, { apiKey: [] }],
    paths: {
      "/": { get: op("Service name, node id and ledger size", { "200": jsonOk("Service description.") }) },
      "/health": { get: { summary: "Liveness and readiness (never needs a key)", security: [{}], responses: { "200": jsonOk("status ok"), "503": jsonOk("status unavailable") } } },
      "/metrics": { get: op("Node state and counters as JSON", { "200": jsonOk("Raft state, request counters, storage, caches.") }) },
      "/metrics/prometheus": { get: op("Prometheus text exposition", { "200": text("Prometheus text format 0.0.4.") }) },
      "/openapi": { get: op("This document", { "200": jsonOk("OpenAPI 3.1.") }) },
      "/batch": {
        post: op("Append many operations atomically at consecutive indexes", {
          "200": jsonOk("{first_index, last_index, tree_size, receipts}"),
          "400": error("invalid_json, invalid_request, invalid_key, invalid_value"),
          "412": error("precondition_failed"),
          "413": error("batch_too_large"),
        }, { requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["ops"], properties: { ops: { type: "array", items: { type: "object" } } } } } } } }),
      },
      "/history/{key}": {
        parameters: [keyParam],
        get: op("Every version of a key", { "200": jsonOk("{key, versions}"), "400": error("invalid_key, invalid_version, invalid_request") }, {
          parameters: [query("from_version", "First version to list."), query("limit", "Most versions (1..10000).")],
        }),
      },
      "/verify/{key}": {
        parameters: [keyParam],
        get: op("Inclusion proof of a key's entry against the latest signed checkpoint", { "200": jsonOk("{key, verified, proof, entry, checkpoint, error}"), "404": error("not_found, version_not_found") }, {
          parameters: [query("version", "Prove this version.")],
        }),
      },
      "/checkpoint": { get: op("The latest signed checkpoint (C2SP signed note)", { "200": text("Signed note.") }) },
      "/checkpoint/key": { get: op("The checkpoint verifier key", { "200": text("name+hash+base64 key") }) },
      "/proof/inclusion": {
        get: op("RFC 9162 inclusion proof", { "200": jsonOk("Proof."), "400": error("invalid_index, invalid_range") }, {
          parameters: [query("index", "Leaf index.", { type: "integer", minimum: 0 }, true), query("tree_size", "Tree size (default: the latest checkpoint's).")],
        }),
      },
      "/proof/consistency": {
        get: op("RFC 9162 consistency proof", { "200": jsonOk("Proof."), "400": error("invalid_range") }, {
          parameters: [query("from", "Older tree size.", { type: "integer", minimum: 0 }, true), query("to", "Newer tree size (default: the latest checkpoint's).")],
        }),
      },
      "/entries": {
        get: op("A range of ledger entries in index order", { "200": jsonOk("{from, tree_size, entries}"), "400": error("invalid_range") }, {
          parameters: [query("from", "First index."), query("limit", "Most entries (1..10000)."), query("values", "true: include values as value_base64; a value the node cannot hand out is null, with value_error: its code (corrupt_value, corrupt_entry, unavailable).", { type: "string", enum: ["true", "false"] })],
        }),
      },
      "/keys": {
        get: op("Keys in UTF-8 byte order with their latest index, version and deleted flag, a page at a time", {
          "200": jsonOk("{keys: [{key, index, version, deleted}], next, ledger_size}; pass `next` as `after` for the following page (null on the last).", {
            type: "object",
            required: ["keys", "next", "ledger_size"],
            properties: {
              keys: { type: "array", items: { type: "object", required: ["key", "index", "version", "deleted"], properties: { key: { type: "string" }, index: { type: "integer" }, version: { type: "integer" }, deleted: { type: "boolean" } } } },
              next: { type: ["string", "null"] },
              ledger_size: { type: "integer" },
            },
          }),
          "400": error("invalid_request (prefix, after, consistency), invalid_range (limit)"),
        }, {
          parameters: [
            query("prefix", "Only keys starting with this text.", { type: "string" }),
            query("after", "Only keys after this one in byte order (the previous page's `next`).", { type: "string" }),
            query("limit", `Most keys (1..${keysLimitMax}, default ${keysLimitDefault}).`, { type: "integer", minimum: 1, maximum: keysLimitMax }),
            query("consistency", "linearizable (default) or stale.", { type: "string", enum: ["linearizable", "stale"] }),
          ],
        }),
      },
      "/cluster/info": { get: op("This node's Raft state", { "200": jsonOk("Node status.") }) },
      "/cluster/nodes": { get: op("Members and their progress", { "200": jsonOk("{leader_id, nodes}") }) },
      "/cluster/leader/info": { get: op("The current leader", { "200": jsonOk("{leader_id, address, client, term, is_self}") }) },
      "/cluster/read-index": { get: op("Leader only: a linearizable read index (node-to-node)", { "200": jsonOk("{read_index}"), "400": error("invalid_request") }) },
      "/cluster/ledger-size": { get: op("Ledger size at an applied Raft index (node-to-node catch-up)", { "200": jsonOk("{raft_index, ledger_size}"), "400": error("invalid_range") }, { parameters: [query("raft_index", "Applied Raft index.", { type: "integer", minimum: 0 }, true)] }) },
      "/cluster/nodes/add": {
        post: op("Add a node (learner, then voter); admin", { "200": jsonOk("Membership and address book."), "400": error("invalid_json, invalid_request"), "409": error("conflict") }, {
          requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["node_id", "address"], properties: { node_id: { type: "integer" }, address: { type: "string" }, client: { type: "string" } } } } } },
        }),
      },
      "/cluster/propose": {
        post: op("Leader only: propose commands forwarded by a follower, each on its own (node-to-node, cluster HMAC)", { "200": jsonOk("{outcomes: [{receipts} | {error, code}]}"), "400": error("invalid_request"), "503": error("not_leader") }, {
          requestBody: { required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary", description: "A command list: u32 count, then each command (src/ledger/command.ts) u32-length-prefixed." } } } },
        }),
      },
      "/cluster/nodes/remove": {
        post: op("Remove a node; admin", { "200": jsonOk("Membership."), "400": error("invalid_json, invalid_request") }, {
          requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["node_id"], properties: { node_id: { type: "integer" } } } } } },
        }),
      },
      "/kv/{key}": keyOperations("any key, slashes allowed"),
      "/{key}": keyOperations("one path segment, not a reserved name"),
    },
  };
}
