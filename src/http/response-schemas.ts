/**
 * @module response-schemas. The JSON response bodies of the HTTP API as TypeBox schemas (Elysia's
 * `t`), by component name: every route's JSON answers name one (GET /watch's: one per NDJSON
 * line). This file has the answers about the ledger (errors, receipts, entries, proofs, keys,
 * watch lines) and about the cluster (members, leader, membership changes, node-to-node answers);
 * the node's own status, probes and metrics are in src/http/status-schemas.ts. With the request
 * bodies (src/http/request-schemas.ts) they are the OpenAPI document's `components.schemas`
 * (src/http/openapi.ts); a test checks real answers against them, allowing no field they do not
 * describe except where a schema says `additionalProperties: true` (test/http/openapi.test.ts).
 */

import { t, type TSchema } from "elysia";
import { batchDeleteSchema, batchPutSchema } from "./request-schemas.ts";
import { count, hex, hexList, index, integer, literals, nullable } from "./schema-fields.ts";
import { checkpointDisagreementSchema, healthSchema, memberSchema, metricsSchema, nodeStatusSchema, readyChecksSchema, readySchema, storageStatusSchema } from "./status-schemas.ts";

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
