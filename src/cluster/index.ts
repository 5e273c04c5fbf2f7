/**
 * @module cluster. The node: its driver in small parts (cluster-node.ts wires them; see
 * docs/ARCHITECTURE.md), logs, the start checks, restore from S3 and the offline check of a
 * stopped node's files. The embedded library and server.ts reach the node through here; server.ts
 * (the HTTP server over a node, the one place http/ is imported) is not exported, so the embedded
 * library loads no HTTP server (no Elysia).
 */
export { ClusterNode, type ClusterNodeOptions } from "./cluster-node.ts";
export { createAuditLogger, createLogger, createMutationLog, type Logger } from "./logger.ts";
export { configurePeerClient, type PeerClientOptions } from "./peer-client.ts";
export { checkBucketAtStart, StartupError } from "./s3-check.ts";
export { restoreCommand, restoreNode, type RestoreNodeOptions, type RestoreNodeResult } from "./restore.ts";
export { checkCommand } from "./check.ts";
export { replayEntries, type ReplayRecord } from "./replay.ts";
