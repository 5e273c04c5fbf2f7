import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { toHex } from "../../src/lib/index.ts";
import { MemoryTreeStore, MerkleTree, type Hasher } from "../../src/merkle/index.ts";
import { defaultHasher, hasNativeHasher } from "../../src/crypto/index.ts";
import { allHashers } from "./hashers.ts";

function sha256(...parts: Uint8Array[]): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(part);
  return h.digest("hex");
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

const hashers = await allHashers();

for (const hasher of hashers) {
  describe(`hasher contract: ${hasher.name}`, () => {
    test("empty root is SHA-256 of nothing", () => {
      expect(toHex(hasher.emptyRoot())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    });

    test("digest is plain SHA-256", () => {
      expect(toHex(hasher.digest(bytes(100, 1)))).toBe(sha256(bytes(100, 1)));
    });

    test("leaf hash has the 0x00 prefix, node hash the 0x01 prefix", () => {
      const data = bytes(70, 2);
      expect(toHex(hasher.hashLeaf(data))).toBe(sha256(new Uint8Array([0]), data));
      const left = bytes(32, 3);
      const right = bytes(32, 4);
      expect(toHex(hasher.hashChildren(left, right))).toBe(sha256(new Uint8Array([1]), left, right));
    });

    test("leaves of every size, including empty and larger than the scratch buffer", () => {
      for (const length of [0, 1, 55, 56, 63, 64, 65, 1000, 65535, 65536, 65537, 200_000]) {
        const data = bytes(length, length);
        expect(toHex(hasher.hashLeaf(data))).toBe(sha256(new Uint8Array([0]), data));
      }
    });

    test("hashLeaves equals hashLeaf one by one, and fills a given buffer", () => {
      const leaves = Array.from({ length: 37 }, (_, i) => bytes(i * 3, i));
      const batch = hasher.hashLeaves(leaves);
      expect(batch.length).toBe(37 * 32);
      leaves.forEach((leaf, i) => expect(toHex(batch.subarray(i * 32, i * 32 + 32))).toBe(toHex(hasher.hashLeaf(leaf))));
      const out = new Uint8Array(37 * 32 + 32);
      hasher.hashLeaves(leaves, out.subarray(32));
      expect(toHex(out.subarray(32))).toBe(toHex(batch));
      expect(out.subarray(0, 32).every((b) => b === 0)).toBe(true);
    });

    test("hashLeavesPacked equals hashLeaf one by one, whatever the spare bytes held", () => {
      const leaves = [0, 1, 55, 64, 100, 1000].map((length) => bytes(length, length));
      const packed = new Uint8Array(leaves.reduce((n, leaf) => n + 1 + leaf.length, 0)).fill(0xee);
      const ends = new Uint32Array(leaves.length);
      let at = 0;
      leaves.forEach((leaf, i) => {
        packed.set(leaf, at + 1);
        at += 1 + leaf.length;
        ends[i] = at;
      });
      const hashes = hasher.hashLeavesPacked(packed, ends);
      leaves.forEach((leaf, i) => expect(toHex(hashes.subarray(i * 32, i * 32 + 32))).toBe(sha256(new Uint8Array([0]), leaf)));
      expect(() => hasher.hashLeavesPacked(packed, new Uint32Array([packed.length + 1]))).toThrow();
    });

    test("hashLevel equals hashChildren pair by pair", () => {
      const level = bytes(32 * 2 * 9, 5);
      const parents = hasher.hashLevel(level);
      expect(parents.length).toBe(9 * 32);
      for (let i = 0; i < 9; i++) {
        const expected = hasher.hashChildren(level.subarray(i * 64, i * 64 + 32), level.subarray(i * 64 + 32, i * 64 + 64));
        expect(toHex(parents.subarray(i * 32, i * 32 + 32))).toBe(toHex(expected));
      }
      expect(hasher.hashLevel(new Uint8Array(0)).length).toBe(0);
    });

    test("hashLevel refuses an odd number of hashes", () => {
      expect(() => hasher.hashLevel(new Uint8Array(96))).toThrow("pairs of hashes");
    });

    test("returned hashes are fresh arrays, not shared scratch", () => {
      const a = hasher.hashLeaf(bytes(10, 1));
      const b = hasher.hashLeaf(bytes(10, 2));
      expect(toHex(a)).not.toBe(toHex(b));
      expect(toHex(a)).toBe(sha256(new Uint8Array([0]), bytes(10, 1)));
    });
  });
}

test("backends agree byte for byte on a level-by-level root of 1000 leaves", () => {
  const roots = hashers.map((hasher: Hasher) => {
    let level = hasher.hashLeaves(Array.from({ length: 1024 }, (_, i) => bytes(i % 200, i)));
    while (level.length > 32) level = hasher.hashLevel(level);
    return toHex(level);
  });
  expect(new Set(roots).size).toBe(1);
});

test("a MerkleTree gives byte-identical roots and proofs with every backend", () => {
  const leaves = Array.from({ length: 1537 }, (_, i) => bytes(i % 97, i));
  const results = hashers.map((hasher: Hasher) => {
    const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
    tree.appendLeaves(leaves.slice(0, 1000));
    tree.appendLeaves(leaves.slice(1000));
    return [toHex(tree.root()), toHex(tree.rootAt(777)), ...tree.inclusionProof(500, 1537).map(toHex), ...tree.consistencyProof(777, 1537).map(toHex)].join();
  });
  expect(new Set(results).size).toBe(1);
});

test("the default hasher under Bun is the native one", () => {
  expect(hasNativeHasher()).toBe(true);
  expect(defaultHasher()?.name).toBe("native");
});
