/**
 * @module client. A verifier for Scribe Ledger responses that runs in Bun, Node and browsers:
 * JSON shapes and conversions, value/entry/leaf/inclusion checks, signed checkpoints, a trusted
 * state that demands consistency proofs, and key version chains.
 */
export * from "./json.ts";
export * from "./hasher.ts";
export * from "./verify.ts";
export * from "./trusted-state.ts";
export * from "./history.ts";
export * from "./audit.ts";
export * from "./tiles.ts";
export * from "./tile-audit.ts";
export {
  formatVerifierKey,
  parseVerifierKey,
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
  parseCosignatureVerifierKey,
  formatCosignatureVerifierKey,
  cosignatureVerifierFromPublicKey,
  type Checkpoint,
  type CheckpointPolicy,
  type CosignatureVerifier,
  type KeySet,
  type NoteVerifier,
  type PolicyVerdict,
  type Threshold,
} from "../merkle/index.ts";
export * from "./http-client.ts";
export * from "./ledger-client.ts";
