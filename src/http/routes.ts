/**
 * @module routes. The route table: the single source of every HTTP route. Each entry names its
 * method, path pattern, the role a caller needs, whether it is audited and rate limited, and its
 * OpenAPI operation (the shape of an entry: src/http/route-spec.ts). The entries are written by
 * area — the node itself (routes-node.ts), proofs and checkpoints (routes-proofs.ts), entries,
 * the watch feed and tiles (routes-entries.ts), the cluster (routes-cluster.ts), keys and values
 * (routes-kv.ts) — and this file joins them into the one table. Everything else is derived from
 * it: the router registration and the guard (src/http/app.ts wraps each entry's handler, so the
 * route that runs is the route judged), the `Allow` header of a 405, the reserved key names, the
 * OpenAPI document (src/http/openapi.ts) and the role table of docs/SECURITY.md
 * (scripts/gen-security-docs.ts).
 *
 * Path patterns: literal segments, `:name` for one segment, and a trailing `*` for the rest of the
 * path (keys with slashes). Adding a route is adding an entry to its area's file and its handler
 * in src/http/handlers.ts (the handler map is typed by `RouteId`, so a missing handler does not
 * compile); the security suite (test/http/security-matrix.test.ts) asks for a sample request of
 * every entry.
 *
 * Request and response schemas: an entry with a JSON body names its schema (`body`, one of
 * src/http/request-schemas.ts's request bodies), which the router validates before the handler
 * runs; every JSON response names its schema (src/http/response-schemas.ts, a component of the
 * OpenAPI document), and so does each line of GET /watch's NDJSON. Each entry's responses are the
 * statuses its handler can answer; src/http/openapi.ts adds those of the guard and the request
 * target (400, 401, 403, 429, 503). Elysia parses and validates a body before a handler (and
 * before `transform` and `beforeHandle` hooks) could refuse the caller, so for these routes
 * src/http/app.ts runs the guard in the route's own parse hook, before the body is read: a
 * refused request is answered before any input is looked at, and changes nothing.
 *
 * Pure data and pure functions: no Elysia, no I/O, so scripts and tests can read the table alone.
 */

import type { RouteMethod, RouteSpec } from "./route-spec.ts";
import { clusterRoutes } from "./routes-cluster.ts";
import { entryRoutes } from "./routes-entries.ts";
import { keyValueRoutes } from "./routes-kv.ts";
import { nodeRoutes } from "./routes-node.ts";
import { proofRoutes } from "./routes-proofs.ts";

/**
 * Every route. Order matters only for readability; the router matches literal segments before
 * parameters, whatever the order of registration. The key routes (routes-kv.ts), whose `/:key`
 * and `/kv/*` are the catch-alls, come last.
 */
export const routes = [...nodeRoutes, ...proofRoutes, ...entryRoutes, ...clusterRoutes, ...keyValueRoutes] as const satisfies readonly RouteSpec[];

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
