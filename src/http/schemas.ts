/**
 * @module schemas. The JSON bodies of the HTTP API as TypeBox schemas (Elysia's `t`): the request
 * bodies the router validates before a handler runs (POST /batch, /cluster/nodes/add,
 * /cluster/nodes/remove; src/http/app.ts attaches them to their routes), and the response bodies
 * every route answers with. Both are the OpenAPI document's `components.schemas`
 * (src/http/openapi.ts), so the document says exactly what the node checks; a test checks real
 * answers against the response schemas (test/http/openapi.test.ts).
 *
 * What a schema cannot say stays in code, after validation (src/http/parse.ts `batchOperations`,
 * src/http/cluster-routes.ts): a key's UTF-8 validity and byte length (JSON strings count UTF-16
 * units), a value's UTF-8 validity, base64 validity and byte length, exactly one of `value` and
 * `value_base64`, and `host:port` syntax. src/http/body-errors.ts turns a failed schema check into
 * the same `{error, code}` the hand-written checks gave.
 */

import { Type, type IntegerOptions } from "@sinclair/typebox";
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

/** POST /batch: `{"ops": [...]}`, 1..batchOpsMax operations applied atomically. */
export const batchRequestSchema = (limits: SchemaLimits) =>
  t.Object({ ops: t.Array(t.Union([batchPutSchema, batchDeleteSchema]), { minItems: 1, maxItems: limits.batchOpsMax }) }, { additionalProperties: false });

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

/** The request bodies by component name; each route names its own in the route table. */
export const requestBodies = {
  BatchRequest: batchRequestSchema,
  NodeAddRequest: nodeAddRequestSchema,
  NodeRemoveRequest: nodeRemoveRequestSchema,
} as const satisfies Record<string, (limits: SchemaLimits) => TSchema>;

export type RequestBodyName = keyof typeof requestBodies;

// ---- responses --------------------------------------------------------------------------------

const hex = (description: string) => t.String({ pattern: "^[0-9a-f]{64}$", description });
const index = (description: string) => integer({ minimum: 0, description });
const nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);

const errorSchema = t.Object(
  { error: t.String({ description: "What went wrong, for humans." }), code: t.String({ description: "A stable code (docs: README, error codes)." }) },
  { description: "Every error. Some carry details (e.g. `index`, `tier` of a corrupt value)." },
);

const receiptSchema = t.Object({
  key: t.String(),
  op: t.Union([t.Literal("put"), t.Literal("delete")]),
  index: index("The entry's ledger index."),
  version: integer({ minimum: 1 }),
  leaf_hash: hex("The entry's Merkle leaf hash."),
  tree_size: index("The tree size that includes the entry."),
  timestamp_ms: integer(),
});

const entryFields = {
  index: index("Ledger index."),
  op: t.Union([t.Literal("put"), t.Literal("delete")]),
  key: t.String(),
  value_hash: hex("SHA-256 of the value (of nothing for a delete)."),
  value_bytes: integer({ minimum: 0 }),
  content_type: t.String(),
  timestamp_ms: integer(),
  prev_index: integer({ minimum: -1, description: "The key's previous entry, or -1." }),
};
const entrySchema = t.Object({ ...entryFields, version: integer({ minimum: 1 }), leaf_hash: hex("The entry's Merkle leaf hash.") });

const entriesPageSchema = t.Object({
  from: index("The first index asked for."),
  tree_size: index("The ledger's size."),
  entries: t.Array(
    t.Intersect([
      entrySchema,
      t.Object({
        value_base64: t.Optional(nullable(t.String({ description: "With values=true: the value; null when the node cannot hand it out (see value_error)." }))),
        value_error: t.Optional(t.String({ description: "Why value_base64 is null: corrupt_value, corrupt_entry, unavailable." })),
      }),
    ]),
  ),
});

const historySchema = t.Object({ key: t.String(), versions: t.Array(entrySchema) });

const verifySchema = t.Object({
  key: t.String(),
  verified: t.Boolean({ description: "The node's own verdict; verify independently." }),
  proof: t.Object({ root_hash: hex("The checkpoint's root."), siblings: t.Array(hex("A sibling hash.")), leaf_index: index("The entry's index."), tree_size: index("The checkpoint's size."), leaf_hash: hex("The entry's leaf hash.") }),
  entry: t.Object({ ...entryFields, version: integer({ minimum: 1 }) }),
  checkpoint: t.String({ description: "The signed checkpoint note the proof is against." }),
  error: nullable(t.String()),
});

const inclusionProofSchema = t.Object({ leaf_index: index("Leaf index."), tree_size: index("Tree size."), root_hash: hex("Root at tree_size."), siblings: t.Array(hex("A sibling hash.")), leaf_hash: hex("The leaf's hash.") });
const consistencyProofSchema = t.Object({ from: index("Older size."), to: index("Newer size."), from_root: hex("Root at from."), to_root: hex("Root at to."), proof: t.Array(hex("A proof hash.")) });

const keysPageSchema = t.Object({
  keys: t.Array(t.Object({ key: t.String(), index: index("The key's latest entry."), version: integer({ minimum: 1 }), deleted: t.Boolean() })),
  next: nullable(t.String({ description: "Pass as `after` for the next page." })),
  ledger_size: index("The ledger's size."),
});

