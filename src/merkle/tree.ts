/**
 * @module tree. An append-only RFC 9162 Merkle tree: a compact range (the frontier: one complete
 * subtree hash per set bit of the size) in memory, and every complete subtree handed to a
 * TreeStore as it is completed. Roots of past sizes and proofs read O(log n) stored nodes.
 *
 * Usage: `const tree = MerkleTree.open({ hasher, store, size })` (size = leaves already stored,
 * 0 for a new tree); `tree.appendLeafHashes(hashes)` or `tree.appendLeaves(data)`; `tree.root()`;
 * `tree.inclusionProof(i, n)`; `tree.consistencyProof(m, n)`.
 */

import { assert, bytesEqual, toHex } from "../lib/index.ts";
import { hashSize, type Hasher } from "./hasher.ts";
import { rangeNodes, type NodeId } from "./node-id.ts";
import { consistencyProofPlan, foldPlan, inclusionProofPlan, rootPlan, type HashPlan } from "./proof.ts";
import type { NodeRun, TreeStore } from "./tree-store.ts";

/** Most leaves one append call takes: 2^24 leaves is 512 MiB of leaf hashes plus parents. */
export const appendLeavesMax = 2 ** 24;

export interface TreeOptions {
  hasher: Hasher;
  store: TreeStore;
  /** Leaves already in the store (0 for a new tree). */
  size?: number;
  /** When given, the reopened tree's root must equal it (e.g. the last signed checkpoint's root). */
  expectedRoot?: Uint8Array;
}

export interface AppendResult {
  /** Index of the first appended leaf (= the size before). */
  readonly firstIndex: number;
  /** Tree size after the append. */
  readonly size: number;
  /** The appended leaf hashes, 32 bytes each, back to back (the level 0 run). */
  readonly leafHashes: Uint8Array;
  /** The complete nodes written to the store, level 0 (the leaf hashes) first. */
  readonly runs: readonly NodeRun[];
}

/** Frontier: frontier[level] is the hash of the complete node at that level if size has that bit. */
type Frontier = (Uint8Array | undefined)[];

export class MerkleTree {
  readonly hasher: Hasher;
  readonly store: TreeStore;
  private frontier: Frontier;
  private leafCount: number;
  private cachedRoot: Uint8Array | undefined;

  private constructor(hasher: Hasher, store: TreeStore, size: number, frontier: Frontier) {
    this.hasher = hasher;
    this.store = store;
    this.leafCount = size;
    this.frontier = frontier;
  }

  /** Opens a tree of `size` leaves whose nodes are in `store`, reading only its frontier. */
  static open(options: TreeOptions): MerkleTree {
    const size = options.size ?? 0;
    assert(Number.isSafeInteger(size) && size >= 0, `bad tree size ${size}`);
    const ids = rangeNodes(0, size);
    const hashes = options.store.getNodes(ids);
    const frontier: Frontier = [];
    ids.forEach((id, i) => {
      const hash = hashes[i];
      assert(hash && hash.length === hashSize, `store lacks frontier node ${id.level}/${id.index} of a tree of size ${size}`);
      frontier[id.level] = hash;
    });
    const tree = new MerkleTree(options.hasher, options.store, size, frontier);
    if (options.expectedRoot) {
      assert(bytesEqual(tree.root(), options.expectedRoot), `stored tree of size ${size} has root ${toHex(tree.root())}, expected ${toHex(options.expectedRoot)}`);
    }
    return tree;
  }

  get size(): number {
    return this.leafCount;
  }

  /** The current root, from the in-memory frontier (no store read). */
  root(): Uint8Array {
    if (this.cachedRoot) return this.cachedRoot.slice();
    let root: Uint8Array | undefined;
    for (let level = 0; level < this.frontier.length; level++) {
      const node = this.frontier[level];
      if (!node) continue;
      root = root ? this.hasher.hashChildren(node, root) : node;
    }
    this.cachedRoot = root ?? this.hasher.emptyRoot();
    return this.cachedRoot.slice();
  }

  /** Hashes each datum as a leaf (0x00 prefix) and appends them in order. */
  appendLeaves(leaves: readonly Uint8Array[]): AppendResult {
    return this.appendLeafHashes(this.hasher.hashLeaves(leaves));
  }

