/** @module http. The Elysia app factory, its routes, guard and error mapping (the service it serves is ledger/'s LedgerService). */
export * from "./app.ts";
export { bodySha256, clusterAuthHeader, clusterAuthSkewMsMax, clusterAuthValue, clusterBodyHashHeader, Guard, type ApiKeySpec, type Principal, type SecurityOptions } from "./security.ts";
// Kept for callers of the old path (tests): the audit record is defined in ledger/service.ts.
export type { AuditRecord } from "../ledger/index.ts";
export { encodeForward, decodeForward, type ForwardedCommand, type ForwardEnvelope } from "./forward.ts";
export { routeTable, reservedNames, allowedMethods, type Route, type RouteId, type RouteRole } from "./routes.ts";
export { openApiDocument } from "./openapi.ts";
