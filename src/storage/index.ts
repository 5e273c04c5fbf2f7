/** @module storage. The hot tier (SQLite), the LRU cache, and (in cold/) the S3 tier. */
export * from "./cache.ts";
export * from "./hot.ts";
export * from "./tree-store.ts";
export * from "./raft-log.ts";
