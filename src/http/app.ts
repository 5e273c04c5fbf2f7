/**
 * @module app. The HTTP API as an Elysia app built by a factory, testable with
 * `app.handle(new Request(...))` without opening a port.
 *
 * Every route comes from the route table (src/http/routes.ts): each entry is registered with its
 * handler (src/http/handlers.ts) wrapped by the guard, so the route that runs is exactly the
 * route whose role was checked; audited routes write their record in the same wrapper. Before
 * routing, `routableRequest` makes sure the router sees the request's real path (a short or
 * missing Host used to move it into the query string). Errors are `{error, code}` JSON.
 */

import { Elysia } from "elysia";
import type { ClusterService, LedgerService } from "../ledger/index.ts";
import { isScribeError, ScribeError } from "../lib/index.ts";
import { createPrometheusRegistry } from "../metrics/index.ts";
import { json, makeHandlers, type AppLimits, type Handler, type RouteCall } from "./handlers.ts";
import { RequestMetrics } from "./request-metrics.ts";
import { routableRequest } from "./request-target.ts";
import { allowedMethods, routeTable, type Route } from "./routes.ts";
import { Guard, type ClientOf, type SecurityOptions } from "./security.ts";

export { entryJson, json, type AppLimits, type RouteCall } from "./handlers.ts";

export interface AppOptions {
  service: LedgerService;
  /** Membership and node-to-node calls; absent on a node that does not run Raft. */
  cluster?: ClusterService;
  limits: AppLimits;
  /** Called with every error that is not a ScribeError (a bug or a broken invariant). */
  onInternalError?: (error: unknown, request: Request) => void;
  /** API keys, the cluster secret, rate limits and the audit sink; absent: auth and limits off. */
  security?: SecurityOptions;
  /** The client's IP address (Bun's server.requestIP), for rate limits and the audit log. */
  clientAddress?: (request: Request) => string | undefined;
}

export function errorResponse(error: ScribeError, headers: Record<string, string> = {}): Response {
  const extra: Record<string, string> = { ...headers };
  // 504 outcome_unknown too: its retry (with the same Idempotency-Key) is how a client learns the outcome.
  if (error.status === 503 || error.status === 429 || error.status === 504 || error.status === 507) extra["retry-after"] ??= "1";
  // The body may be unread (refused by its declared length): close rather than drain it.
  if (error.status === 413) extra.connection = "close";
  return json(error.toJSON(), error.status, extra);
}

/** True for SQLite's "database or disk is full" (SQLITE_FULL), thrown by a write outside the Ready loop. */
function sqliteFull(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "SQLITE_FULL";
}

/** A 405 naming the methods the path accepts, from the route table. */
function methodNotAllowed(method: string, path: string, allowed: readonly string[]): Response {
  const list = allowed.join(", ");
  return errorResponse(new ScribeError("method_not_allowed", `${method} is not allowed on ${path}; allowed: ${list}`), { allow: list });
}

/** A path percent-decoded for the Allow lookup (`PUT /%68ealth` names the health route). */
function decodedPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

interface RouterContext {
  request: Request;
  params: Record<string, string | null | undefined>;
  query: Record<string, string | undefined>;
}

/**
 * The handler the router runs for `route`: the guard judges the caller for this route (and
 * nothing else), then the handler runs; an audited route's record is written whatever the
 * outcome. Refusals happen before any body is read.
 */
function guarded(route: Route, handler: Handler, guard: Guard, clientOf: ClientOf): (context: RouterContext) => Response | Promise<Response> {
  const action = route.audit === "forwarded" ? undefined : route.audit;
  if (action === undefined) {
    return ({ request, params, query }) => {
      const admission = guard.admit(route, request, clientOf);
      if (!admission.ok) return errorResponse(admission.error, admission.headers);
      return handler({ route, request, params, query, caller: admission.caller, record: {} });
    };
  }
  return async ({ request, params, query }) => {
    const admission = guard.admit(route, request, clientOf);
    if (!admission.ok) return errorResponse(admission.error, admission.headers);
    const call: RouteCall = { route, request, params, query, caller: admission.caller, record: {} };
    try {
      const response = await handler(call);
      guard.audit(call.caller, { action, ...call.record, result: "ok", status: response.status });
      return response;
    } catch (error) {
      const known = isScribeError(error);
      guard.audit(call.caller, { action, ...call.record, result: "error", status: known ? error.status : 500, code: known ? error.code : "internal" });
      throw error;
    }
  };
}

/** Builds the Elysia app serving `service`. */
export function createApp(options: AppOptions) {
  const { service, limits, cluster } = options;
  const metrics = new RequestMetrics();
  const guard = new Guard(options.security ?? { apiKeys: [], clusterSecret: "", rateLimitPerSec: 0, rateLimitBurst: 1 });
  const prometheus = createPrometheusRegistry(service, metrics);
  const handlers = makeHandlers({ service, cluster, limits, metrics, prometheus, guard });
  // A rebuilt request (see routableRequest) has no socket: its client is the original's.
  const originals = new WeakMap<Request, Request>();
  const clientOf: ClientOf = (request) => options.clientAddress?.(originals.get(request) ?? request) ?? "local";

  const app = new Elysia().onError(({ error, code, request, path }) => {
    if (isScribeError(error)) {
      const allowed = error.code === "method_not_allowed" ? allowedMethods(decodedPath(path)) : [];
      return errorResponse(error, allowed.length > 0 ? { allow: allowed.join(", ") } : {});
    }
    if (code === "NOT_FOUND") {
      if ((request.method === "PUT" || request.method === "DELETE") && path === "/") {
        return errorResponse(new ScribeError("invalid_key", "the key is empty; keys are 1..1024 bytes of UTF-8"));
      }
      const allowed = allowedMethods(path);
      if (allowed.length > 0) return methodNotAllowed(request.method, path, allowed);
      return errorResponse(new ScribeError("no_route", `no route for ${request.method} ${path}; keys with slashes go under /kv/`));
    }
    if (code === "PARSE") return errorResponse(new ScribeError("invalid_request", "the request body could not be parsed"));
    // A write SQLite refused for lack of space (e.g. signing a checkpoint on a full disk): a state, not a bug.
    if (sqliteFull(error)) return errorResponse(new ScribeError("insufficient_storage", `the node's disk is full: ${(error as Error).message}`));
    options.onInternalError?.(error, request);
    return errorResponse(new ScribeError("internal", "internal error"));
  });
  for (const route of routeTable) {
    // parse "none": handlers read (and bound) bodies themselves, after the guard.
    app.route(route.method, route.path, guarded(route, handlers[route.id], guard, clientOf), { parse: "none" });
  }

  const routed = app.fetch;
  const fetch = (request: Request): Response | Promise<Response> => {
    const routable = routableRequest(request);
    if (routable === request) return routed(request);
    if (routable instanceof ScribeError) return errorResponse(routable);
    originals.set(routable, request);
    return routed(routable);
  };
  Object.defineProperty(app, "fetch", { value: fetch, configurable: true, writable: true });
  return Object.assign(app, { requestMetrics: metrics, prometheus, guard, handle: async (request: Request) => fetch(request) });
}

export type ScribeApp = ReturnType<typeof createApp>;