const roleSchema = t.Union(["leader", "follower", "candidate", "pre-candidate", "learner", "single"].map((role) => t.Literal(role)));
const memberSchema = t.Object({
  id: integer({ minimum: 1 }),
  address: t.String({ description: "Raft host:port." }),
  client: t.String({ description: "HTTP host:port." }),
  role: t.Union([t.Literal("voter"), t.Literal("learner")]),
  match_index: t.Optional(index("Leader only: highest entry known replicated.")),
  next_index: t.Optional(index("Leader only: next entry to send.")),
  lag: t.Optional(index("Leader only: entries behind the leader's log.")),
  connected: t.Optional(t.Boolean({ description: "The Raft transport's connection to it is up." })),
});

const nodeStatusFields = {
  node_id: integer({ minimum: 1 }),
  role: roleSchema,
  term: index("Raft term."),
  leader_id: nullable(integer({ minimum: 1 })),
  commit_index: index("Raft commit index."),
  leader_commit_index: index("The highest commit index a leader told this node."),
  applied_index: index("Raft applied index."),
  ledger_size: index("Ledger entries."),
  membership: t.Array(memberSchema),
  healthy: t.Boolean({ description: "Knows a leader and is not shutting down." }),
  storage_status: t.Object({ writable: t.Boolean(), code: nullable(t.String()), reason: nullable(t.String()) }, { description: "Whether storage takes writes (GET /ready's storage check)." }),
};
const nodeStatusSchema = t.Object(nodeStatusFields);

const healthSchema = t.Object({
  status: t.Union([t.Literal("ok"), t.Literal("failed")], { description: "failed: the Raft driver failed and the node must be restarted (503)." }),
  node_id: integer({ minimum: 1 }),
  role: roleSchema,
  leader_id: nullable(integer({ minimum: 1 })),
  term: index("Raft term."),
  ledger_size: index("Ledger entries."),
  commit_index: index("Raft commit index."),
  applied_index: index("Raft applied index."),
});

const checkSchema = t.Object({ ok: t.Boolean(), detail: t.Optional(t.String({ description: "Why not ok." })) }, { additionalProperties: true, description: "A check and the facts it was judged on." });
const readySchema = t.Object({
  ready: t.Boolean(),
  reasons: t.Optional(t.Array(t.String(), { description: "One per failed check (503 only)." })),
  checks: t.Object({ running: checkSchema, leader: checkSchema, caught_up: checkSchema, storage: checkSchema, s3: checkSchema }),
});

const batchAnswerSchema = t.Object({ first_index: index("First entry."), last_index: index("Last entry."), tree_size: index("Tree size including the batch."), receipts: t.Array(receiptSchema) });

const clusterNodesSchema = t.Object({ leader_id: nullable(integer({ minimum: 1 })), nodes: t.Array(t.Intersect([memberSchema, t.Object({ is_leader: t.Boolean(), is_self: t.Boolean() })])) });
const leaderSchema = t.Object({ leader_id: integer({ minimum: 1 }), address: t.String(), client: t.String(), term: index("Raft term."), is_self: t.Boolean() });
const addressesSchema = t.Record(t.String({ pattern: "^[0-9]+$" }), t.Object({ raft: t.String(), client: t.String() }), { description: "Node id → addresses." });
const nodeAddedSchema = t.Object({ node_id: integer({ minimum: 1 }), role: t.Union([t.Literal("voter"), t.Literal("learner")]), addresses: addressesSchema });
const nodeRemovedSchema = t.Object({ node_id: integer({ minimum: 1 }), removed: t.Literal(true) });
const proposeAnswerSchema = t.Object({ outcomes: t.Array(t.Union([t.Object({ receipts: t.Array(receiptSchema) }), errorSchema])) });

/** Loose on purpose: /metrics grows with the node; the status fields are fixed. */
const metricsSchema = t.Object(nodeStatusFields, { additionalProperties: true, description: "The node's status and counters (requests, storage, caches, raft, transport, cold); more fields may appear." });

const rootSchema = t.Object({ name: t.Literal("scribe-ledger"), node_id: integer({ minimum: 1 }), ledger_size: index("Ledger entries."), docs: t.String() });

/** Response bodies by component name (the OpenAPI `components.schemas`, beside the request bodies). */
export const responseSchemas = {
  Error: errorSchema,
  Receipt: receiptSchema,
  BatchAnswer: batchAnswerSchema,
  Entry: entrySchema,
  EntriesPage: entriesPageSchema,
  History: historySchema,
  Verify: verifySchema,
  InclusionProof: inclusionProofSchema,
  ConsistencyProof: consistencyProofSchema,
  KeysPage: keysPageSchema,
  Member: memberSchema,
  NodeStatus: nodeStatusSchema,
  ClusterNodes: clusterNodesSchema,
  Leader: leaderSchema,
  NodeAdded: nodeAddedSchema,
  NodeRemoved: nodeRemovedSchema,
  ProposeAnswer: proposeAnswerSchema,
  ReadIndex: t.Object({ read_index: index("A linearizable read index.") }),
  LedgerSize: t.Object({ raft_index: index("The Raft index asked for."), ledger_size: index("The ledger size applied at it.") }),
  Metrics: metricsSchema,
  Health: healthSchema,
  ReadinessCheck: checkSchema,
  Ready: readySchema,
  Root: rootSchema,
  BatchPut: batchPutSchema,
  BatchDelete: batchDeleteSchema,
  OpenApi: t.Object({ openapi: t.String(), info: t.Object({}, { additionalProperties: true }), paths: t.Object({}, { additionalProperties: true }) }, { additionalProperties: true }),
} as const satisfies Record<string, TSchema>;

export type ResponseSchemaName = keyof typeof responseSchemas;