  /**
   * Appends leaf hashes (32 bytes each, back to back), stores every newly completed node with one
   * store.putNodes call, then advances the frontier. If the store throws, the tree is unchanged.
   * The result's leafHashes and level 0 run alias `leafHashes` (no copy is made).
   */
  appendLeafHashes(leafHashes: Uint8Array): AppendResult {
    assert(leafHashes.length % hashSize === 0, `leaf hashes must be a multiple of ${hashSize} bytes, got ${leafHashes.length}`);
    const count = leafHashes.length / hashSize;
    assert(count <= appendLeavesMax, `append of ${count} leaves exceeds ${appendLeavesMax}`);
    const firstIndex = this.leafCount;
    if (count === 0) return { firstIndex, size: firstIndex, leafHashes, runs: [] };
    const frontier = this.frontier.slice();
    const runs: NodeRun[] = [];
    let level = 0;
    let nodes = leafHashes;
    let start = firstIndex;
    while (nodes.length > 0) {
      runs.push({ level, index: start, hashes: nodes });
      const parents = this.combineLevel(frontier, level, start, nodes);
      nodes = parents.hashes;
      start = parents.index;
      level += 1;
    }
    this.store.putNodes(runs);
    this.frontier = frontier;
    this.leafCount = firstIndex + count;
    this.cachedRoot = undefined;
    return { firstIndex, size: this.leafCount, leafHashes, runs };
  }

  /**
   * Pairs the new nodes of one level (starting at index `start`, joined on the left by the
   * frontier node when `start` is odd) into parents; leaves the odd last node in the frontier.
   */
  private combineLevel(frontier: Frontier, level: number, start: number, nodes: Uint8Array): { index: number; hashes: Uint8Array } {
    const count = nodes.length / hashSize;
    const joinsFrontier = start % 2 === 1;
    const total = count + (joinsFrontier ? 1 : 0);
    const pairs = Math.floor(total / 2);
    const parents = new Uint8Array(pairs * hashSize);
    let consumed = 0;
    if (joinsFrontier) {
      const left = frontier[level];
      assert(left, `frontier lacks level ${level} while appending at odd index ${start}`);
      if (pairs > 0) {
        parents.set(this.hasher.hashChildren(left, nodes.subarray(0, hashSize)), 0);
        consumed = 1;
      }
    }
    const restPairs = pairs - (joinsFrontier ? 1 : 0);
    if (restPairs > 0) {
      const begin = consumed * hashSize;
      this.hasher.hashLevel(nodes.subarray(begin, begin + restPairs * 2 * hashSize), parents.subarray(joinsFrontier ? hashSize : 0));
    }
    frontier[level] = total % 2 === 1 ? nodes.slice(nodes.length - hashSize) : undefined;
    return { index: (start - (joinsFrontier ? 1 : 0)) / 2, hashes: parents };
  }

  private fetch(plan: HashPlan): Uint8Array[] {
    return foldPlan(plan, this.store.getNodes(plan.ids), this.hasher);
  }

  /** Root of the tree when it had `size` leaves (size <= current size); O(log n) store reads. */
  rootAt(size: number): Uint8Array {
    assert(Number.isSafeInteger(size) && size >= 0 && size <= this.leafCount, `no root for size ${size} in a tree of ${this.leafCount}`);
    if (size === 0) return this.hasher.emptyRoot();
    if (size === this.leafCount) return this.root();
    return this.fetch(rootPlan(size))[0]!;
  }

  /** Stored hash of leaf `index`. */
  leafHash(index: number): Uint8Array {
    assert(Number.isSafeInteger(index) && index >= 0 && index < this.leafCount, `leaf ${index} is outside the tree of ${this.leafCount}`);
    const [hash] = this.store.getNodes([{ level: 0, index }]);
    assert(hash, `store lacks leaf ${index}`);
    return hash;
  }

  /** RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves (size <= current size). */
  inclusionProof(index: number, size: number): Uint8Array[] {
    assert(size <= this.leafCount, `tree size ${size} is beyond the current size ${this.leafCount}`);
    return this.fetch(inclusionProofPlan(index, size));
  }

  /** RFC 9162 consistency proof from `size1` to `size2` (size1 <= size2 <= current size). */
  consistencyProof(size1: number, size2: number): Uint8Array[] {
    assert(size2 <= this.leafCount, `tree size ${size2} is beyond the current size ${this.leafCount}`);
    return this.fetch(consistencyProofPlan(size1, size2));
  }

  /**
   * The compact range of the leaves [0, size) (size <= current size): one stored subtree hash per
   * set bit of `size`, largest first (see compact-range.ts). O(log n) store reads.
   */
  compactRange(size: number): Uint8Array[] {
    assert(Number.isSafeInteger(size) && size >= 0 && size <= this.leafCount, `no compact range of size ${size} in a tree of ${this.leafCount}`);
    const ids = rangeNodes(0, size);
    const hashes = this.store.getNodes(ids);
    return ids.map((id, i) => {
      const hash = hashes[i];
      assert(hash && hash.length === hashSize, `store lacks node ${id.level}/${id.index} of the compact range of size ${size}`);
      return hash;
    });
  }

  /** The ids of the frontier nodes (the compact range of [0, size)). */
  frontierIds(): NodeId[] {
    return rangeNodes(0, this.leafCount);
  }
}
