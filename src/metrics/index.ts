/** @module metrics. The Prometheus registry of a node (GET /metrics/prometheus). */
export * from "./registry.ts";
