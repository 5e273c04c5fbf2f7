/**
 * @module hasher. RFC 9162 hashing behind one batch-oriented interface, built over an injected
 * SHA-256: a function that writes a digest into a buffer (`hasherFromDigestInto`; Bun's native
 * SHA-256 in src/crypto/hashers.ts) or a streaming hash with init/update/digest (such as
 * hash-wasm's `createSHA256()`). The SHA-256 is always injected, so this module stays pure.
 *
 * Leaf hash = SHA-256(0x00 || data); node hash = SHA-256(0x01 || left || right);
 * the empty tree hashes to SHA-256("").
 */

import { assert, fail } from "../lib/index.ts";

/** Size of every hash in bytes. */
export const hashSize = 32;
export const leafPrefix = 0x00;
export const nodePrefix = 0x01;

/**
 * A SHA-256 Merkle hasher. Batch calls let a backend amortise per-call overhead.
 * Every returned hash is a fresh 32-byte array (or written into `out` when given).
 */
export interface Hasher {
  /** A short name for logs and benchmarks, e.g. "native" or "wasm". */
  readonly name: string;
  /** SHA-256 of arbitrary bytes (no prefix). */
  digest(data: Uint8Array): Uint8Array;
  /** SHA-256 of the empty string: the root of the empty tree. */
  emptyRoot(): Uint8Array;
  /** SHA-256(0x00 || data). */
  hashLeaf(data: Uint8Array): Uint8Array;
  /** SHA-256(0x01 || left || right); both inputs are 32 bytes. */
  hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array;
  /**
   * Hashes many leaves in one call. Returns (or fills `out`, which must hold 32 * n bytes)
   * the n leaf hashes laid out contiguously.
   */
  hashLeaves(leaves: readonly Uint8Array[], out?: Uint8Array): Uint8Array;
  /**
   * `hashLeaves` over leaves packed in one buffer, each behind one spare byte that this sets to
   * the leaf prefix: leaf i ends at `ends[i]`, its spare byte is at `ends[i - 1]` (0 for the first).
   */
  hashLeavesPacked(packed: Uint8Array, ends: Uint32Array, out?: Uint8Array): Uint8Array;
  /**
   * Hashes one tree level in one call: `level` holds 2k contiguous 32-byte hashes; the result
   * (or `out`, 32 * k bytes) holds the k parents hashChildren(level[2i], level[2i+1]).
   */
  hashLevel(level: Uint8Array, out?: Uint8Array): Uint8Array;
}

/** The part of a streaming SHA-256 that the streaming backend needs (hash-wasm's IHasher fits). */
export interface StreamingSha256 {
  init(): unknown;
  update(data: Uint8Array): unknown;
  digest(outputType: "binary"): Uint8Array;
}

/** Largest input hashed into one reusable scratch buffer; longer leaves get their own buffer. */
const scratchLeafBytesMax = 64 * 1024;

function checkLevel(level: Uint8Array, out: Uint8Array | undefined): Uint8Array {
  assert(level.length % (2 * hashSize) === 0, `a level must hold pairs of hashes, got ${level.length} bytes`);
  const parents = level.length / (2 * hashSize);
  const target = out ?? new Uint8Array(parents * hashSize);
  assert(target.length >= parents * hashSize, `output holds ${target.length} bytes, need ${parents * hashSize}`);
  return target;
}

/** Writes SHA-256(data) into the 32-byte `out`. */
export type Sha256Into = (data: Uint8Array, out: Uint8Array) => void;

/** Builds a Hasher from a function that writes SHA-256(data) into a 32-byte `out`. */
export function hasherFromDigestInto(name: string, sha256Into: Sha256Into): Hasher {
  let scratch = new Uint8Array(1 + scratchLeafBytesMax);
  const pair = new Uint8Array(1 + 2 * hashSize);
  pair[0] = nodePrefix;

  const leafInto = (data: Uint8Array, out: Uint8Array): void => {
    if (data.length > scratchLeafBytesMax) {
      const whole = new Uint8Array(1 + data.length);
      whole[0] = leafPrefix;
      whole.set(data, 1);
      sha256Into(whole, out);
      return;
    }
    scratch[0] = leafPrefix;
    scratch.set(data, 1);
    sha256Into(scratch.subarray(0, 1 + data.length), out);
  };

  return {
    name,
    digest(data) {
      const out = new Uint8Array(hashSize);
      sha256Into(data, out);
      return out;
    },
    emptyRoot() {
      const out = new Uint8Array(hashSize);
      sha256Into(new Uint8Array(0), out);
      return out;
    },
    hashLeaf(data) {
      const out = new Uint8Array(hashSize);
      leafInto(data, out);
      return out;
    },
    hashChildren(left, right) {
      assert(left.length === hashSize && right.length === hashSize, "children must be 32-byte hashes");
      pair.set(left, 1);
      pair.set(right, 1 + hashSize);
      const out = new Uint8Array(hashSize);
      sha256Into(pair, out);
      return out;
    },
    hashLeaves(leaves, out) {
      const target = out ?? new Uint8Array(leaves.length * hashSize);
      assert(target.length >= leaves.length * hashSize, "output too small for the leaves");
      for (let i = 0; i < leaves.length; i++) {
        leafInto(leaves[i]!, target.subarray(i * hashSize, (i + 1) * hashSize));
      }
      return target;
    },
    hashLeavesPacked(packed, ends, out) {
      const target = out ?? new Uint8Array(ends.length * hashSize);
      if (target.length < ends.length * hashSize) fail("output too small for the leaves");
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i]!;
        if (!(end > start && end <= packed.length)) fail(`leaf ${i} ends at ${end}, after ${start}, in ${packed.length} bytes`);
        packed[start] = leafPrefix;
        sha256Into(packed.subarray(start, end), target.subarray(i * hashSize, (i + 1) * hashSize));
        start = end;
      }
      return target;
    },
    hashLevel(level, out) {
      const target = checkLevel(level, out);
      const parents = level.length / (2 * hashSize);
      for (let i = 0; i < parents; i++) {
        pair.set(level.subarray(i * 2 * hashSize, (i + 1) * 2 * hashSize), 1);
        sha256Into(pair, target.subarray(i * hashSize, (i + 1) * hashSize));
      }
      return target;
    },
  };
}

/**
 * The streaming backend over an injected SHA-256 (e.g. `await createSHA256()` from hash-wasm).
 * The instance is reused for every hash, so the Hasher is not re-entrant across async calls
 * (none of its methods are async).
 */
export function createStreamingHasher(sha: StreamingSha256, name = "wasm"): Hasher {
  return hasherFromDigestInto(name, (data, out) => {
    sha.init();
    sha.update(data);
    out.set(sha.digest("binary"));
  });
}
