/**
 * @module schemas. The JSON bodies of the HTTP API as TypeBox schemas (Elysia's `t`): the request
 * bodies the router validates before a handler runs (POST /batch, /cluster/nodes/add,
 * /cluster/nodes/remove, and the node-to-node /cluster/cosign, /cluster/checkpoint,
 * /cluster/keys; src/http/app.ts attaches them to their routes), and the response bodies every
 * route answers with (GET /watch's: one per NDJSON line). Both are the OpenAPI document's
 * `components.schemas` (src/http/openapi.ts), so the document says exactly what the node checks;
 * a test checks real answers against the response schemas, allowing no field they do not
 * describe except where a schema says `additionalProperties: true` (test/http/openapi.test.ts).
 *
 * What a schema cannot say stays in code, after validation (src/http/parse.ts `batchOperations`
 * and `batchIdempotencyKey`, src/http/cluster-routes.ts): a key's UTF-8 validity and byte length
 * (JSON strings count UTF-16 units), a value's UTF-8 validity, base64 validity and byte length,
 * exactly one of `value` and `value_base64`, an idempotency key's bytes, and `host:port` syntax.
 * src/http/body-errors.ts turns a failed schema check into the same `{error, code}` the
 * hand-written checks gave.
 */

import { Type, type IntegerOptions, type Static } from "@sinclair/typebox";
import { t, type TSchema } from "elysia";
import { contentTypeBytesMax } from "../ledger/index.ts";

/**
 * A JSON integer. TypeBox's own: Elysia's `t.Integer` also takes integer strings (it converts
 * "2" to 2, for query strings), which a JSON body must not get away with.
 */
const integer = (options?: IntegerOptions) => Type.Integer(options);

/** The limits a request schema depends on (from the configuration; see AppLimits). */
export interface SchemaLimits {
  batchOpsMax: number;
}

// ---- requests ---------------------------------------------------------------------------------

/** A key in a JSON body: a non-empty string (its UTF-8 validity and byte length are checked in code). */
const keyField = () => t.String({ minLength: 1, description: "1..1024 bytes of UTF-8." });
const versionField = (description: string) => integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });
/** Printable ASCII, at most 255 bytes; empty means the default. */
const contentTypeField = () => t.String({ maxLength: contentTypeBytesMax, pattern: "^[\\x20-\\x7e]*$", description: "Stored with the value; printable ASCII, at most 255 bytes. Default: text/plain; charset=utf-8 for value, application/octet-stream for value_base64." });

export const batchPutSchema = t.Object(
  {
    op: t.Literal("put"),
    key: keyField(),
    value: t.Optional(t.String({ description: "The value as UTF-8 text (give this or value_base64)." })),
    value_base64: t.Optional(t.String({ description: "The value's bytes in base64 (give this or value)." })),
    content_type: t.Optional(contentTypeField()),
    if_match: t.Optional(versionField("Only if the key's current version is this (0: the key must not exist).")),
    if_none_match: t.Optional(t.Boolean({ description: "true: only if the key has no live value." })),
  },
  { additionalProperties: false, description: "Append a put of the value." },
);

export const batchDeleteSchema = t.Object(
  { op: t.Literal("delete"), key: keyField(), if_match: t.Optional(versionField("Only if the key's current version is this.")) },
  { additionalProperties: false, description: "Append a tombstone." },
);

/**
 * POST /batch: `{"ops": [...], "idempotency_key"?}`, 1..batchOpsMax operations applied atomically.
 * The idempotency key's UTF-8 validity, byte length and printable characters are checked in code
 * (src/http/parse.ts `batchIdempotencyKey`), as a schema counts UTF-16 units.
 */
export const batchRequestSchema = (limits: SchemaLimits) =>
  t.Object(
    {
      ops: t.Array(t.Union([batchPutSchema, batchDeleteSchema]), { minItems: 1, maxItems: limits.batchOpsMax }),
      idempotency_key: t.Optional(
        t.String({
          description:
            "Makes the batch safe to retry (1..255 bytes of printable UTF-8): the same batch with the same key within api.idempotency_window_secs appends nothing and answers the original receipts. The Idempotency-Key header may carry it instead; both given must be equal.",
        }),
      ),
    },
    { additionalProperties: false },
  );

const nodeIdField = () => integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "The member's node id." });

