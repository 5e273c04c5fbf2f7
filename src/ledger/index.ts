/** @module ledger. The pure, deterministic ledger: entries, their encoding, commands, apply, the checks of stored bytes against them, and their JSON shapes. */
export * from "./apply.ts";
export * from "./command.ts";
export * from "./entry.ts";
export * from "./check.ts";
export * from "./json.ts";
