/**
 * @module tree-store-contract. The shared contract every TreeStore must pass. Run it from a
 * test file: `runTreeStoreContract("sqlite", () => new SqliteTreeStore(...))`.
 */

import { describe, expect, test } from "bun:test";
import { toHex } from "../../src/lib/index.ts";
import { MerkleTree, type NodeId, type TreeStore } from "../../src/merkle/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";

function hashOf(level: number, index: number): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (level * 97 + index * 13 + i) & 0xff;
  return out;
}

function run(level: number, index: number, count: number): { level: number; index: number; hashes: Uint8Array } {
  const hashes = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) hashes.set(hashOf(level, index + i), i * 32);
  return { level, index, hashes };
}

function hex(values: (Uint8Array | undefined)[]): (string | undefined)[] {
  return values.map((v) => (v ? toHex(v) : undefined));
}

/** Registers the TreeStore contract tests for one implementation. */
export function runTreeStoreContract(name: string, makeStore: () => TreeStore | Promise<TreeStore>): void {
  describe(`TreeStore contract: ${name}`, () => {
    test("an empty store answers undefined for every id, in order", async () => {
      const store = await makeStore();
      expect(store.getNodes([{ level: 0, index: 0 }, { level: 5, index: 123456 }])).toEqual([undefined, undefined]);
      expect(store.getNodes([])).toEqual([]);
    });

    test("stored runs read back node by node, across levels, in the order asked", async () => {
      const store = await makeStore();
      store.putNodes([run(0, 0, 8), run(1, 0, 4), run(2, 0, 2), run(3, 0, 1)]);
      const ids: NodeId[] = [{ level: 3, index: 0 }, { level: 0, index: 7 }, { level: 1, index: 2 }, { level: 0, index: 0 }, { level: 0, index: 8 }];
      expect(hex(store.getNodes(ids))).toEqual([toHex(hashOf(3, 0)), toHex(hashOf(0, 7)), toHex(hashOf(1, 2)), toHex(hashOf(0, 0)), undefined]);
    });

    test("a returned hash is a copy: mutating it does not change the store", async () => {
      const store = await makeStore();
      store.putNodes([run(0, 0, 2)]);
      const [first] = store.getNodes([{ level: 0, index: 0 }]);
      first!.fill(0);
      expect(toHex(store.getNodes([{ level: 0, index: 0 }])[0]!)).toBe(toHex(hashOf(0, 0)));
    });

    test("rewriting a node with the same hash is a no-op", async () => {
      const store = await makeStore();
      store.putNodes([run(0, 0, 4)]);
      store.putNodes([run(0, 2, 4)]);
      expect(hex(store.getNodes([{ level: 0, index: 3 }, { level: 0, index: 5 }]))).toEqual([toHex(hashOf(0, 3)), toHex(hashOf(0, 5))]);
    });

    test("rewriting a node with a different hash throws and stores nothing of that batch", async () => {
      const store = await makeStore();
      store.putNodes([run(0, 0, 4)]);
      const bad = { level: 0, index: 3, hashes: new Uint8Array(64).fill(9) };
      expect(() => store.putNodes([run(1, 0, 1), bad])).toThrow();
      expect(hex(store.getNodes([{ level: 0, index: 3 }, { level: 0, index: 4 }, { level: 1, index: 0 }]))).toEqual([toHex(hashOf(0, 3)), undefined, undefined]);
    });

    test("runs may leave gaps that later runs fill", async () => {
      const store = await makeStore();
      store.putNodes([run(0, 10, 2)]);
      expect(hex(store.getNodes([{ level: 0, index: 9 }, { level: 0, index: 10 }]))).toEqual([undefined, toHex(hashOf(0, 10))]);
      store.putNodes([run(0, 0, 10)]);
      expect(hex(store.getNodes([{ level: 0, index: 9 }]))).toEqual([toHex(hashOf(0, 9))]);
    });

    test("large indexes at high levels are addressable", async () => {
      const store = await makeStore();
      store.putNodes([run(40, 3, 1), run(0, 2 ** 20, 1)]);
      expect(hex(store.getNodes([{ level: 40, index: 3 }, { level: 0, index: 2 ** 20 }]))).toEqual([toHex(hashOf(40, 3)), toHex(hashOf(0, 2 ** 20))]);
    });

    test("a tree persisted in the store reopens with the same root and proofs", async () => {
      const store = await makeStore();
      const hasher = createNativeHasher();
      const tree = MerkleTree.open({ hasher, store });
      const leaves = Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`leaf ${i}`));
      tree.appendLeaves(leaves.slice(0, 123));
      tree.appendLeaves(leaves.slice(123));
      const reopened = MerkleTree.open({ hasher, store, size: 300 });
      expect(toHex(reopened.root())).toBe(toHex(tree.root()));
      expect(reopened.inclusionProof(77, 250).map(toHex)).toEqual(tree.inclusionProof(77, 250).map(toHex));
      reopened.appendLeaves([new Uint8Array([1])]);
      expect(reopened.size).toBe(301);
      expect(toHex(reopened.rootAt(300))).toBe(toHex(tree.root()));
    });
  });
}
