/**
 * @module crypto. The edge that implements the crypto the pure cores take as injected
 * interfaces: Ed25519 and the signed-note key functions over WebCrypto (ed25519.ts), and the
 * SHA-256 behind the Merkle Hasher, native under Bun or hash-wasm elsewhere (hashers.ts).
 * Portable: no `bun`/`node:` imports, so the client uses it in Node and browsers as the node does.
 */
export * from "./ed25519.ts";
export * from "./hashers.ts";
