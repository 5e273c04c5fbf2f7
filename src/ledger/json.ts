/**
 * @module ledger/json. The HTTP JSON shapes of entries and proofs, and conversions between them
 * and in-memory values. Shared by the server (http/ and cluster/, to produce and to read a
 * peer's answers) and the client (to parse strictly).
 * Hashes are lowercase hex in JSON; parsing accepts only 64 hex digits per hash.
 */

import { contentTypeBytesMax, hashBytes, keyBytesMax, type Entry } from "./entry.ts";
import { fromHex, ScribeError, toHex, utf8 } from "../lib/index.ts";
import type { Receipt } from "./service.ts";

/** An entry as JSON (`GET /verify/:key` → `entry`, `GET /entries`). */
export interface EntryJson {
  index: number;
  op: "put" | "delete";
  key: string;
  value_hash: string;
  value_bytes: number;
  content_type: string;
  timestamp_ms: number;
  prev_index: number;
}

/** `GET /proof/inclusion?index=&tree_size=`. */
export interface InclusionProofJson {
  leaf_index: number;
  tree_size: number;
  root_hash: string;
  siblings: string[];
}

/** `GET /proof/consistency?from=&to=`. */
export interface ConsistencyProofJson {
  from: number;
  to: number;
  from_root: string;
  to_root: string;
  proof: string[];
}

/** The `proof` member of `GET /verify/:key`. */
export interface KeyProofJson {
  root_hash: string;
  siblings: string[];
  leaf_index: number;
  tree_size: number;
  leaf_hash: string;
}

/** `GET /verify/:key`. */
export interface VerifyResponseJson {
  key: string;
  verified: boolean;
  proof: KeyProofJson;
  entry: EntryJson;
  /** The signed checkpoint note the proof is against. */
  checkpoint: string;
  error: string | null;
}

export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  rootHash: Uint8Array;
  siblings: Uint8Array[];
}

export interface ConsistencyProof {
  from: number;
  to: number;
  fromRoot: Uint8Array;
  toRoot: Uint8Array;
  proof: Uint8Array[];
}

export interface KeyProof extends InclusionProof {
  leafHash: Uint8Array;
}

/** Most hashes a proof in JSON may carry (two per level of a 2^64 tree is generous). */
export const proofHashesMax = 128;

function bad(path: string, wanted: string, got: unknown): never {
  throw new ScribeError("invalid_json", `${path} must be ${wanted}, got ${JSON.stringify(got) ?? String(got)}`);
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad(path, "an object", value);
  return value as Record<string, unknown>;
}

function integer(value: unknown, path: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) bad(path, `an integer >= ${min}`, value);
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== "string") bad(path, "a string", value);
  return value;
}

/** Formats a 32-byte hash as lowercase hex. */
export function hashToHex(hash: Uint8Array): string {
  if (hash.length !== hashBytes) throw new ScribeError("invalid_request", `a hash is ${hashBytes} bytes, got ${hash.length}`);
  return toHex(hash);
}

/** Parses a 64-digit lowercase hex hash; throws ScribeError("invalid_json") naming `path`. */
export function hexToHash(value: unknown, path = "hash"): Uint8Array {
  if (typeof value !== "string" || !/^[0-9a-f]{64}$/.test(value)) bad(path, "64 lowercase hex digits", value);
  return fromHex(value)!;
}

function hashList(value: unknown, path: string): Uint8Array[] {
  if (!Array.isArray(value)) bad(path, "an array of hashes", value);
  if (value.length > proofHashesMax) bad(path, `at most ${proofHashesMax} hashes`, `${value.length} hashes`);
  return value.map((item, i) => hexToHash(item, `${path}[${i}]`));
}

export function entryToJson(entry: Entry): EntryJson {
  return {
    index: entry.index,
    op: entry.op,
    key: entry.key,
    value_hash: hashToHex(entry.valueHash),
    value_bytes: entry.valueBytes,
    content_type: entry.contentType,
    timestamp_ms: entry.timestampMs,
    prev_index: entry.prevIndex,
  };
}

/** Parses and validates an entry JSON object (every rule the canonical encoding asserts). */
export function entryFromJson(value: unknown, path = "entry"): Entry {
  const json = record(value, path);
  const index = integer(json.index, `${path}.index`, 0);
  const op = json.op;
  if (op !== "put" && op !== "delete") bad(`${path}.op`, `"put" or "delete"`, op);
  const key = text(json.key, `${path}.key`);
  const keyBytes = utf8(key).length;
  if (keyBytes < 1 || keyBytes > keyBytesMax) bad(`${path}.key`, `1..${keyBytesMax} UTF-8 bytes`, `${keyBytes} bytes`);
  const valueHash = hexToHash(json.value_hash, `${path}.value_hash`);
  const valueBytes = integer(json.value_bytes, `${path}.value_bytes`, 0);
  if (op === "delete" && valueBytes !== 0) bad(`${path}.value_bytes`, "0 for a delete", valueBytes);
  const contentType = text(json.content_type, `${path}.content_type`);
  if (utf8(contentType).length > contentTypeBytesMax) bad(`${path}.content_type`, `at most ${contentTypeBytesMax} bytes`, contentType);
  const timestampMs = integer(json.timestamp_ms, `${path}.timestamp_ms`, 0);
  const prevIndex = integer(json.prev_index, `${path}.prev_index`, -1);
  if (prevIndex >= index) bad(`${path}.prev_index`, `below index ${index}`, prevIndex);
  return { index, op, key, valueHash, valueBytes, contentType, timestampMs, prevIndex };
}

