/**
 * @module body-errors. A request body that fails its schema (src/http/request-schemas.ts) gets
 * the same `{error, code}` the hand-written checks used to give: the router's first schema error
 * is turned into a ScribeError naming the field, with the codes of the API (invalid_request,
 * invalid_key, batch_too_large). For a batch operation, whose schema is a union of put and
 * delete, the operation is checked again against the variant its `op` names, so the message
 * names the field at fault, not "expected union value"; a /cluster/cosign body, a union of three
 * one-field objects, gets the one sentence that says what it must be.
 */

import { Value, ValueErrorType, type ValueError } from "@sinclair/typebox/value";
import type { TObject } from "@sinclair/typebox";
import { ScribeError } from "../lib/index.ts";
import { batchDeleteSchema, batchPutSchema, cosignFields, requestBodies, type RequestBodyName, type SchemaLimits } from "./request-schemas.ts";

const putVariant = batchPutSchema;
const deleteVariant = batchDeleteSchema;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The path's segments: "/ops/3/key" → ["ops", "3", "key"]. */
function segments(path: string): string[] {
  return path.split("/").slice(1);
}

function unknownFields(value: Record<string, unknown>, schema: TObject): string[] {
  return Object.keys(value).filter((key) => !(key in schema.properties));
}

const batchShape = `the batch body must be {"ops": [...]}`;
const batchFields = ["ops", "idempotency_key"];

function batchFailure(error: ValueError, body: unknown, limits: SchemaLimits): ScribeError {
  const [first, position] = segments(error.path);
  const ops = isPlainObject(body) ? body.ops : undefined;
  if (first === "idempotency_key" && isPlainObject(body)) {
    return new ScribeError("invalid_request", `idempotency_key must be a string (1..255 bytes of printable UTF-8), got ${JSON.stringify(body.idempotency_key)}`);
  }
  if (first !== "ops" || !Array.isArray(ops)) {
    if (isPlainObject(body) && Array.isArray(body.ops) && error.type === ValueErrorType.ObjectAdditionalProperties) {
      return new ScribeError("invalid_request", `the batch body has unknown field(s): ${Object.keys(body).filter((k) => !batchFields.includes(k)).join(", ")}; ${batchShape}`);
    }
    return new ScribeError("invalid_request", batchShape);
  }
  if (position === undefined) {
    if (error.type === ValueErrorType.ArrayMaxItems) return new ScribeError("batch_too_large", `the batch has ${ops.length} operations; the most is ${limits.batchOpsMax}`);
    if (error.type === ValueErrorType.ArrayMinItems) return new ScribeError("invalid_request", "the batch has no operations");
    return new ScribeError("invalid_request", batchShape);
  }
  return operationFailure(ops[Number(position)], Number(position));
}

/** Why one batch operation fails its schema, checked against the variant its `op` names. */
function operationFailure(raw: unknown, i: number): ScribeError {
  const where = `ops[${i}]`;
  if (!isPlainObject(raw)) return new ScribeError("invalid_request", `${where} must be an object`);
  const variant = raw.op === "put" ? putVariant : raw.op === "delete" ? deleteVariant : undefined;
  if (!variant) return new ScribeError("invalid_request", `${where}.op must be "put" or "delete", got ${JSON.stringify(raw.op)}`);
  const unknown = unknownFields(raw, variant);
  if (unknown.length > 0) return new ScribeError("invalid_request", `${where} has unknown field(s): ${unknown.join(", ")}`);
  const error = Value.Errors(variant, raw).First();
  const field = error ? segments(error.path)[0] : undefined;
  switch (field) {
    case "key":
      return new ScribeError("invalid_key", `${where}.key: ${raw.key === undefined || raw.key === "" ? "the key is empty" : `the key must be a string, got ${JSON.stringify(raw.key)}`}; keys are 1..1024 bytes of UTF-8`);
    case "if_match":
      return new ScribeError("invalid_request", `${where}.if_match must be a non-negative integer`);
    case "if_none_match":
      return new ScribeError("invalid_request", `${where}.if_none_match must be true or false`);
    case "content_type":
      return new ScribeError("invalid_request", `${where}.content_type must be a string of at most 255 printable ASCII characters`);
    case "value":
    case "value_base64":
      return new ScribeError("invalid_request", `${where} needs a string "value" or "value_base64"`);
    default:
      return new ScribeError("invalid_request", `${where}: ${error?.message ?? "does not match the batch operation schema"}`);
  }
}

const fieldWords: Record<string, string> = {
  node_id: "node_id must be a positive integer",
  address: "address must be the node's Raft host:port",
  client: "client must be the node's HTTP host:port",
  size: "size must be a non-negative integer",
  key: "key must be a string (a verifier key)",
  proof: "proof must be a string (a signed note)",
};

/** An object body of named fields: /cluster/nodes/add, /cluster/nodes/remove, /cluster/checkpoint, /cluster/keys. */
function fieldsFailure(error: ValueError, body: unknown, schema: TObject): ScribeError {
  if (!isPlainObject(body)) return new ScribeError("invalid_request", "the body must be a JSON object");
  const [field] = segments(error.path);
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return new ScribeError("invalid_request", `unknown field(s): ${unknownFields(body, schema).join(", ")}`);
  const words = field === undefined ? undefined : fieldWords[field];
  if (words) return new ScribeError("invalid_request", `${words}, got ${JSON.stringify(body[field!])}`);
  return new ScribeError("invalid_request", `the body does not match its schema: ${error.message}`);
}

/** POST /cluster/cosign: whatever failed, the body is not one of its three one-field objects. */
function cosignFailure(body: unknown): ScribeError {
  if (!isPlainObject(body)) return new ScribeError("invalid_request", "the body must be a JSON object");
  const fields = Object.keys(body);
  return new ScribeError("invalid_request", `give exactly one of ${cosignFields.join(", ")}, a string; got ${fields.join(", ") || "nothing"}`);
}

/** The API's error for a body of kind `name` whose first schema error is `error`. */
export function bodyFailure(name: RequestBodyName, error: ValueError | undefined, body: unknown, limits: SchemaLimits): ScribeError {
  if (!error) return new ScribeError("invalid_request", "the request body does not match its schema");
  switch (name) {
    case "BatchRequest":
      return batchFailure(error, body, limits);
    case "CosignRequest":
      return cosignFailure(body);
    default:
      return fieldsFailure(error, body, requestBodies[name](limits));
  }
}
