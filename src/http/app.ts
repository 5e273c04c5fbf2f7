/**
 * @module app. The HTTP API as an Elysia app built by a factory, testable with
 * `app.handle(new Request(...))` without opening a port.
 *
 * Every route comes from the route table (src/http/routes.ts): each entry is registered with its
 * handler (src/http/handlers.ts) wrapped by the guard, so the route that runs is exactly the
 * route whose role was checked; audited routes write their record in the same wrapper. A route
 * with a JSON body schema (src/http/request-schemas.ts) is validated by the router before its
 * handler runs, so its guard runs earlier still, in the route's own parse hook, before the body
 * is read (`jsonBodyRoute`). Before routing, `routableRequest` makes sure the router sees the
 * request's real path (a short or missing Host used to move it into the query string). Errors
 * are `{error, code}` JSON.
 */

import type { ValueError } from "@sinclair/typebox/value";
import { Elysia } from "elysia";
import type { ClusterService, LedgerService } from "../ledger/index.ts";
import { assert, isScribeError, ScribeError } from "../lib/index.ts";
import { createPrometheusRegistry } from "../metrics/index.ts";
import { bodyFailure } from "./body-errors.ts";
import { proposeForwarded } from "./cluster-routes.ts";
import { forwardEnvelopeBytesMax, json, jsonBodyLimit, makeHandlers, type AppLimits, type Handler, type RouteCall } from "./handlers.ts";
import { parseJsonBody, readBody } from "./parse.ts";
import { RequestMetrics } from "./request-metrics.ts";
import { routableRequest, routerPathFrom } from "./request-target.ts";
import { allowedMethods, routeTable, type Route } from "./routes.ts";
import { requestBodies } from "./request-schemas.ts";
import { Guard, type Caller, type ClientOf, type SecurityOptions } from "./security.ts";

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

/** A route's handler as the router runs it. */
type RouteRun = (context: RouterContext) => Response | Promise<Response>;

/** The app's answer to an error, as its onError hook gives it (`code`: Elysia's code for it). */
type ErrorAnswer = (error: unknown, code: unknown, request: Request, path: string) => Response;

/**
 * A GET route's handler as the router runs it: without a promise when the handler answers at
 * once (a cached read), which Bun serves faster than a promise of the same answer.
 *
 * Elysia decides from a handler's source text whether to compile its route as async (it guesses
 * "async" for a function that returns the result of a call, as every guarded handler does) and
 * which parts of the context to build (`query` here). This handler tells it both through its
 * `toString`: sync, reading `request`, `params` and `query`. A route compiled as sync no longer
 * awaits the handler, so a promise the handler returns is settled here: its rejection gets the
 * answer onError would give it. test/http/direct-routes.test.ts checks that a cached GET is answered
 * without a promise and that an error after a promise still is the documented JSON.
 */
function syncGetRoute(run: RouteRun, answerError: ErrorAnswer) {
  const route = (context: RouterContext & { path: string }): Response | Promise<Response> => {
    const answer = run(context);
    if (!(answer instanceof Promise)) return answer;
    return answer.catch((error: unknown) => answerError(error, elysiaCode(error), context.request, context.path));
  };
  Object.defineProperty(route, "toString", { value: () => "({ request, params, query }) => answer" });
  return route;
}

/** The key routes under /kv/ whose requests skip the router (`directKeyRoutes`). */
const directRouteIds: ReadonlySet<string> = new Set(["kvGet", "kvPut", "kvDelete"]);

/**
 * The requests the router is not asked about: a key's read, write or delete under /kv/ with no
 * query (`GET`, `PUT`, `DELETE /kv/<key>`) goes straight to its route's guarded handler (about 0.9
 * µs of CPU less per cached read and 1 µs per write, docs/PERFORMANCE.md section 11). Elysia would
 * give it the same route (no other route of these methods is under /kv/: asserted here), the same
 * `*` parameter (the path after "/kv/", still percent-encoded) and an empty query, and onError's
 * answer to an error; test/http/direct-routes.test.ts compares the two answers. Undefined for any other
 * request: the router takes it.
 */
function directKeyRoutes(runs: ReadonlyMap<Route, RouteRun>, answerError: ErrorAnswer) {
  assert(runs.size === directRouteIds.size, `direct key routes: ${[...runs.keys()].map((r) => r.id).join(", ")}`);
  const byMethod = new Map<string, RouteRun>();
  const prefix = "/kv/";
  for (const [route, run] of runs) {
    assert(route.path === `${prefix}*` && !byMethod.has(route.method), `a direct key route is ${route.method} ${route.path}`);
    byMethod.set(route.method, run);
  }
  const others = routeTable.filter((r) => !runs.has(r) && byMethod.has(r.method) && r.path.startsWith(prefix));
  assert(others.length === 0, `routes under ${prefix} besides the key's: ${others.map((r) => `${r.method} ${r.path}`).join(", ")}`);
  const noQuery: RouterContext["query"] = Object.freeze(Object.create(null));
  // A request `routableRequest` passed unchanged: its path starts at the first "/" from `routerPathFrom`.
  return (request: Request): Response | Promise<Response> | undefined => {
    const run = byMethod.get(request.method);
    if (run === undefined) return undefined;
    const url = request.url;
    const pathFrom = url.indexOf("/", routerPathFrom);
    if (!url.startsWith(prefix, pathFrom) || url.includes("?", pathFrom)) return undefined;
    let answer: Response | Promise<Response>;
    try {
      answer = run({ request, params: { "*": url.substring(pathFrom + prefix.length) }, query: noQuery });
    } catch (error) {
      return answerError(error, elysiaCode(error), request, url.substring(pathFrom));
    }
    if (!(answer instanceof Promise)) return answer;
    return answer.catch((error: unknown) => answerError(error, elysiaCode(error), request, url.substring(pathFrom)));
  };
}