/** POST /cluster/nodes/add. */
export const nodeAddRequestSchema = (_limits?: SchemaLimits) =>
  t.Object(
    {
      node_id: nodeIdField(),
      address: t.String({ description: "The node's Raft host:port." }),
      client: t.Optional(t.String({ description: "The node's HTTP host:port (default: the Raft host with the leader's client port)." })),
    },
    { additionalProperties: false },
  );

/** POST /cluster/nodes/remove. */
export const nodeRemoveRequestSchema = (_limits?: SchemaLimits) => t.Object({ node_id: nodeIdField() }, { additionalProperties: false });

/** The three requests of POST /cluster/cosign: each is an object of exactly one string field. */
export const cosignFields = ["body", "keys_body", "latest"] as const;

/** POST /cluster/cosign (leader to member): exactly one of `body`, `keys_body`, `latest`. */
export const cosignRequestSchema = (_limits?: SchemaLimits) =>
  t.Union(
    [
      t.Object({ body: t.String({ description: "A checkpoint body (C2SP tlog-checkpoint) for this member to sign once it has applied that size and its own root agrees." }) }, { additionalProperties: false }),
      t.Object({ keys_body: t.String({ description: "A keys note body (docs/FORMATS.md, Keys notes) for this member to sign once its applied key set agrees." }) }, { additionalProperties: false }),
      t.Object({ latest: t.String({ description: "The newest quorum checkpoint (a signed note), for this member to serve once it verified the signatures and its own root." }) }, { additionalProperties: false }),
    ],
    { description: "Exactly one of body, keys_body, latest." },
  );

/** POST /cluster/checkpoint (follower to leader). */
export const checkpointRequestSchema = (_limits?: SchemaLimits) =>
  t.Object({ size: integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "The least tree size the checkpoint must cover." }) }, { additionalProperties: false });

/** POST /cluster/keys (member to leader). */
export const keyRegistrationSchema = (_limits?: SchemaLimits) =>
  t.Object(
    {
      node_id: nodeIdField(),
      key: t.String({ description: "The member's checkpoint verifier key (name+hash+base64)." }),
      proof: t.String({ description: "Proof of possession: a signed note of the registration body (origin, node id, key) made with that key." }),
    },
    { additionalProperties: false },
  );

/** The request bodies by component name; each route names its own in the route table. */
export const requestBodies = {
  BatchRequest: batchRequestSchema,
  NodeAddRequest: nodeAddRequestSchema,
  NodeRemoveRequest: nodeRemoveRequestSchema,
  CosignRequest: cosignRequestSchema,
  CheckpointRequest: checkpointRequestSchema,
  KeyRegistration: keyRegistrationSchema,
} as const satisfies Record<string, (limits: SchemaLimits) => TSchema>;

export type RequestBodyName = keyof typeof requestBodies;

/** A request body as its schema admits it (what a handler gets, after the router checked it). */
export type RequestBody<Name extends RequestBodyName> = Static<ReturnType<(typeof requestBodies)[Name]>>;

// ---- responses --------------------------------------------------------------------------------

const hex = (description: string) => t.String({ pattern: "^[0-9a-f]{64}$", description });
const hexList = (description: string) => t.Array(hex("A hash."), { description });
const index = (description: string) => integer({ minimum: 0, description });
const count = (description?: string) => integer({ minimum: 0, ...(description === undefined ? {} : { description }) });
const nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);
const literals = (values: readonly string[], description?: string) => t.Union(values.map((value) => t.Literal(value)), description === undefined ? {} : { description });
/** A section of a loose schema: the fields it always has; others may appear. */
const loose = <T extends Parameters<typeof t.Object>[0]>(fields: T, description: string) => t.Object(fields, { additionalProperties: true, description });

const errorSchema = t.Object(
  { error: t.String({ description: "What went wrong, for humans." }), code: t.String({ description: "A stable code (README, error codes)." }) },
  {
    additionalProperties: true,
    description:
      "Every error. Some carry details: `index`, `tier` of a corrupt value; `first_index`, `last_index` of an idempotency_key_reused; `size`, `own_root`, `asked_root` of a checkpoint_disagreement; `tree_size` of a tile not there yet.",
  },
);

const receiptSchema = t.Object({
  key: t.String(),
  op: literals(["put", "delete"]),
  index: index("The entry's ledger index."),
  version: integer({ minimum: 1 }),
  leaf_hash: hex("The entry's Merkle leaf hash."),
  tree_size: index("The ledger's size right after the write's own command: its entries are the leaves below it, so a checkpoint of at least this size covers them."),
  timestamp_ms: integer({ description: "The command's timestamp (the leader's clock), milliseconds since the epoch." }),
});

