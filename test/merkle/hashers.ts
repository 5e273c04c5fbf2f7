/** @module hashers. Every Hasher backend the shared test suites run against. */
import { createSHA256 } from "hash-wasm";
import { createNativeHasher, createStreamingHasher, type Hasher } from "../../src/merkle/index.ts";

export async function allHashers(): Promise<Hasher[]> {
  return [createNativeHasher(), createStreamingHasher(await createSHA256(), "wasm")];
}
