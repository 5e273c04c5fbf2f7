/** @module hashers. Every Hasher backend the shared test suites run against. */
import { createSHA256 } from "hash-wasm";
import { createStreamingHasher, type Hasher } from "../../src/merkle/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";

export async function allHashers(): Promise<Hasher[]> {
  return [createNativeHasher(), createStreamingHasher(await createSHA256(), "wasm")];
}
