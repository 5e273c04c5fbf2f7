/**
 * @module client/verify. Checks, from the bytes up, what a Scribe Ledger server claims:
 * value → entry (valueHash, size), entry → leaf hash (canonical encoding), leaf → root
 * (inclusion proof), root → signed checkpoint (Ed25519 note), checkpoint → trusted history
 * (consistency, via TrustedState). Never trusts the server's own `verified` flag.
 */

import { encodeEntry, entryFromJson, entryLeafMismatch, inclusionProofFromJson, keyProofFromJson, valueMismatch, type Entry, type InclusionProof } from "../ledger/index.ts";
import { bytesEqual, toHex } from "../lib/index.ts";
import { VerificationError, verifyInclusion, type Checkpoint, type CheckpointPolicy, type Hasher, type NoteVerifier } from "../merkle/index.ts";
import { loadHasher } from "../crypto/index.ts";
import { verifyUnderPolicy, type FetchConsistency, type TrustedState } from "./trusted-state.ts";

/** SHA-256 of a value: the entry's valueHash. */
export function valueHashOf(value: Uint8Array, hasher: Hasher): Uint8Array {
  return hasher.digest(value);
}

/** The leaf hash of an entry: SHA-256(0x00 || encodeEntry(entry)). */
export function leafHashOfEntry(entry: Entry, hasher: Hasher): Uint8Array {
  return hasher.hashLeaf(encodeEntry(entry));
}

/** Checks that `value` is the value the entry commits to (hash and size; empty for a delete). */
export function verifyValue(value: Uint8Array, entry: Entry, hasher: Hasher): void {
  const mismatch = valueMismatch(entry, value, hasher);
  if (mismatch) throw new VerificationError(mismatch);
}

/** Checks that the entry's canonical encoding hashes to `leafHash`. */
export function verifyEntryLeaf(entry: Entry, leafHash: Uint8Array, hasher: Hasher): void {
  const mismatch = entryLeafMismatch(entry, leafHash, hasher);
  if (mismatch) throw new VerificationError(mismatch);
}

/**
 * Checks an inclusion proof (parsed, or the JSON of GET /proof/inclusion) of `leafHash` against
 * a verified checkpoint: the proof's tree size and root must be the checkpoint's.
 */
export function verifyInclusionInCheckpoint(proof: InclusionProof | unknown, leafHash: Uint8Array, checkpoint: Checkpoint, hasher: Hasher): void {
  const parsed = isInclusionProof(proof) ? proof : inclusionProofFromJson(proof);
  if (parsed.treeSize !== checkpoint.size) throw new VerificationError(`proof is for tree size ${parsed.treeSize}, checkpoint has ${checkpoint.size}`);
  if (!bytesEqual(parsed.rootHash, checkpoint.rootHash)) throw new VerificationError(`proof root ${toHex(parsed.rootHash)} is not the checkpoint root ${toHex(checkpoint.rootHash)}`);
  verifyInclusion(hasher, parsed.leafIndex, parsed.treeSize, leafHash, parsed.siblings, checkpoint.rootHash);
}

function isInclusionProof(value: unknown): value is InclusionProof {
  return typeof value === "object" && value !== null && (value as InclusionProof).rootHash instanceof Uint8Array;
}

export interface VerifyKeyOptions {
  /** The member keys whose signatures make a checkpoint acceptable: a majority of them, unless `policy` says otherwise. */
  verifiers: readonly NoteVerifier[];
  /** How many of `verifiers` must have signed, and which witnesses must have cosigned. */
  policy?: Omit<CheckpointPolicy, "members" | "origin">;
  /** The checkpoint's origin must equal this when given. */
  origin?: string;
  /** The key the caller asked about; the response must be about it. */
  key?: string;
  /** When given, the value (as fetched by GET /:key) must match the entry. */
  value?: Uint8Array;
  /** When given, the checkpoint must be consistent with the trusted one (and may replace it). */
  trustedState?: TrustedState;
  /** Needed with trustedState: fetches GET /proof/consistency. */
  fetchConsistency?: FetchConsistency;
  hasher?: Hasher;
}

export interface VerifiedKey {
  entry: Entry;
  leafHash: Uint8Array;
  checkpoint: Checkpoint;
}

/**
 * Verifies a GET /verify/:key response end to end: entry → leaf → inclusion → signed
 * checkpoint (→ trusted state → value when given). Returns the verified entry and checkpoint.
 */
export async function verifyKeyResponse(response: unknown, options: VerifyKeyOptions): Promise<VerifiedKey> {
  const hasher = options.hasher ?? (await loadHasher());
  if (typeof response !== "object" || response === null) throw new VerificationError("verify response must be a JSON object");
  const body = response as Record<string, unknown>;
  if (typeof body.error === "string" && body.error.length > 0 && (body.entry === undefined || body.entry === null)) {
    throw new VerificationError(`server could not prove key ${JSON.stringify(body.key)}: ${body.error}`);
  }
  const entry = entryFromJson(body.entry);
  if (body.key !== entry.key) throw new VerificationError(`response is about key ${JSON.stringify(body.key)} but its entry is for ${JSON.stringify(entry.key)}`);
  if (options.key !== undefined && entry.key !== options.key) throw new VerificationError(`asked about key ${JSON.stringify(options.key)}, got ${JSON.stringify(entry.key)}`);
  const proof = keyProofFromJson(body.proof);
  if (proof.leafIndex !== entry.index) throw new VerificationError(`proof is for leaf ${proof.leafIndex}, entry has index ${entry.index}`);
  verifyEntryLeaf(entry, proof.leafHash, hasher);
  if (typeof body.checkpoint !== "string") throw new VerificationError("verify response has no signed checkpoint");
  const checkpoint = await verifyUnderPolicy(body.checkpoint, options);
  verifyInclusionInCheckpoint(proof, proof.leafHash, checkpoint, hasher);
  if (options.trustedState) {
    if (!options.fetchConsistency) throw new VerificationError("a trusted state needs fetchConsistency to check new checkpoints");
    await options.trustedState.update(body.checkpoint, options.fetchConsistency);
  }
  if (options.value !== undefined) verifyValue(options.value, entry, hasher);
  return { entry, leafHash: proof.leafHash, checkpoint };
}
