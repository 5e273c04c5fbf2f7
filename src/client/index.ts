/**
 * @module client. A verifier for Scribe Ledger responses that runs in Bun, Node and browsers:
 * JSON shapes and conversions, value/entry/leaf/inclusion checks, signed checkpoints, a trusted
 * state that demands consistency proofs, key version chains, and a verified GET /watch follower.
 */
// The JSON shapes of entries and proofs (defined with the ledger, shared with the server).
export {
  proofHashesMax,
  hashToHex,
  hexToHash,
  entryToJson,
  entryFromJson,
  inclusionProofToJson,
  inclusionProofFromJson,
  keyProofToJson,
  keyProofFromJson,
  consistencyProofToJson,
  consistencyProofFromJson,
  receiptFromJson,
  historyFromJson,
  keysPageFromJson,
  type EntryJson,
  type InclusionProofJson,
  type ConsistencyProofJson,
  type KeyProofJson,
  type VerifyResponseJson,
  type InclusionProof,
  type ConsistencyProof,
  type KeyProof,
  type ReceiptJson,
  type HistoryVersion,
  type KeyStateJson,
  type KeysPageJson,
} from "../ledger/index.ts";
export * from "./verify.ts";
export * from "./trusted-state.ts";
export * from "./history.ts";
export * from "./audit.ts";
export * from "./tiles.ts";
export * from "./tile-audit.ts";
export {
  formatVerifierKey,
  verifyNote,
  verifyInclusion,
  verifyConsistency,
  VerificationError,
  verifyCheckpointPolicy,
  verifyNotePolicy,
  followKeyHistory,
  parseKeysBody,
  formatKeysBody,
  parseThreshold,
  requiredCount,
  sameKeys,
  formatCosignatureVerifierKey,
  type Checkpoint,
  type CheckpointPolicy,
  type CosignatureVerifier,
  type KeySet,
  type NoteVerifier,
  type PolicyVerdict,
  type Threshold,
} from "../merkle/index.ts";
// Parsing keys and loading the hasher are WebCrypto / hash-wasm work, done in src/crypto.
export { loadHasher, parseVerifierKey, parseCosignatureVerifierKey, cosignatureVerifierFromPublicKey } from "../crypto/index.ts";
export * from "./http-client.ts";
export * from "./ledger-client.ts";
export * from "./ndjson.ts";
export * from "./watch-verify.ts";
export * from "./watch.ts";