const entryFields = {
  index: index("Ledger index."),
  op: literals(["put", "delete"]),
  key: t.String(),
  value_hash: hex("SHA-256 of the value (of nothing for a delete)."),
  value_bytes: count(),
  content_type: t.String(),
  timestamp_ms: integer(),
  prev_index: integer({ minimum: -1, description: "The key's previous entry, or -1." }),
};
const entrySchema = t.Object({ ...entryFields, version: integer({ minimum: 1 }), leaf_hash: hex("The entry's Merkle leaf hash.") });

/** An item of GET /entries and an entry line of GET /watch. */
const entryWithValueSchema = t.Object(
  {
    ...entrySchema.properties,
    value_base64: t.Optional(nullable(t.String({ description: "With values=true: the value; null when the node cannot hand it out (see value_error)." }))),
    value_error: t.Optional(t.String({ description: "Why value_base64 is null: corrupt_value, corrupt_entry, unavailable." })),
  },
  { description: "An entry with its version and leaf hash; with values=true its value too." },
);

const entriesPageSchema = t.Object({ from: index("The first index asked for."), tree_size: index("The ledger's size."), entries: t.Array(entryWithValueSchema) });

const historySchema = t.Object({ key: t.String(), versions: t.Array(entrySchema) });

const verifySchema = t.Object({
  key: t.String(),
  verified: t.Boolean({ description: "The node's own verdict; verify independently." }),
  proof: t.Object({ root_hash: hex("The checkpoint's root."), siblings: hexList("Sibling hashes, RFC 9162 order."), leaf_index: index("The entry's index."), tree_size: index("The checkpoint's size."), leaf_hash: hex("The entry's leaf hash.") }),
  entry: t.Object({ ...entryFields, version: integer({ minimum: 1 }) }),
  checkpoint: t.String({ description: "The signed checkpoint note the proof is against." }),
  error: nullable(t.String({ description: "What the node found wrong (the entry, its value, the proof); null when verified." })),
});

const inclusionProofSchema = t.Object({ leaf_index: index("Leaf index."), tree_size: index("Tree size."), root_hash: hex("Root at tree_size."), siblings: hexList("Sibling hashes, RFC 9162 order."), leaf_hash: hex("The leaf's hash.") });
const consistencyProofSchema = t.Object({ from: index("Older size."), to: index("Newer size."), from_root: hex("Root at from."), to_root: hex("Root at to."), proof: hexList("The RFC 9162 consistency proof.") });

const keysPageSchema = t.Object({
  keys: t.Array(t.Object({ key: t.String(), index: index("The key's latest entry."), version: integer({ minimum: 1 }), deleted: t.Boolean() })),
  next: nullable(t.String({ description: "Pass as `after` for the next page." })),
  ledger_size: index("The ledger's size."),
});

const roleSchema = literals(["leader", "follower", "candidate", "pre-candidate", "learner", "single"]);
const memberSchema = t.Object({
  id: integer({ minimum: 1 }),
  address: t.String({ description: "Raft host:port." }),
  client: t.String({ description: "HTTP host:port." }),
  role: literals(["voter", "learner"]),
  match_index: t.Optional(index("Leader only: highest entry known replicated.")),
  next_index: t.Optional(index("Leader only: next entry to send.")),
  lag: t.Optional(index("Leader only: entries behind the leader's log.")),
  connected: t.Optional(t.Boolean({ description: "Other members: the Raft transport's connection to it is up." })),
});

const storageStatusSchema = t.Object(
  {
    writable: t.Boolean({ description: "false: writes are refused with 507 insufficient_storage (reads keep working), and GET /ready is not ready." }),
    reason: t.Optional(t.String({ description: "Why not writable (absent while writable)." })),
    free_bytes: nullable(count("Bytes free for the node on the data directory's file system at the last check (null before the first).")),
    min_free_bytes: count("storage.min_free_bytes: below this much free space writes are refused."),
  },
  { description: "Whether the data directory takes writes: the disk-full state (storage.min_free_bytes, or SQLite found the disk full). Writes resume by themselves when space returns." },
);

