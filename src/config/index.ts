/** @module config. Schema, defaults and the loader of TOML + SCRIBE_* env + flags. */
export * from "./config.ts";
export * from "./schema.ts";
