/**
 * @module crypto/hashers. The SHA-256 behind the Merkle Hasher, chosen at the edge: Bun's native
 * `Bun.SHA256` when the global `Bun` exists (the node always), hash-wasm's WebAssembly SHA-256
 * otherwise (the client under Node and in browsers). src/merkle builds the Hasher over whichever
 * is injected and never probes the runtime itself.
 */

import { createSHA256 } from "hash-wasm";
import { createStreamingHasher, hasherFromDigestInto, type Hasher } from "../merkle/index.ts";

interface BunSha256 {
  SHA256: { hash(data: Uint8Array, out: Uint8Array): Uint8Array };
}

function bunGlobal(): BunSha256 | undefined {
  const candidate = (globalThis as { Bun?: BunSha256 }).Bun;
  return candidate && typeof candidate.SHA256?.hash === "function" ? candidate : undefined;
}

/** True when the native backend can run here (the global `Bun` exists). */
export function hasNativeHasher(): boolean {
  return bunGlobal() !== undefined;
}

/** The native backend: `Bun.SHA256.hash(data, out)`. Throws when not running under Bun. */
export function createNativeHasher(): Hasher {
  const bun = bunGlobal();
  if (!bun) throw new Error("the native hasher needs Bun (globalThis.Bun.SHA256 is missing)");
  const sha = bun.SHA256;
  return hasherFromDigestInto("native", (data, out) => {
    sha.hash(data, out);
  });
}

let defaultNative: Hasher | undefined;

/**
 * The fastest synchronous hasher available: native under Bun. Elsewhere returns undefined;
 * callers then load a streaming hasher (`loadHasher`).
 */
export function defaultHasher(): Hasher | undefined {
  if (!hasNativeHasher()) return undefined;
  defaultNative ??= createNativeHasher();
  return defaultNative;
}

let loaded: Promise<Hasher> | undefined;

/** The process-wide hasher for any runtime: native under Bun, hash-wasm elsewhere. */
export function loadHasher(): Promise<Hasher> {
  loaded ??= (async () => defaultHasher() ?? createStreamingHasher(await createSHA256(), "wasm"))();
  // A failed load (e.g. WebAssembly disabled) is not cached: the next call tries again.
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}
