/** @module http. The Elysia app factory, its routes, guard and error mapping (the service it serves is ledger/'s LedgerService). */
export * from "./app.ts";
export { Guard, type ApiKeySpec, type Principal, type SecurityOptions } from "./security.ts";
// Kept for callers of the old paths (tests): the audit record and the forward envelope are
// defined in ledger/ (service.ts, forward.ts), the node-to-node signature in transport/.
export { encodeForward, decodeForward, type AuditRecord, type ForwardedCommand, type ForwardEnvelope } from "../ledger/index.ts";
export { bodySha256, clusterAuthHeader, clusterAuthSkewMsMax, clusterAuthValue, clusterBodyHashHeader } from "../transport/index.ts";
export { routeTable, reservedNames, allowedMethods, type Route, type RouteId } from "./routes.ts";
export type { RouteRole } from "./route-spec.ts";
export { openApiDocument } from "./openapi.ts";
export { watchContentType, watchQueueBytesMax, watchPageBytesMax, checkpointIntervalMs as watchCheckpointIntervalMs } from "./watch.ts";
