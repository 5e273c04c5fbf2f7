/**
 * @module compact-range. The compact range of the leaves [0, size): one complete subtree hash
 * per set bit of `size`, largest (leftmost) first, as `rangeNodes(0, size)` names them. It is all
 * a verifier needs to keep to append leaves one by one and compute the root of every size it
 * reaches, in O(log n) memory: a watch client starts from the range a node sends for the
 * stream's first index (or from its own), appends every leaf it receives, and compares the root
 * with a signed checkpoint.
 */

import { assert } from "../lib/index.ts";
import { hashSize, type Hasher } from "./hasher.ts";
import { rangeNodes } from "./node-id.ts";

interface RangeNode {
  level: number;
  hash: Uint8Array;
}

export class CompactRange {
  private readonly nodes: RangeNode[];
  private leafCount: number;

  private constructor(
    private readonly hasher: Hasher,
    size: number,
    nodes: RangeNode[],
  ) {
    this.leafCount = size;
    this.nodes = nodes;
  }

  /** The range of the empty tree. */
  static empty(hasher: Hasher): CompactRange {
    return new CompactRange(hasher, 0, []);
  }

  /**
   * The range of [0, size) from its hashes, largest subtree first (one per set bit of `size`).
   * Throws a RangeError when the count or a hash's length does not fit `size`: the hashes come
   * from elsewhere (a node), and a wrong shape is the sender's mistake, not an invariant here.
   */
  static fromHashes(hasher: Hasher, size: number, hashes: readonly Uint8Array[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad compact range size ${size}`);
    const ids = rangeNodes(0, size);
    if (hashes.length !== ids.length) throw new RangeError(`the compact range of ${size} leaves has ${ids.length} hashes, got ${hashes.length}`);
    const nodes = ids.map((id, i) => {
      const hash = hashes[i]!;
      if (hash.length !== hashSize) throw new RangeError(`compact range hash ${i} is ${hash.length} bytes, want ${hashSize}`);
      return { level: id.level, hash: hash.slice() };
    });
    return new CompactRange(hasher, size, nodes);
  }

  get size(): number {
    return this.leafCount;
  }

  /** The hashes of the range, largest subtree first (what fromHashes takes). */
  hashes(): Uint8Array[] {
    return this.nodes.map((node) => node.hash.slice());
  }

  /** Appends one leaf hash: merges equal-level subtrees on the right edge. */
  append(leafHash: Uint8Array): void {
    assert(leafHash.length === hashSize, `a leaf hash is ${hashSize} bytes, got ${leafHash.length}`);
    let node: RangeNode = { level: 0, hash: leafHash.slice() };
    let last = this.nodes[this.nodes.length - 1];
    while (last && last.level === node.level) {
      this.nodes.pop();
      node = { level: node.level + 1, hash: this.hasher.hashChildren(last.hash, node.hash) };
      last = this.nodes[this.nodes.length - 1];
    }
    this.nodes.push(node);
    this.leafCount += 1;
    assert(this.nodes.length <= 64, `a compact range never holds more than 64 subtrees, has ${this.nodes.length}`);
  }

  /** The root of [0, size): the right fold of the subtrees (SHA-256("") when empty). */
  root(): Uint8Array {
    if (this.nodes.length === 0) return this.hasher.emptyRoot();
    let root = this.nodes[this.nodes.length - 1]!.hash;
    for (let i = this.nodes.length - 2; i >= 0; i--) root = this.hasher.hashChildren(this.nodes[i]!.hash, root);
    return root.slice();
  }

  /** An independent copy. */
  clone(): CompactRange {
    return new CompactRange(
      this.hasher,
      this.leafCount,
      this.nodes.map((node) => ({ level: node.level, hash: node.hash })),
    );
  }
}
