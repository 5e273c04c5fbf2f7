/** @module ledger. The pure, deterministic ledger: entries, their encoding, commands and apply. */
export * from "./apply.ts";
export * from "./command.ts";
export * from "./entry.ts";
