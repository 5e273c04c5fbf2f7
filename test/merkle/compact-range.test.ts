/**
 * The compact range a watch client keeps: started empty or from a tree's stored range at any
 * size, extended leaf by leaf, its root equals the tree's (and the naive reference's) at every
 * size; a range of the wrong shape is refused.
 */
import { expect, test } from "bun:test";
import { toHex } from "../../src/lib/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";
import { CompactRange, MemoryTreeStore, MerkleTree } from "../../src/merkle/index.ts";
import { ReferenceTree } from "./reference.ts";

const hasher = createNativeHasher();
const leaves = Array.from({ length: 140 }, (_, i) => new TextEncoder().encode(`leaf-${i}`));

test("from every starting size, appending leaf by leaf gives the tree's root at every size", () => {
  const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
  tree.appendLeaves(leaves);
  const leafHashes = leaves.map((leaf) => hasher.hashLeaf(leaf));
  const reference = new ReferenceTree(hasher, leafHashes);
  for (let start = 0; start <= leaves.length; start += 7) {
    const range = CompactRange.fromHashes(hasher, start, tree.compactRange(start));
    expect(toHex(range.root())).toBe(toHex(tree.rootAt(start)));
    for (let size = start + 1; size <= leaves.length; size++) {
      range.append(leafHashes[size - 1]!);
      expect(range.size).toBe(size);
      expect(toHex(range.root()), `start ${start}, size ${size}`).toBe(toHex(reference.root(size)));
    }
    expect(CompactRange.fromHashes(hasher, range.size, range.hashes()).root()).toEqual(range.root());
  }
  expect(toHex(CompactRange.empty(hasher).root())).toBe(toHex(hasher.emptyRoot()));
});

test("a range of the wrong shape is refused; a clone is independent", () => {
  const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
  tree.appendLeaves(leaves.slice(0, 13));
  const hashes = tree.compactRange(13);
  expect(hashes.length).toBe(3);
  expect(() => CompactRange.fromHashes(hasher, 12, hashes)).toThrow(RangeError);
  expect(() => CompactRange.fromHashes(hasher, 13, [hashes[0]!, hashes[1]!, new Uint8Array(31)])).toThrow(RangeError);
  const range = CompactRange.fromHashes(hasher, 13, hashes);
  const copy = range.clone();
  range.append(hasher.hashLeaf(leaves[13]!));
  expect(copy.size).toBe(13);
  expect(toHex(copy.root())).toBe(toHex(tree.rootAt(13)));
});
