/**
 * @module request-schemas. The JSON request bodies of the HTTP API as TypeBox schemas (Elysia's
 * `t`), which the router validates before a handler runs: POST /batch, /cluster/nodes/add,
 * /cluster/nodes/remove, and the node-to-node /cluster/cosign, /cluster/checkpoint,
 * /cluster/keys (each route names its own in the route table; src/http/app.ts attaches them to
 * their routes). They are also components of the OpenAPI document (src/http/openapi.ts), so the
 * document says exactly what the node checks.
 *
 * What a schema cannot say stays in code, after validation (src/http/parse.ts `batchOperations`
 * and `batchIdempotencyKey`, src/http/cluster-routes.ts): a key's UTF-8 validity and byte length
 * (JSON strings count UTF-16 units), a value's UTF-8 validity, base64 validity and byte length,
 * exactly one of `value` and `value_base64`, an idempotency key's bytes, and `host:port` syntax.
 * src/http/body-errors.ts turns a failed schema check into the same `{error, code}` the
 * hand-written checks gave.
 */

import type { Static } from "@sinclair/typebox";
import { t, type TSchema } from "elysia";
import { contentTypeBytesMax } from "../ledger/index.ts";
import { integer } from "./schema-fields.ts";

/** The limits a request schema depends on (from the configuration; see AppLimits). */
export interface SchemaLimits {
  batchOpsMax: number;
}

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