const checkpointDisagreementSchema = t.Object(
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
const nodeStatusSchema = t.Object(nodeStatusFields);

const healthSchema = t.Object({
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
const readyChecksSchema = t.Object({
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
const readySchema = t.Object({ ready: t.Boolean(), reasons: t.Optional(t.Array(t.String(), { description: "One per failed check (503 only)." })), checks: readyChecksSchema });

const batchAnswerSchema = t.Object({
  first_index: index("First entry."),
  last_index: index("Last entry."),
  tree_size: index("The ledger's size right after the batch (its entries are the leaves below it)."),
  receipts: t.Array(receiptSchema),
});

const clusterNodesSchema = t.Object({ leader_id: nullable(integer({ minimum: 1 })), nodes: t.Array(t.Object({ ...memberSchema.properties, is_leader: t.Boolean(), is_self: t.Boolean() })) });
const leaderSchema = t.Object({ leader_id: integer({ minimum: 1 }), address: t.String(), client: t.String(), term: index("Raft term."), is_self: t.Boolean() });
const addressesSchema = t.Record(t.String({ pattern: "^[0-9]+$" }), t.Object({ raft: t.String(), client: t.String() }), { description: "Node id → addresses." });
const nodeAddedSchema = t.Object({ node_id: integer({ minimum: 1 }), role: literals(["voter", "learner"]), addresses: addressesSchema });
const nodeRemovedSchema = t.Object({ node_id: integer({ minimum: 1 }), removed: t.Literal(true) });
const proposeAnswerSchema = t.Object({
  outcomes: t.Array(
    t.Union([
      t.Object({ receipts: t.Array(receiptSchema), replayed: t.Optional(t.Literal(true, { description: "The command's idempotency key was live with the same request: nothing was appended, these are the original's receipts." })) }),
      errorSchema,
    ]),
    { description: "One per forwarded command, in order." },
  ),
});

const verifierKey = (description: string) => t.String({ description: `${description} (a signed-note verifier key: name+hash+base64).` });
const keyHistorySchema = t.Object({
  origin: nullable(t.String({ description: "The cluster's checkpoint origin (null until fixed)." })),
  epochs: t.Array(
    t.Object({ epoch: index("0, 1, ..."), keys: t.Array(verifierKey("A member's key")), note: t.String({ description: "The keys note, signed by a majority of the previous epoch's members (epoch 0: by its own)." }) }),
    { description: "Every key-set epoch, epoch 0 first (docs/FORMATS.md, Keys notes)." },
  ),
});
const clusterIdentitySchema = t.Object({
  origin: nullable(t.String({ description: "The cluster's checkpoint origin (null until fixed)." })),
  keys: t.Record(t.String({ pattern: "^[0-9]+$" }), verifierKey("The member's checkpoint key"), { description: "Node id → its registered checkpoint verifier key." }),
  epochs: t.Array(t.String({ description: "A keys note." }), { description: "The keys notes, epoch 0 first." }),
});
const cosignAnswerSchema = t.Union(
  [
    t.Object({ signature: t.String({ description: "This member's signature line (C2SP signed-note) on the body or keys body, newline-terminated." }) }),
    t.Object({ size: index("The size of the quorum checkpoint this member serves now (for `latest`).") }),
  ],
  { description: "{signature} for a body or keys_body, {size} for latest." },
);
const idempotencyRecordSchema = t.Object({
  key: t.String({ description: "The idempotency key." }),
  fingerprint: hex("SHA-256 of the command's operations (its request)."),
  first_index: index("The command's first ledger index."),
  last_index: index("Its last ledger index."),
  seq: integer({ minimum: 1, description: "1 for the ledger's first record, then +1 each." }),
  recorded_ms: integer({ description: "The idempotency clock when it was made." }),
  expires_ms: integer({ description: "It expires once the clock passes this." }),
  expires_seq: integer({ description: "Or once this many records were made (api.idempotency_keys_max)." }),
});

const watchCheckpointLineSchema = t.Object(
  {
    checkpoint: t.String({ description: "A signed checkpoint note of size M covering every entry sent so far." }),
    from_size: index("Where proof starts: the previous checkpoint line's size (the first line: checkpoint_size, 0 when not given)."),
    proof: hexList("The RFC 9162 consistency proof from from_size to M."),
    next_index: index("Every entry below it has been sent (a prefix stream: every one under the prefix)."),
    position_proof: t.Optional(hexList("Full streams: the consistency proof from next_index to M.")),
    frontier: t.Optional(hexList("Full streams, first checkpoint line only: the compact range of the tree of `from` leaves, largest subtree first.")),
    inclusion: t.Optional(t.Array(hexList("An inclusion proof to M."), { description: "Prefix streams: one inclusion proof per entry line since the previous checkpoint line, in order." })),
  },
  { description: "A checkpoint line of GET /watch." },
);
const watchEndLineSchema = t.Object(
  { end: literals(["until", "leader_changed", "shutting_down"]), resume_from: index("Where to resume: from=resume_from.") },
  { description: "The last line when the node ends the stream." },
);
const watchErrorLineSchema = t.Object(
  { error: t.String(), code: t.String({ description: "slow_consumer, or a failure's code." }), resume_from: index("Where to resume: from=resume_from.") },
  { description: "The last line when the stream ends on an error." },
);
const watchLineSchema = t.Union([entryWithValueSchema, watchCheckpointLineSchema, watchEndLineSchema, watchErrorLineSchema], {
  description: "One line of a GET /watch stream (NDJSON: one per line): an entry, a checkpoint line, or a final line (docs/FORMATS.md section 8).",
});

const requestCounts = t.Object({ requests: count(), errors: count(), latency_seconds_sum: t.Number({ minimum: 0 }) });

/**
 * Loose on purpose: /metrics grows with the node. The node's status fields are fixed, except
 * `storage`, which here is the hot tier's counters (the data directory's state is `disk`).
 */
const { storage: _statusStorage, ...statusWithoutStorage } = nodeStatusFields;
const metricsSchema = t.Object(
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

const rootSchema = t.Object({ name: t.Literal("scribe-ledger"), node_id: integer({ minimum: 1 }), ledger_size: index("Ledger entries."), docs: t.String() });

/** Response bodies by component name (the OpenAPI `components.schemas`, beside the request bodies). */
export const responseSchemas = {
  Error: errorSchema,
  Receipt: receiptSchema,
  BatchAnswer: batchAnswerSchema,
  Entry: entrySchema,
  EntryWithValue: entryWithValueSchema,
  EntriesPage: entriesPageSchema,
  History: historySchema,
  Verify: verifySchema,
  InclusionProof: inclusionProofSchema,
  ConsistencyProof: consistencyProofSchema,
  KeysPage: keysPageSchema,
  Member: memberSchema,
  StorageStatus: storageStatusSchema,
  CheckpointDisagreement: checkpointDisagreementSchema,
  NodeStatus: nodeStatusSchema,
  ClusterNodes: clusterNodesSchema,
  Leader: leaderSchema,
  NodeAdded: nodeAddedSchema,
  NodeRemoved: nodeRemovedSchema,
  ProposeAnswer: proposeAnswerSchema,
  ReadIndex: t.Object({ read_index: index("A linearizable read index.") }),
  LedgerSize: t.Object({ raft_index: index("The Raft index asked for."), ledger_size: index("The ledger size applied at it.") }),
  KeyHistory: keyHistorySchema,
  ClusterIdentity: clusterIdentitySchema,
  CosignAnswer: cosignAnswerSchema,
  CheckpointNote: t.Object({ note: t.String({ description: "A quorum checkpoint (a signed note) of at least the size asked." }) }),
  KeyRegistered: t.Object({ registered: t.Literal(true), node_id: integer({ minimum: 1 }) }),
  IdempotencyRecord: idempotencyRecordSchema,
  IdempotencyRecords: t.Object({ from: index("First ledger index of the range."), to: index("The index past the range."), records: t.Array(idempotencyRecordSchema, { description: "The records of the commands whose first index is in [from, to), in order." }) }),
  WatchCheckpointLine: watchCheckpointLineSchema,
  WatchEndLine: watchEndLineSchema,
  WatchErrorLine: watchErrorLineSchema,
  WatchLine: watchLineSchema,
  Metrics: metricsSchema,
  Health: healthSchema,
  ReadyChecks: readyChecksSchema,
  Ready: readySchema,
  Root: rootSchema,
  BatchPut: batchPutSchema,
  BatchDelete: batchDeleteSchema,
  OpenApi: t.Object({ openapi: t.String(), info: t.Object({}, { additionalProperties: true }), paths: t.Object({}, { additionalProperties: true }) }, { additionalProperties: true }),
} as const satisfies Record<string, TSchema>;

export type ResponseSchemaName = keyof typeof responseSchemas;
