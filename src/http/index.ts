/** @module http. The Elysia app factory, its routes, error mapping and service interface. */
export * from "./app.ts";
export * from "./service.ts";
export { validateContentType, validateKey } from "./parse.ts";
export { bodySha256, clusterAuthHeader, clusterAuthSkewMsMax, clusterAuthValue, clusterBodyHashHeader, Guard, type ApiKeySpec, type AuditRecord, type Principal, type SecurityOptions, type WriteContext } from "./security.ts";
export { encodeForward, decodeForward, type ForwardedCommand, type ForwardEnvelope } from "./forward.ts";
export { routeTable, reservedNames, allowedMethods, type Route, type RouteId, type RouteRole } from "./routes.ts";
export { openApiDocument } from "./openapi.ts";
export { watchContentType, watchQueueBytesMax, watchPageBytesMax, checkpointIntervalMs as watchCheckpointIntervalMs } from "./watch.ts";