/** The code Elysia's compiled handler gives onError for an error it caught. */
function elysiaCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code ?? "UNKNOWN";
}

/** The record of a route that is not audited: nothing reads it, and nothing may write it. */
const unaudited: RouteCall["record"] = Object.freeze({});

/**
 * The handler the router runs for `route`: the guard judges the caller for this route (and
 * nothing else), then the handler runs; an audited route's record is written whatever the
 * outcome. Refusals happen before any body is read.
 */
function guarded(route: Route, handler: Handler, guard: Guard, clientOf: ClientOf): RouteRun {
  const action = route.audit === "forwarded" ? undefined : route.audit;
  if (action === undefined) {
    return ({ request, params, query }) => {
      const admission = guard.admit(route, request, clientOf);
      if (!admission.ok) return errorResponse(admission.error, admission.headers);
      return handler({ route, request, params, query, caller: admission.caller, record: unaudited });
    };
  }
  return ({ request, params, query }) => {
    const admission = guard.admit(route, request, clientOf);
    if (!admission.ok) return errorResponse(admission.error, admission.headers);
    const call: RouteCall = { route, request, params, query, caller: admission.caller, record: {} };
    // Settled with `then` rather than an async wrapper (as RequestMetrics.time): a promise and a frame fewer per write.
    const failed = (error: unknown): never => {
      const known = isScribeError(error);
      guard.audit(call.caller, action, call.record, { result: "error", status: known ? error.status : 500, code: known ? error.code : "internal" });
      throw error;
    };
    const audited = (response: Response): Response => {
      guard.audit(call.caller, action, call.record, { result: "ok", status: response.status });
      return response;
    };
    let answer: Response | Promise<Response>;
    try {
      answer = handler(call);
    } catch (error) {
      return failed(error);
    }
    return answer instanceof Promise ? answer.then(audited, failed) : audited(answer);
  };
}

/** A JSON-body request the guard admitted (in the route's parse hook), until its answer. */
interface Admitted {
  route: Route;
  caller: Caller;
  record: RouteCall["record"];
  /** Its audit record was written (by the handler's wrapper); onError must not write another. */
  audited: boolean;
  /** When its work began (after admission): a batch's latency includes reading and checking its body. */
  startedMs: number;
}

interface JsonBodyRouting {
  guard: Guard;
  metrics: RequestMetrics;
  clientOf: ClientOf;
  limits: AppLimits;
  /** Requests admitted by a parse hook, for their handler and for onError. */
  admitted: WeakMap<Request, Admitted>;
  /** Extra headers of a guard refusal thrown from a parse hook (WWW-Authenticate, Retry-After). */
  refusalHeaders: WeakMap<ScribeError, Record<string, string>>;
}

/**
 * A route with a JSON body schema. Elysia parses and validates a body before any `transform` or
 * `beforeHandle` hook, so the guard runs in the route's parse hook: the caller is admitted (or
 * refused) before a byte of the body is read; then the body is read within the route's limit,
 * checked against a node-to-node signature, parsed as JSON, and handed to the router, which
 * validates it against the route's schema before the handler runs. Anything thrown there reaches
 * onError (as Elysia's PARSE or VALIDATION error), which answers `{error, code}` and writes the
 * audit record of an admitted request. Refused requests change nothing: nothing runs past them.
 */
