import { Database } from "bun:sqlite";
import { SqliteTreeStore } from "../../src/storage/tree-store.ts";
import { runTreeStoreContract } from "../merkle/tree-store-contract.ts";

runTreeStoreContract("sqlite", () => new SqliteTreeStore(new Database(":memory:")));

import { expect, test } from "bun:test";
import { defaultHasher } from "../../src/crypto/index.ts";
import { MerkleTree, MemoryTreeStore, postOrderNodeCount } from "../../src/merkle/index.ts";
import { treeRowNodesMax } from "../../src/storage/tree-store.ts";

function leaves(from: number, count: number): Uint8Array {
  const out = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) new DataView(out.buffer).setUint32(i * 32, from + i);
  return out;
}

test("appends are stored as rows of at most treeRowNodesMax positions; proofs and level-0 runs read across rows", () => {
  const db = new Database(":memory:");
  const store = new SqliteTreeStore(db);
  const reference = new MemoryTreeStore();
  const hasher = defaultHasher()!;
  const tree = MerkleTree.open({ hasher, store });
  const mirror = MerkleTree.open({ hasher, store: reference });
  for (const count of [1, 3, 64, 1000, 7, 300]) {
    const batch = leaves(tree.size, count);
    tree.appendLeafHashes(batch);
    mirror.appendLeafHashes(batch);
  }
  const size = tree.size;
  const rows = db.query<{ n: number; longest: number; nodes: number }, []>("SELECT COUNT(*) AS n, MAX(length(hashes)) / 32 AS longest, SUM(length(hashes)) / 32 AS nodes FROM tree_hashes").get()!;
  expect(rows.nodes).toBe(postOrderNodeCount(size));
  expect(rows.longest).toBe(treeRowNodesMax);
  expect(rows.n).toBeLessThan(20); // 6 appends, the large one split: not a row per node
  expect(tree.root()).toEqual(mirror.root());
  for (const [i, n] of [[0, size], [5, 700], [1000, 1375], [1374, 1375]] as const) expect(tree.inclusionProof(i, n)).toEqual(mirror.inclusionProof(i, n));
  expect(tree.consistencyProof(70, size)).toEqual(mirror.consistencyProof(70, size));
  const run = store.readRun(0, 200, 256)!; // positions of leaves 200..455 span several rows
  for (let i = 0; i < 256; i += 51) expect(run.subarray(i * 32, i * 32 + 32)).toEqual(reference.getNodes([{ level: 0, index: 200 + i }])[0]!);
  expect(store.readRun(3, 10, 20)).toEqual(new Uint8Array(Array.from({ length: 20 }, (_, i) => [...reference.getNodes([{ level: 3, index: 10 + i }])[0]!]).flat()));
  expect(store.readRun(0, size - 1, 2)).toBeUndefined(); // past the tree
});

test("after a rolled-back append, reload() reads what is committed and the next append lands where it should", () => {
  const db = new Database(":memory:");
  const store = new SqliteTreeStore(db);
  const hasher = defaultHasher()!;
  let tree = MerkleTree.open({ hasher, store });
  tree.appendLeafHashes(leaves(0, 10));
  const committedRoot = tree.root();
  expect(() =>
    db.transaction(() => {
      tree.appendLeafHashes(leaves(10, 5));
      throw new Error("the cycle's transaction fails");
    })(),
  ).toThrow("fails");
  store.reload();
  tree = MerkleTree.open({ hasher, store, size: 10, expectedRoot: committedRoot });
  expect(store.getNodes([{ level: 0, index: 10 }])).toEqual([undefined]);
  tree.appendLeafHashes(leaves(10, 6));
  const mirror = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
  mirror.appendLeafHashes(leaves(0, 16));
  expect(tree.root()).toEqual(mirror.root());
  expect(MerkleTree.open({ hasher, store: new SqliteTreeStore(db), size: 16 }).root()).toEqual(mirror.root());
});
