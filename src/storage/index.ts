/** @module storage. The hot tier (SQLite), the value and head cache, the key filter, private file modes, idempotency records, free disk space, the offline check of a stopped node's files, and (in cold/) the S3 tier. */
export * from "./cache.ts";
export * from "./key-filter.ts";
export * from "./file-modes.ts";
export * from "./hot.ts";
export * from "./tree-store.ts";
export * from "./raft-log.ts";
export * from "./check.ts";
export * from "./idempotency.ts";
export * from "./disk-space.ts";