function jsonBodyRoute(route: Route, handler: Handler, routing: JsonBodyRouting) {
  const { guard, clientOf, limits, admitted, refusalHeaders } = routing;
  const { bytesMax, code, what } = jsonBodyLimit(route, limits);
  const parse = async ({ request }: { request: Request }): Promise<unknown> => {
    const admission = guard.admit(route, request, clientOf);
    if (!admission.ok) {
      refusalHeaders.set(admission.error, admission.headers);
      throw admission.error;
    }
    const entry: Admitted = { route, caller: admission.caller, record: {}, audited: false, startedMs: performance.now() };
    admitted.set(request, entry);
    const bytes = await readBody(request, bytesMax, code, what);
    guard.checkBody(entry.caller, bytes);
    const body = parseJsonBody(bytes, what);
    // For the audit record of a membership change, even one its schema refuses.
    const nodeId = (body as { node_id?: unknown } | null)?.node_id;
    if (route.audit === "node_add" || route.audit === "node_remove") entry.record.node_id = typeof nodeId === "number" ? nodeId : undefined;
    return body;
  };
  const action = route.audit === "forwarded" ? undefined : route.audit;
  const run = async ({ request, params, query, body }: RouterContext & { body: unknown }): Promise<Response> => {
    const entry = admitted.get(request)!;
    const call: RouteCall = { route, request, params, query, caller: entry.caller, record: entry.record, body, startedMs: entry.startedMs };
    if (action === undefined) return handler(call);
    try {
      const response = await handler(call);
      entry.audited = true;
      guard.audit(call.caller, action, call.record, { result: "ok", status: response.status });
      return response;
    } catch (error) {
      entry.audited = true;
      const known = isScribeError(error);
      guard.audit(call.caller, action, call.record, { result: "error", status: known ? error.status : 500, code: known ? error.code : "internal" });
      throw error;
    }
  };
  return { run, hook: { parse: [parse], body: requestBodies[route.body!](limits) } };
}

/**
 * The ScribeError behind an error of a JSON-body route's parse hook (Elysia wraps whatever it
 * throws in a PARSE error) or of its schema check (VALIDATION); undefined for any other error.
 */
function jsonBodyError(error: unknown, code: unknown, request: Request, routing: JsonBodyRouting): ScribeError | undefined {
  if (code === "PARSE" && isScribeError((error as { cause?: unknown }).cause)) return (error as { cause: ScribeError }).cause;
  const entry = routing.admitted.get(request);
  if (code !== "VALIDATION" || !entry?.route.body) return undefined;
  const failed = error as { valueError?: ValueError; value?: unknown };
  return bodyFailure(entry.route.body, failed.valueError, failed.value, routing.limits);
}

/**
 * An admitted JSON-body request that failed before its handler: its audit record, and for a batch
 * its request count (a batch refused for its body is a batch request that failed, as before).
 */
function recordEarlyFailure(request: Request, failure: ScribeError, routing: JsonBodyRouting): void {
  const entry = routing.admitted.get(request);
  if (entry?.route.id === "batch" && !entry.audited) routing.metrics.record("batch", entry.startedMs, failure.status < 500);
  const action = entry?.route.audit;
  if (!entry || entry.audited || action === undefined || action === "forwarded") return;
  entry.audited = true;
  routing.guard.audit(entry.caller, action, entry.record, { result: "error", status: failure.status, code: failure.code });
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

  const routing: JsonBodyRouting = { guard, metrics, clientOf, limits, admitted: new WeakMap(), refusalHeaders: new WeakMap() };

  const answerError: ErrorAnswer = (error, code, request, path) => {
    const bodyError = jsonBodyError(error, code, request, routing);
    if (bodyError) {
      recordEarlyFailure(request, bodyError, routing);
      return errorResponse(bodyError, routing.refusalHeaders.get(bodyError) ?? {});
    }
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
  };
  // normalize: false: a body field its schema does not know is refused, never silently dropped.
  const app = new Elysia({ normalize: false }).onError(({ error, code, request, path }) => answerError(error, code, request, path));
  const direct = new Map<Route, RouteRun>();
  for (const route of routeTable) {
    if (route.body) {
      const { run, hook } = jsonBodyRoute(route, handlers[route.id], routing);
      app.route(route.method, route.path, run, hook);
      continue;
    }
    const run = guarded(route, handlers[route.id], guard, clientOf);
    if (directRouteIds.has(route.id)) direct.set(route, run);
    // A GET has no body to parse (and a parse hook would make Elysia compile the route as async).
    if (route.method === "GET") app.route(route.method, route.path, syncGetRoute(run, answerError));
    // parse "none": handlers read (and bound) bodies themselves, after the guard.
    else app.route(route.method, route.path, run, { parse: "none" });
  }

  const keyRoute = directKeyRoutes(direct, answerError);
  const routed = app.fetch;
  const fetch = (request: Request): Response | Promise<Response> => {
    const routable = routableRequest(request);
    if (routable === request) return keyRoute(request) ?? routed(request);
    if (routable instanceof ScribeError) return errorResponse(routable);
    originals.set(routable, request);
    return routed(routable);
  };
  Object.defineProperty(app, "fetch", { value: fetch, configurable: true, writable: true });
  /** A group forwarded over the Raft transport by the authenticated peer `from`: as POST /cluster/propose (validated, proposed, audited). */
  const forwarded = async (from: number, body: Uint8Array) => {
    const bytesMax = forwardEnvelopeBytesMax(limits);
    if (body.length > bytesMax) throw new ScribeError("payload_too_large", `the forward envelope is ${body.length} bytes; the most is ${bytesMax}`);
    return proposeForwarded({ cluster, service, guard, body, valueBytesMax: limits.valueBytesMax, sender: from });
  };
  return Object.assign(app, { requestMetrics: metrics, prometheus, guard, forwarded, handle: async (request: Request) => fetch(request) });
}

export type ScribeApp = ReturnType<typeof createApp>;
