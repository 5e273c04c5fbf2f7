/**
 * @module openapi. The OpenAPI 3.1 description of the HTTP API, served as JSON at GET /openapi,
 * derived from the route table (src/http/routes.ts): every route is an operation whose
 * operationId is the route's id; its security, 401/403 and 429 answers follow from the route's
 * role and rate-limit flag. Handlers return raw Responses (values are raw bytes), so the bodies
 * are described by each entry's `doc`, not inferred from handler types.
 */

import { errorResponse, openApiPathOf, routeTable, type Route } from "./routes.ts";

type Json = Record<string, unknown>;

const keyParam: Json = {
  name: "key",
  in: "path",
  required: true,
  description: "The key, percent-encoded; 1..1024 bytes of UTF-8. Slashes are allowed under /kv/, /history/ and /verify/; a one-segment /{key} may not contain an encoded slash or be a reserved name.",
  schema: { type: "string" },
};

const roleWords: Record<Route["role"], string> = {
  none: "Open to everyone.",
  read: "Needs an API key with role read or higher.",
  write: "Needs an API key with role write or higher.",
  admin: "Needs an API key with role admin.",
  internal: "Node to node only: needs the X-Scribe-Cluster-Auth signature made with discovery.cluster_secret.",
};

function operation(route: Route): Json {
  const { doc } = route;
  const responses: Json = { ...doc.responses };
  if (route.role !== "none") {
    responses["401"] ??= errorResponse(route.role === "internal" ? "unauthorized, clock_skew, replayed: no valid cluster signature" : "unauthorized: no or unknown API key (when security.api_keys is set)");
    if (route.role !== "internal") responses["403"] ??= errorResponse("forbidden: the key's role is too low");
  }
  if (route.rateLimited) responses["429"] ??= errorResponse("rate_limited: too many requests (Retry-After)");
  responses["503"] ??= errorResponse("unavailable, no_leader, timeout or shutting_down (Retry-After)");
  const security = route.role === "none" ? [{}] : route.role === "internal" ? [{ clusterAuth: [] }] : [{ bearer: [] }, { apiKey: [] }];
  const out: Json = { operationId: route.id, summary: doc.summary, description: roleWords[route.role], "x-scribe-role": route.role, security, responses };
  if (doc.params) out.parameters = doc.params.map((p) => ({ required: false, ...p }));
  if (doc.requestBody) out.requestBody = doc.requestBody;
  return out;
}

/** The OpenAPI 3.1 document. */
export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of routeTable) {
    const path = openApiPathOf(route);
    const { pathParam } = route.doc;
    const parameters = pathParam ? [{ name: pathParam.name, in: "path", required: true, description: pathParam.description, schema: { type: "string" } }] : path.includes("{key}") ? [keyParam] : undefined;
    const item = (paths[path] ??= parameters ? { parameters } : {});
    item[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: { title: "Scribe Ledger", version: "0.1.0", description: "A verifiable, append-only key-value ledger. Every error body is {error, code}." },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API key (security.api_keys)." },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        clusterAuth: { type: "apiKey", in: "header", name: "X-Scribe-Cluster-Auth", description: "Node to node: an HMAC made with discovery.cluster_secret (docs/SECURITY.md)." },
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
            tree_size: { type: "integer", description: "The ledger size right after this write's command (its last index + 1)." },
            timestamp_ms: { type: "integer" },
          },
        },
      },
    },
    paths,
  };
}
