/** @module ledger. The pure, deterministic ledger: entries, their encoding, commands, apply, the checks of stored bytes against them, their JSON shapes, validation, and the service contract of a node (types only). */
export * from "./apply.ts";
export * from "./command.ts";
export * from "./entry.ts";
export * from "./forward.ts";
export * from "./check.ts";
export * from "./json.ts";
export * from "./service.ts";
export * from "./validate.ts";
export * from "./idempotency.ts";
