/**
 * @module status-schemas. The response bodies in which the node describes itself, as TypeBox
 * schemas: its status (GET /cluster/info) with its members, storage state and last checkpoint
 * disagreement, the liveness and readiness probes (GET /health, GET /ready), and its metrics
 * (GET /metrics). Registered with the other responses in src/http/response-schemas.ts.
 */

import { t } from "elysia";
import { count, hex, index, integer, literals, loose, nullable } from "./schema-fields.ts";

const roleSchema = literals(["leader", "follower", "candidate", "pre-candidate", "learner", "single"]);
export const memberSchema = t.Object({
  id: integer({ minimum: 1 }),
  address: t.String({ description: "Raft host:port." }),
  client: t.String({ description: "HTTP host:port." }),
  role: literals(["voter", "learner"]),
  match_index: t.Optional(index("Leader only: highest entry known replicated.")),
  next_index: t.Optional(index("Leader only: next entry to send.")),
  lag: t.Optional(index("Leader only: entries behind the leader's log.")),
  connected: t.Optional(t.Boolean({ description: "Other members: the Raft transport's connection to it is up." })),
});

export const storageStatusSchema = t.Object(
  {
    writable: t.Boolean({ description: "false: writes are refused with 507 insufficient_storage (reads keep working), and GET /ready is not ready." }),
    reason: t.Optional(t.String({ description: "Why not writable (absent while writable)." })),
    free_bytes: nullable(count("Bytes free for the node on the data directory's file system at the last check (null before the first).")),
    min_free_bytes: count("storage.min_free_bytes: below this much free space writes are refused."),
  },
  { description: "Whether the data directory takes writes: the disk-full state (storage.min_free_bytes, or SQLite found the disk full). Writes resume by themselves when space returns." },
);

export const checkpointDisagreementSchema = t.Object(
  {
    size: index("The size of the checkpoint it refused."),
    at_ms: integer({ description: "When, in milliseconds since the epoch." }),
    own_root: nullable(hex("This member's own root at that size (null when its ledger is shorter).")),
    asked_root: hex("The root the checkpoint carried."),
    reason: t.String(),
  },
  { description: "The last checkpoint this member refused to sign because its own ledger disagrees (another root at that size, or a stored tree that contradicts a checkpoint it signed): an alarm for its operator (docs/TROUBLESHOOTING.md)." },
);

const nodeStatusFields = {
  node_id: integer({ minimum: 1 }),
  role: roleSchema,
  term: index("Raft term."),
  leader_id: nullable(integer({ minimum: 1 })),
  commit_index: index("Raft commit index."),
  leader_commit_index: index("The highest commit index a leader told this node (its own on the leader)."),
  applied_index: index("Raft applied index."),
  ledger_size: index("Ledger entries."),
  membership: t.Array(memberSchema),
  healthy: t.Boolean({ description: "Knows a leader and is running." }),
  failed: nullable(t.String({ description: "Why the node's Raft driver failed: the process must be restarted (GET /health answers 503). null while it runs." })),
  checkpoint_disagreement: nullable(checkpointDisagreementSchema),
  storage: storageStatusSchema,
};
export const nodeStatusSchema = t.Object(nodeStatusFields);

export const healthSchema = t.Object({
  status: literals(["ok", "failed"], "failed: the Raft driver failed and the node must be restarted (503)."),
  node_id: integer({ minimum: 1 }),
  role: roleSchema,
  leader_id: nullable(integer({ minimum: 1 })),
  term: index("Raft term."),
  ledger_size: index("Ledger entries."),
  commit_index: index("Raft commit index."),
  applied_index: index("Raft applied index."),
  checkpoint_disagreement: nullable(checkpointDisagreementSchema),
  storage: storageStatusSchema,
});

