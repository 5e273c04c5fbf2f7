/**
 * @module hashing. SHA-256 and the RFC 9162 hashes the cold tier checks segments with (leaf hash,
 * interior node hash: src/merkle's native hasher, the one the ledger's tree uses), and a compact
 * range (frontier) that carries the tree root across segments and is stored in the manifest.
 *
 * src/merkle's MerkleTree keeps its frontier in a TreeStore; the cold tier needs a small value it
 * can serialize, clone and rebuild from the manifest, so the range itself stays here. It is
 * cross-checked in the tests against a naive recursive MTH and against the ledger's tree roots.
 */

import { assert } from "../../lib/index.ts";
import { createNativeHasher } from "../../crypto/index.ts";

const hasher = createNativeHasher();

export function sha256(data: Uint8Array): Uint8Array {
  return hasher.digest(data);
}

/** An incremental SHA-256 over streamed bytes. */
export class StreamHash {
  private readonly hasher = new Bun.CryptoHasher("sha256");
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.hasher.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): Uint8Array {
    return new Uint8Array(this.hasher.digest() as Uint8Array);
  }
}

/** RFC 9162 leaf hash: SHA-256(0x00 || canonical entry encoding). */
export function leafHash(encodedEntry: Uint8Array): Uint8Array {
  return hasher.hashLeaf(encodedEntry);
}

/** RFC 9162 interior node hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return hasher.hashChildren(left, right);
}

export const emptyTreeHash = hasher.emptyRoot();

/**
 * The roots of the perfect subtrees covering leaves [0, size), largest first: enough to append
 * more leaves and to compute the RFC 9162 root of the tree of any size reached.
 */
export class CompactRange {
  private constructor(
    private sizeLeaves: number,
    private readonly hashes: Uint8Array[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** Rebuilds a range; precondition: one hash per set bit of `size` (asserted). */
  static from(size: number, hashes: Uint8Array[]): CompactRange {
    assert(Number.isSafeInteger(size) && size >= 0, `bad compact range size ${size}`);
    assert(popCount(size) === hashes.length, `compact range of size ${size} needs ${popCount(size)} hashes, got ${hashes.length}`);
    return new CompactRange(size, hashes.map((h) => new Uint8Array(h)));
  }

  get size(): number {
    return this.sizeLeaves;
  }

  get frontier(): readonly Uint8Array[] {
    return this.hashes;
  }

  append(leaf: Uint8Array): void {
    let hash = leaf;
    let n = this.sizeLeaves;
    while (n % 2 === 1) {
      const left = this.hashes.pop();
      assert(left !== undefined, "compact range underflow");
      hash = nodeHash(left, hash);
      n = Math.floor(n / 2);
    }
    this.hashes.push(hash);
    this.sizeLeaves += 1;
  }

  /** The RFC 9162 Merkle tree hash of the leaves appended so far. */
  root(): Uint8Array {
    if (this.hashes.length === 0) return emptyTreeHash;
    let hash = this.hashes[this.hashes.length - 1]!;
    for (let i = this.hashes.length - 2; i >= 0; i--) hash = nodeHash(this.hashes[i]!, hash);
    return hash;
  }

  clone(): CompactRange {
    return CompactRange.from(this.sizeLeaves, [...this.hashes]);
  }
}

function popCount(n: number): number {
  let count = 0;
  while (n > 0) {
    count += n % 2;
    n = Math.floor(n / 2);
  }
  return count;
}
