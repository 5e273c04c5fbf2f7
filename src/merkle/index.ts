/**
 * @module merkle. RFC 9162 Merkle tree for Scribe Ledger: hashing over an injected SHA-256, node
 * ids and proof plans (pure index math), an append-only tree over a TreeStore, proof
 * verification, C2SP checkpoints in signed notes over an injected Ed25519, and the tree as C2SP
 * tlog-tiles. Pure: imports only src/lib; the SHA-256 and Ed25519 implementations are src/crypto's.
 */
export * from "./hasher.ts";
export * from "./node-id.ts";
export * from "./proof.ts";
export * from "./verify.ts";
export * from "./tree-store.ts";
export * from "./tree.ts";
export * from "./compact-range.ts";
export * from "./note.ts";
export * from "./checkpoint.ts";
export * from "./tiles.ts";
export * from "./cosignature.ts";
export * from "./policy.ts";
export * from "./witnessed.ts";