export function inclusionProofToJson(proof: InclusionProof): InclusionProofJson {
  return { leaf_index: proof.leafIndex, tree_size: proof.treeSize, root_hash: hashToHex(proof.rootHash), siblings: proof.siblings.map(hashToHex) };
}

export function inclusionProofFromJson(value: unknown, path = "proof"): InclusionProof {
  const json = record(value, path);
  const leafIndex = integer(json.leaf_index, `${path}.leaf_index`, 0);
  const treeSize = integer(json.tree_size, `${path}.tree_size`, 1);
  if (leafIndex >= treeSize) bad(`${path}.leaf_index`, `below tree_size ${treeSize}`, leafIndex);
  return { leafIndex, treeSize, rootHash: hexToHash(json.root_hash, `${path}.root_hash`), siblings: hashList(json.siblings, `${path}.siblings`) };
}

export function keyProofToJson(proof: KeyProof): KeyProofJson {
  return { ...inclusionProofToJson(proof), leaf_hash: hashToHex(proof.leafHash) };
}

export function keyProofFromJson(value: unknown, path = "proof"): KeyProof {
  const proof = inclusionProofFromJson(value, path);
  return { ...proof, leafHash: hexToHash(record(value, path).leaf_hash, `${path}.leaf_hash`) };
}

export function consistencyProofToJson(proof: ConsistencyProof): ConsistencyProofJson {
  return { from: proof.from, to: proof.to, from_root: hashToHex(proof.fromRoot), to_root: hashToHex(proof.toRoot), proof: proof.proof.map(hashToHex) };
}

export function consistencyProofFromJson(value: unknown, path = "consistency"): ConsistencyProof {
  const json = record(value, path);
  const from = integer(json.from, `${path}.from`, 0);
  const to = integer(json.to, `${path}.to`, 0);
  if (to < from) bad(`${path}.to`, `>= from (${from})`, to);
  return { from, to, fromRoot: hexToHash(json.from_root, `${path}.from_root`), toRoot: hexToHash(json.to_root, `${path}.to_root`), proof: hashList(json.proof, `${path}.proof`) };
}

/** The receipt of a committed put or delete (`PUT /kv/:key`, `DELETE /kv/:key`), as a client reads it: the JSON the node sends. */
export type ReceiptJson = Receipt;

/** One version in `GET /history/:key`: the entry, its version and its stored leaf hash. */
export interface HistoryVersion {
  entry: Entry;
  version: number;
  leafHash: Uint8Array;
}

/** A key's latest state in `GET /keys`. */
export interface KeyStateJson {
  key: string;
  index: number;
  version: number;
  deleted: boolean;
}

/** `GET /keys`: one page; `next` is the cursor of the following page (null on the last). */
export interface KeysPageJson {
  keys: KeyStateJson[];
  next: string | null;
  ledger_size: number;
}

export function receiptFromJson(value: unknown, path = "receipt"): ReceiptJson {
  const json = record(value, path);
  const op = json.op;
  if (op !== "put" && op !== "delete") bad(`${path}.op`, `"put" or "delete"`, op);
  hexToHash(json.leaf_hash, `${path}.leaf_hash`);
  return {
    key: text(json.key, `${path}.key`),
    op,
    index: integer(json.index, `${path}.index`, 0),
    version: integer(json.version, `${path}.version`, 1),
    leaf_hash: json.leaf_hash as string,
    tree_size: integer(json.tree_size, `${path}.tree_size`, 1),
    timestamp_ms: integer(json.timestamp_ms, `${path}.timestamp_ms`, 0),
  };
}

/** Parses the `versions` of `GET /history/:key`: each an entry with `version` and `leaf_hash`. */
export function historyFromJson(value: unknown, path = "history"): HistoryVersion[] {
  const json = record(value, path);
  if (!Array.isArray(json.versions)) bad(`${path}.versions`, "an array", json.versions);
  return json.versions.map((item, i) => {
    const where = `${path}.versions[${i}]`;
    return { entry: entryFromJson(item, where), version: integer(record(item, where).version, `${where}.version`, 1), leafHash: hexToHash(record(item, where).leaf_hash, `${where}.leaf_hash`) };
  });
}

export function keysPageFromJson(value: unknown, path = "keys"): KeysPageJson {
  const json = record(value, path);
  if (!Array.isArray(json.keys)) bad(`${path}.keys`, "an array", json.keys);
  const keys = json.keys.map((item, i) => {
    const where = `${path}.keys[${i}]`;
    const state = record(item, where);
    if (typeof state.deleted !== "boolean") bad(`${where}.deleted`, "true or false", state.deleted);
    return { key: text(state.key, `${where}.key`), index: integer(state.index, `${where}.index`, 0), version: integer(state.version, `${where}.version`, 1), deleted: state.deleted };
  });
  if (json.next !== null && typeof json.next !== "string") bad(`${path}.next`, "a string or null", json.next);
  return { keys, next: json.next as string | null, ledger_size: integer(json.ledger_size, `${path}.ledger_size`, 0) };
}
