/**
 * @module client. A verifier for Scribe Ledger responses that runs in Bun, Node and browsers:
 * JSON shapes and conversions, value/entry/leaf/inclusion checks, signed checkpoints, a trusted
 * state that demands consistency proofs, key version chains, and a verified GET /watch follower.
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
  type Checkpoint,
  type NoteVerifier,
} from "../merkle/index.ts";
export * from "./http-client.ts";
export * from "./ledger-client.ts";
export * from "./ndjson.ts";
export * from "./watch-verify.ts";
export * from "./watch.ts";