/** One check of GET /ready: `ok`, the facts it was judged on, and `detail` when not ok. */
const check = <T extends Parameters<typeof t.Object>[0]>(fields: T, description: string) => t.Object({ ok: t.Boolean(), ...fields, detail: t.Optional(t.String({ description: "Why not ok." })) }, { description });
export const readyChecksSchema = t.Object({
  running: check({}, "Not shutting down, and the Raft driver has not failed."),
  leader: check({ leader_id: nullable(integer({ minimum: 1 })) }, "A leader is known."),
  caught_up: check(
    {
      applied_index: index("Raft applied index."),
      commit_index: index("Raft commit index."),
      leader_commit_index: index("The highest commit index a leader told this node."),
      lag_entries: count("How far the applied index trails the larger of the two."),
      lag_entries_max: count("api.ready_lag_entries_max."),
    },
    "The applied index trails the leader's commit index by at most api.ready_lag_entries_max entries.",
  ),
  storage: check(
    {
      writable: t.Boolean(),
      code: t.Optional(literals(["driver_failed", "insufficient_storage"], "Why not writable.")),
      free_bytes: t.Optional(nullable(count("Bytes free on the data directory's file system at the last check."))),
      min_free_bytes: t.Optional(count("storage.min_free_bytes.")),
    },
    "Storage takes writes: the Raft driver has not failed and the disk has room (NodeStatus.storage).",
  ),
  s3: check(
    {
      configured: t.Boolean({ description: "A bucket is configured; when not, the check passes." }),
      required: t.Optional(t.Boolean({ description: "api.ready_requires_s3: when false an unreachable S3 is shown but does not count." })),
      reachable: t.Optional(nullable(t.Boolean({ description: "When last tried; null before the first answer." }))),
      age_ms: t.Optional(nullable(count("How old that state is."))),
      source: t.Optional(nullable(t.String({ description: "Where it was learned: start check, archival, manifest, read-through, probe." }))),
    },
    "S3 answered when last tried (with a bucket configured).",
  ),
});
export const readySchema = t.Object({ ready: t.Boolean(), reasons: t.Optional(t.Array(t.String(), { description: "One per failed check (503 only)." })), checks: readyChecksSchema });

const requestCounts = t.Object({ requests: count(), errors: count(), latency_seconds_sum: t.Number({ minimum: 0 }) });

/**
 * Loose on purpose: /metrics grows with the node. The node's status fields are fixed, except
 * `storage`, which here is the hot tier's counters (the data directory's state is `disk`).
 */
const { storage: _statusStorage, ...statusWithoutStorage } = nodeStatusFields;
export const metricsSchema = t.Object(
  {
    ...statusWithoutStorage,
    requests: t.Record(literals(["get", "put", "delete", "batch"]), requestCounts, { description: "Client requests by kind: count, errors, summed latency." }),
    storage: t.Optional(loose({ entries: count(), liveKeys: count(), keysWritten: count(), valueBytes: count() }, "The hot tier (SQLite): entries, live keys, keys ever written, value bytes.")),
    tree_size: t.Optional(index("The Merkle tree's size.")),
    cache: t.Optional(loose({}, "The key-head and value caches: sizes, hits, misses.")),
    apply: t.Optional(loose({}, "State-machine counters.")),
    idempotency: t.Optional(loose({}, "Idempotency records: rows in the window, records made and pruned, the clock.")),
    corruption: t.Optional(loose({}, "Reads refused because stored bytes failed their check: by tier, and the last one.")),
    checkpoint_disagreements: t.Optional(count("Checkpoints this member refused to sign because its ledger disagrees.")),
    raft: t.Optional(loose({ failed: t.Boolean({ description: "The Raft driver failed." }) }, "The Raft driver: readies, proposals, log indexes, queued ops.")),
    transport: t.Optional(loose({}, "The Raft transport: per-peer connection state and counters (absent on a node without peers).")),
    cold: t.Optional(loose({ enabled: t.Boolean() }, "The S3 cold tier: archival state and counters.")),
    checkpoints: t.Optional(loose({}, "Checkpoint cosigning: the origin, voter keys, rounds, the size served.")),
    disk: t.Optional(loose({ writable: t.Boolean(), free_bytes: nullable(count()), min_free_bytes: count() }, "The data directory's free space and full-disk counters (NodeStatus.storage and more).")),
    watch: t.Optional(loose({}, "GET /watch streams: open, refused, ended by reason, buffered bytes.")),
  },
  { additionalProperties: true, description: "The node's status and counters; more fields may appear." },
);
