import { describe, expect, test } from "bun:test";
import { SeededRandom, toHex } from "../../src/lib/index.ts";
import {
  consistencyProofPlan,
  forEachNode,
  inclusionProofPlan,
  MemoryTreeStore,
  MerkleTree,
  rangeNodes,
  verifyConsistency,
  verifyInclusion,
  VerificationError,
  type NodeId,
  type NodeRun,
  type TreeStore,
} from "../../src/merkle/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";
import { ReferenceTree } from "./reference.ts";

const hasher = createNativeHasher();
const hexList = (hashes: Uint8Array[]) => hashes.map(toHex);

function leafData(count: number, offset = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new TextEncoder().encode(`entry-${offset + i}`));
}

/** A store that counts how many node ids each read asks for. */
class CountingStore implements TreeStore {
  readonly inner = new MemoryTreeStore();
  lastRead = 0;
  getNodes(ids: readonly NodeId[]) {
    this.lastRead = ids.length;
    return this.inner.getNodes(ids);
  }
  putNodes(runs: readonly NodeRun[]) {
    this.inner.putNodes(runs);
  }
}

describe("compact range math", () => {
  test("rangeNodes of [0, n) is one node per set bit, largest first", () => {
    expect(rangeNodes(0, 0)).toEqual([]);
    expect(rangeNodes(0, 13)).toEqual([{ level: 3, index: 0 }, { level: 2, index: 2 }, { level: 0, index: 12 }]);
    expect(rangeNodes(0, 16)).toEqual([{ level: 4, index: 0 }]);
    expect(rangeNodes(5, 13)).toEqual([{ level: 0, index: 5 }, { level: 1, index: 3 }, { level: 2, index: 2 }, { level: 0, index: 12 }]);
  });

  test("a proof over a huge tree needs O(log n) node ids", () => {
    const size = 2 ** 50 + 2 ** 33 + 12345;
    const inclusion = inclusionProofPlan(2 ** 49 + 77, size);
    const consistency = consistencyProofPlan(2 ** 40 + 3, size);
    expect(inclusion.ids.length).toBeLessThanOrEqual(2 * 51);
    expect(consistency.ids.length).toBeLessThanOrEqual(2 * 51);
    expect(inclusion.groups.length).toBe(51);
  });
});

describe("MerkleTree against the naive reference", () => {
  const sizeMax = 300;
  const leaves = leafData(sizeMax);
  const leafHashes = leaves.map((leaf) => hasher.hashLeaf(leaf));
  const reference = new ReferenceTree(hasher, leafHashes);

  test("roots after every single append, for sizes 0..300", () => {
    const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
    expect(toHex(tree.root())).toBe(toHex(hasher.emptyRoot()));
    for (let n = 1; n <= sizeMax; n++) {
      tree.appendLeaves([leaves[n - 1]!]);
      expect(toHex(tree.root())).toBe(toHex(reference.root(n)));
    }
  });

  test("batched appends of random sizes give the same nodes as one-by-one appends", () => {
    const random = new SeededRandom(7);
    for (let trial = 0; trial < 20; trial++) {
      const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
      let n = 0;
      while (n < sizeMax) {
        const count = Math.min(sizeMax - n, 1 + random.int(40));
        tree.appendLeaves(leaves.slice(n, n + count));
        n += count;
        expect(toHex(tree.root())).toBe(toHex(reference.root(n)));
      }
      for (let size = 0; size <= sizeMax; size += 1 + random.int(30)) {
        expect(toHex(tree.rootAt(size))).toBe(toHex(reference.root(size)));
      }
    }
  });

  const store = new CountingStore();
  const tree = MerkleTree.open({ hasher, store });
  tree.appendLeaves(leaves);

  test("rootAt, inclusion proofs and verification for every (index, size) up to 300", () => {
    for (let size = 1; size <= sizeMax; size++) {
      const root = reference.root(size);
      expect(toHex(tree.rootAt(size))).toBe(toHex(root));
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        expect(store.lastRead).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size + 1)));
        expect(hexList(proof)).toEqual(hexList(reference.inclusion(index, size)));
        expect(verifyInclusion(hasher, index, size, leafHashes[index]!, proof, root)).toEqual(root);
      }
    }
  });

  test("consistency proofs and verification for every (size1, size2) up to 300", () => {
    for (let size2 = 1; size2 <= sizeMax; size2++) {
      const root2 = reference.root(size2);
      for (let size1 = 0; size1 <= size2; size1++) {
        const proof = tree.consistencyProof(size1, size2);
        expect(store.lastRead).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size2 + 1)));
        expect(hexList(proof)).toEqual(hexList(reference.consistency(size1, size2)));
        expect(verifyConsistency(hasher, size1, size2, proof, reference.root(size1), root2)).toEqual(root2);
      }
    }
  });

  test("a proof checked against the wrong leaf, index or root is rejected", () => {
    const proof = tree.inclusionProof(5, 200);
    const root = reference.root(200);
    expect(() => verifyInclusion(hasher, 5, 200, leafHashes[6]!, proof, root)).toThrow("inclusion proof leads to root");
    expect(() => verifyInclusion(hasher, 4, 200, leafHashes[5]!, proof, root)).toThrow();
    expect(() => verifyInclusion(hasher, 5, 200, leafHashes[5]!, proof, reference.root(199))).toThrow();
    expect(() => verifyInclusion(hasher, 5, 200, leafHashes[5]!, proof.slice(1), root)).toThrow("too few");
    expect(() => verifyInclusion(hasher, 5, 200, leafHashes[5]!, [...proof, root], root)).toThrow("too many");
    const consistency = tree.consistencyProof(100, 200);
    expect(() => verifyConsistency(hasher, 100, 200, consistency, reference.root(101), root)).toThrow("root1");
    expect(() => verifyConsistency(hasher, 200, 100, consistency, root, reference.root(100))).toThrow("never shrinks");
  });
});

