/**
 * @module routes-node. The route table's entries for the node itself: its description (GET /),
 * the liveness and readiness probes, its metrics (JSON and Prometheus), and the OpenAPI document.
 * The table is assembled in src/http/routes.ts.
 */

import { jsonOk, text, type RouteSpec } from "./route-spec.ts";

export const nodeRoutes = [
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
] as const satisfies readonly RouteSpec[];
