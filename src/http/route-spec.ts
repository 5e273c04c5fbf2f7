/**
 * @module route-spec. What an entry of the route table (src/http/routes.ts) is made of — its
 * method, path pattern, role, audit and rate-limit flags, request body schema and OpenAPI
 * operation — and the small builders the entries of src/http/routes-*.ts write their OpenAPI
 * responses and parameters with. Pure data and pure functions: no Elysia, no I/O.
 */

import type { RequestBodyName } from "./request-schemas.ts";
import type { ResponseSchemaName } from "./response-schemas.ts";

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

export type Json = Record<string, unknown>;

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
  /** A JSON body checked by this schema (src/http/request-schemas.ts) before the handler runs. */
  readonly body?: RequestBodyName;
  /** Takes a token from the caller's rate-limit bucket (when rate limits are on). */
  readonly rateLimited: boolean;
  readonly doc: RouteDoc;
}

// ---- OpenAPI building blocks ----------------------------------------------------------------

/** A reference to a schema of src/http/request-schemas.ts or response-schemas.ts (a component of the OpenAPI document). */
export const schemaRef = (name: ResponseSchemaName | RequestBodyName): Json => ({ $ref: `#/components/schemas/${name}` });
export const errorResponse = (description: string): Json => ({ description, content: { "application/json": { schema: schemaRef("Error") } } });
/** A JSON answer: every one names its schema. */
export const jsonOk = (description: string, schema: ResponseSchemaName, headers?: Json): Json => ({ description, ...(headers ? { headers } : {}), content: { "application/json": { schema: schemaRef(schema) } } });
export const text = (description: string): Json => ({ description, content: { "text/plain": { schema: { type: "string" } } } });
export const header = (description: string, schema: Json = { type: "string" }): Json => ({ description, schema });
export const query = (name: string, description: string, schema: Json = { type: "integer", minimum: 0 }, required = false): RouteParam => ({ name, in: "query", required, description, schema });
export const rawBody = (description: string): Json => ({ required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary", description } } } });
