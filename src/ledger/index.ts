/** @module ledger. The pure, deterministic ledger: entries, their encoding, commands, apply, and the checks of stored bytes against them. */
export * from "./apply.ts";
export * from "./command.ts";
export * from "./entry.ts";
export * from "./check.ts";
export * from "./idempotency.ts";
