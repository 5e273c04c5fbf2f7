/** @module http. The Elysia app factory, its routes, error mapping and service interface. */
export * from "./app.ts";
export * from "./service.ts";
export { validateContentType, validateKey } from "./parse.ts";
export { bodySha256, clusterAuthHeader, clusterAuthValue, clusterBodyHashHeader, Guard, requiredRole, type ApiKeySpec, type AuditRecord, type Principal, type SecurityOptions } from "./security.ts";
export { openApiDocument } from "./openapi.ts";