describe("larger random trees", () => {
  test("random sizes up to 70000: roots, proofs and O(log n) reads match the reference", () => {
    const random = new SeededRandom(42);
    const sizeMax = 70_000;
    const leafHashes = leafData(sizeMax).map((leaf) => hasher.hashLeaf(leaf));
    const reference = new ReferenceTree(hasher, leafHashes);
    const store = new CountingStore();
    const tree = MerkleTree.open({ hasher, store });
    const flat = new Uint8Array(sizeMax * 32);
    leafHashes.forEach((hash, i) => flat.set(hash, i * 32));
    let n = 0;
    while (n < sizeMax) {
      const count = Math.min(sizeMax - n, 1 + random.int(9000));
      tree.appendLeafHashes(flat.subarray(n * 32, (n + count) * 32));
      n += count;
      expect(toHex(tree.root())).toBe(toHex(reference.root(n)));
    }
    for (let trial = 0; trial < 200; trial++) {
      const size2 = 1 + random.int(sizeMax);
      const size1 = random.int(size2 + 1);
      const index = random.int(size2);
      const inclusion = tree.inclusionProof(index, size2);
      expect(store.lastRead).toBeLessThanOrEqual(2 * 17);
      expect(hexList(inclusion)).toEqual(hexList(reference.inclusion(index, size2)));
      verifyInclusion(hasher, index, size2, leafHashes[index]!, inclusion, reference.root(size2));
      const consistency = tree.consistencyProof(size1, size2);
      expect(store.lastRead).toBeLessThanOrEqual(2 * 17);
      expect(hexList(consistency)).toEqual(hexList(reference.consistency(size1, size2)));
      verifyConsistency(hasher, size1, size2, consistency, reference.root(size1), reference.root(size2));
    }
  });
});

