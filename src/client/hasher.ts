/**
 * @module client/hasher. Picks the fastest SHA-256 available: Bun's native hashing when the
 * global `Bun` exists, hash-wasm's WebAssembly SHA-256 otherwise (Node, browsers).
 */

import { createSHA256 } from "hash-wasm";
import { createStreamingHasher, defaultHasher, type Hasher } from "../merkle/index.ts";

let loaded: Promise<Hasher> | undefined;

/** The process-wide client hasher (native under Bun, hash-wasm elsewhere). */
export function loadHasher(): Promise<Hasher> {
  loaded ??= (async () => defaultHasher() ?? createStreamingHasher(await createSHA256(), "wasm"))();
  // A failed load (e.g. WebAssembly disabled) is not cached: the next call tries again.
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}
