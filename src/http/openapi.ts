/**
 * @module openapi. The OpenAPI 3.1 description of the HTTP API, served as JSON at GET /openapi,
 * derived from the route table (src/http/routes.ts): every route is an operation whose
 * operationId is the route's id; its responses are the statuses its handler answers (the table's)
 * and the guard's refusals, which follow from the route's role and rate-limit flag (401, 403,
 * 429, and the 401 / 503 of a node-to-node signature any route may be sent). Request and response
 * bodies are the TypeBox schemas of src/http/request-schemas.ts and response-schemas.ts — the
 * same request schemas the router validates with — as `components.schemas`: a schema used inside
 * another becomes a `$ref`.
 * `redocly lint` passes on it with the rules of redocly.yaml (test/http/openapi-lint.test.ts).
 */

import { schema as configSchema } from "../config/index.ts";
import { errorResponse, schemaRef } from "./route-spec.ts";
import { openApiPathOf, routeTable, type Route } from "./routes.ts";
import { requestBodies, type SchemaLimits } from "./request-schemas.ts";
import { responseSchemas } from "./response-schemas.ts";

type Json = Record<string, unknown>;

/** The limits of a default configuration (the document a running node serves uses its own). */
export const defaultSchemaLimits: SchemaLimits = {
  batchOpsMax: Math.min(configSchema.storage.max_batch_ops.default, configSchema.api.max_batch_size.default),
};

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

/**
 * Adds a refusal of the guard (or of the request target) to `responses`: its own error answer, or
 * its words appended to the route's answer of that status. A status the route answers with
 * another JSON body (GET /health's 503) may then carry either (anyOf).
 */
function addRefusal(responses: Record<string, Json>, status: string, why: string): void {
  const existing = responses[status];
  if (!existing) {
    responses[status] = errorResponse(why);
    return;
  }
  const content = existing.content as Record<string, { schema?: Json }> | undefined;
  const schema = content?.["application/json"]?.schema;
  const merged: Json = { ...existing, description: `${(existing.description as string).replace(/\.$/, "")}; ${why}` };
  if (schema && schema.$ref !== schemaRef("Error").$ref) merged.content = { ...content, "application/json": { schema: { anyOf: [schema, schemaRef("Error")] } } };
  responses[status] = merged;
}

const keyRefusal = "unauthorized: no or unknown API key (when security.api_keys is set); clock_skew, replayed: a failing X-Scribe-Cluster-Auth signature";
const unauthorizedWords: Record<Route["role"], string> = {
  none: "unauthorized, clock_skew, replayed: only for a request carrying an X-Scribe-Cluster-Auth signature that fails (a request that claims to come from a node must prove it)",
  read: keyRefusal,
  write: keyRefusal,
  admin: keyRefusal,
  internal: "unauthorized, clock_skew, replayed: no valid cluster signature (or a body other than the one it covers)",
};

/** Statuses whose answers carry Retry-After (src/http/app.ts errorResponse; /health and /ready set it too). */
const retryAfterStatuses = new Set(["429", "503", "504", "507"]);
const retryAfterHeader: Json = { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 0 } };

/** A route's responses: its own (the statuses its handler answers) and those of the guard and the request target. */
function responsesOf(route: Route): Record<string, Json> {
  const responses: Record<string, Json> = { ...route.doc.responses };
  // Any request whose target cannot be routed safely (a short Host, a fragment) is refused first.
  addRefusal(responses, "400", "invalid_request: a malformed request target (Host, fragment)");
  // The guard judges a cluster signature on any route that carries one, then the route's role.
  addRefusal(responses, "401", unauthorizedWords[route.role]);
  if (route.role === "internal") addRefusal(responses, "403", "forbidden: an API key is not a node; only the cluster signature admits");
  else if (route.role !== "none") addRefusal(responses, "403", "forbidden: the key's role is too low");
  if (route.rateLimited) addRefusal(responses, "429", "rate_limited: too many requests (Retry-After)");
  addRefusal(responses, "503", `unavailable: ${route.role === "internal" ? "" : "only for a request carrying X-Scribe-Cluster-Auth: "}more node-to-node calls within the signature window than the node remembers`);
  for (const status of retryAfterStatuses) {
    const response = responses[status];
    if (response) responses[status] = { ...response, headers: { ...(response.headers as Json | undefined), "Retry-After": retryAfterHeader } };
  }
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

function operation(route: Route): Json {
  const { doc } = route;
  const security = route.role === "none" ? [{}] : route.role === "internal" ? [{ clusterAuth: [] }] : [{ bearer: [] }, { apiKey: [] }];
  const out: Json = { operationId: route.id, summary: doc.summary, description: roleWords[route.role], "x-scribe-role": route.role, security, responses: responsesOf(route) };
  if (doc.params) out.parameters = doc.params.map((p) => ({ required: false, ...p }));
  if (route.body) out.requestBody = { required: true, content: { "application/json": { schema: schemaRef(route.body) } } };
  else if (doc.requestBody) out.requestBody = doc.requestBody;
  return out;
}

/**
 * A TypeBox schema as plain JSON Schema (TypeBox's symbol keys dropped); a schema that is itself
 * a named component, met inside another, becomes a `$ref` to it.
 */
function schemaJson(value: unknown, names: ReadonlyMap<object, string>, root: object): unknown {
  if (Array.isArray(value)) return value.map((item) => schemaJson(item, names, root));
  if (typeof value !== "object" || value === null) return value;
  const name = names.get(value);
  if (name !== undefined && value !== root) return schemaRef(name as Parameters<typeof schemaRef>[0]);
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) out[key] = schemaJson(item, names, root);
  return out;
}

/** The components' schemas: every response body (src/http/response-schemas.ts) and request body (src/http/request-schemas.ts). */
function componentSchemas(limits: SchemaLimits): Record<string, unknown> {
  const named: [string, object][] = [...Object.entries(responseSchemas), ...Object.entries(requestBodies).map(([name, make]) => [name, make(limits)] as [string, object])];
  const names = new Map(named.map(([name, schema]) => [schema, name]));
  return Object.fromEntries(named.map(([name, schema]) => [name, schemaJson(schema, names, schema)]));
}

/** The OpenAPI 3.1 document; `limits` are the serving node's (default: a default configuration's). */
export function openApiDocument(limits: SchemaLimits = defaultSchemaLimits): Json {
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
    info: {
      title: "Scribe Ledger",
      version: "0.1.0",
      description: "A verifiable, append-only key-value ledger. Every error body is {error, code}.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [
      {
        url: "{scheme}://{host}:{port}",
        description: "A Scribe node (any member of a cluster: writes to a follower are forwarded to the leader).",
        variables: {
          scheme: { enum: ["http", "https"], default: "http", description: "https when security.tls_cert is set." },
          host: { default: "127.0.0.1", description: "node.address" },
          port: { default: "8001", description: "network.client_port" },
        },
      },
    ],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API key (security.api_keys)." },
        apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        clusterAuth: { type: "apiKey", in: "header", name: "X-Scribe-Cluster-Auth", description: "Node to node: an HMAC made with discovery.cluster_secret (docs/SECURITY.md)." },
      },
      schemas: componentSchemas(limits),
    },
    paths,
  };
}