describe("mutated proofs are always rejected", () => {
  test("random bit flips, wrong indexes and sizes, and truncated or extended proofs (seeded)", () => {
    const random = new SeededRandom(99);
    const sizeMax = 2000;
    const leafHashes = leafData(sizeMax).map((leaf) => hasher.hashLeaf(leaf));
    const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
    tree.appendLeaves(leafData(sizeMax));
    const flip = (proof: Uint8Array[]) => {
      const copy = proof.map((hash) => hash.slice());
      const at = random.int(copy.length);
      copy[at]![random.int(32)]! ^= 1 << random.int(8);
      return copy;
    };
    let rejected = 0;
    for (let trial = 0; trial < 300; trial++) {
      const size = 2 + random.int(sizeMax - 2);
      const index = random.int(size);
      const root = tree.rootAt(size);
      const proof = tree.inclusionProof(index, size);
      const attempts: (() => unknown)[] = [
        () => verifyInclusion(hasher, index, size, leafHashes[index]!, flip(proof), root),
        () => verifyInclusion(hasher, index, size, leafHashes[index]!, proof.slice(0, -1), root),
        () => verifyInclusion(hasher, index, size, leafHashes[index]!, [...proof, proof[0]!], root),
        () => verifyInclusion(hasher, (index + 1) % size, size, leafHashes[index]!, proof, root),
        // (Claiming size + 1 with the old root can pass when both paths have the same shape: a
        // proof binds the size only through a signed checkpoint. Against the real root it fails.)
        () => verifyInclusion(hasher, index, size + 1, leafHashes[index]!, proof, tree.rootAt(size + 1)),
      ];
      const size1 = 1 + random.int(size - 1);
      const consistency = tree.consistencyProof(size1, size);
      const root1 = tree.rootAt(size1);
      attempts.push(
        () => verifyConsistency(hasher, size1, size, flip(consistency), root1, root),
        () => verifyConsistency(hasher, size1, size, consistency.slice(0, -1), root1, root),
        () => verifyConsistency(hasher, size1, size, [...consistency, root1], root1, root),
        () => verifyConsistency(hasher, size1 + 1, size, consistency, tree.rootAt(size1 + 1), root),
        () => verifyConsistency(hasher, size1, size, consistency, root, root1),
      );
      attempts.forEach((attempt, which) => {
        expect(attempt, `attempt ${which}, size ${size}, index ${index}, size1 ${size1}`).toThrow(VerificationError);
        rejected += 1;
      });
    }
    expect(rejected).toBe(3000);
  });
});

describe("append semantics", () => {
  test("append hands every completed node to the store once, and a failing store leaves the tree unchanged", () => {
    const store = new MemoryTreeStore();
    const tree = MerkleTree.open({ hasher, store });
    const result = tree.appendLeaves(leafData(5));
    expect(result.firstIndex).toBe(0);
    expect(result.size).toBe(5);
    expect(result.runs.map((run) => [run.level, run.index, run.hashes.length / 32])).toEqual([[0, 0, 5], [1, 0, 2], [2, 0, 1]]);
    expect(toHex(result.leafHashes.subarray(32, 64))).toBe(toHex(hasher.hashLeaf(leafData(5)[1]!)));
    const visited: string[] = [];
    forEachNode(result.runs, (level, index, hash) => visited.push(`${level}/${index}:${toHex(hash) === toHex(store.getNodes([{ level, index }])[0]!)}`));
    expect(visited).toEqual(["0/0:true", "0/1:true", "0/2:true", "0/3:true", "0/4:true", "1/0:true", "1/1:true", "2/0:true"]);
    const next = tree.appendLeaves(leafData(3, 5));
    expect(next.runs.map((run) => [run.level, run.index, run.hashes.length / 32])).toEqual([[0, 5, 3], [1, 2, 2], [2, 1, 1], [3, 0, 1]]);
    expect(store.countAt(0)).toBe(8);
    expect(store.countAt(3)).toBe(1);

    const rootBefore = toHex(tree.root());
    const failing: TreeStore = { getNodes: (ids) => store.getNodes(ids), putNodes: () => { throw new Error("disk full"); } };
    const wrapped = MerkleTree.open({ hasher, store: failing, size: 8 });
    expect(() => wrapped.appendLeaves(leafData(2))).toThrow("disk full");
    expect(wrapped.size).toBe(8);
    expect(toHex(wrapped.root())).toBe(rootBefore);
  });

  test("reopening checks the expected root when given", () => {
    const store = new MemoryTreeStore();
    const tree = MerkleTree.open({ hasher, store });
    tree.appendLeaves(leafData(11));
    expect(MerkleTree.open({ hasher, store, size: 11, expectedRoot: tree.root() }).size).toBe(11);
    expect(() => MerkleTree.open({ hasher, store, size: 10, expectedRoot: tree.root() })).toThrow("expected");
  });

  test("opening a tree whose frontier is missing from the store fails loudly", () => {
    expect(() => MerkleTree.open({ hasher, store: new MemoryTreeStore(), size: 3 })).toThrow("store lacks frontier node");
  });

  test("proofs beyond the current size are refused", () => {
    const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
    tree.appendLeaves(leafData(4));
    expect(() => tree.inclusionProof(1, 5)).toThrow("beyond the current size");
    expect(() => tree.inclusionProof(4, 4)).toThrow("outside a tree of size 4");
    expect(() => tree.consistencyProof(1, 5)).toThrow("beyond the current size");
  });
});
