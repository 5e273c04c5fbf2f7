/**
 * @module bench/merkle. Appends 1M leaves to a MerkleTree and computes the root with each hasher
 * backend, against a bare Bun.SHA256 level-by-level tree build measured in the same run.
 * Prints medians and each ratio to the bare build (target: native tree <= 1.5x).
 *
 *   bun bench/merkle.ts [leafCount]
 */

import { createSHA256 } from "hash-wasm";
import { measure } from "mitata";
import { toHex } from "../src/lib/index.ts";
import {
  createStreamingHasher,
  MemoryTreeStore,
  MerkleTree,
  type Hasher,
  verifyConsistency,
  verifyInclusion,
  type NodeRun,
  type TreeStore,
} from "../src/merkle/index.ts";
import { createNativeHasher } from "../src/crypto/index.ts";

const leafCount = Number(process.argv[2] ?? 1_000_000);
const leafBytes = 64;
/** Leaves per append in the "batches" case: a large group-commit cycle. */
const appendBatchLeaves = 1000;

const pool = new Uint8Array(leafCount * leafBytes);
for (let i = 0; i < pool.length; i++) pool[i] = (i * 2654435761) >>> 24;
const leaves = Array.from({ length: leafCount }, (_, i) => pool.subarray(i * leafBytes, (i + 1) * leafBytes));

/** The baseline: hash the leaves, then each level of pairs, promoting an odd last node. */
function bareRoot(): Uint8Array {
  const input = new Uint8Array(1 + 2 * 32 > 1 + leafBytes ? 1 + 2 * 32 : 1 + leafBytes);
  let level = new Uint8Array(leafCount * 32);
  input[0] = 0;
  for (let i = 0; i < leafCount; i++) {
    input.set(leaves[i]!, 1);
    Bun.SHA256.hash(input.subarray(0, 1 + leafBytes), level.subarray(i * 32, i * 32 + 32));
  }
  input[0] = 1;
  let count = leafCount;
  while (count > 1) {
    const parents = Math.ceil(count / 2);
    const next = new Uint8Array(parents * 32);
    for (let i = 0; i + 1 < count; i += 2) {
      input.set(level.subarray(i * 32, i * 32 + 64), 1);
      Bun.SHA256.hash(input.subarray(0, 65), next.subarray((i / 2) * 32, (i / 2) * 32 + 32));
    }
    if (count % 2 === 1) next.set(level.subarray((count - 1) * 32, count * 32), (parents - 1) * 32);
    level = next;
    count = parents;
  }
  return level;
}

class NullTreeStore implements TreeStore {
  getNodes() {
    return [];
  }
  putNodes(_runs: readonly NodeRun[]) {}
}

function treeRoot(hasher: Hasher, store: TreeStore, batch = leafCount): Uint8Array {
  const tree = MerkleTree.open({ hasher, store });
  for (let at = 0; at < leafCount; at += batch) tree.appendLeaves(leaves.slice(at, at + batch));
  return tree.root();
}

const native = createNativeHasher();
const wasm = createStreamingHasher(await createSHA256(), "wasm");

const cases: [string, () => Uint8Array][] = [
  ["bare Bun.SHA256 tree build (baseline)", bareRoot],
  ["MerkleTree native, memory store", () => treeRoot(native, new MemoryTreeStore())],
  ["MerkleTree native, no store", () => treeRoot(native, new NullTreeStore())],
  [`MerkleTree native, memory store, ${appendBatchLeaves}-leaf appends`, () => treeRoot(native, new MemoryTreeStore(), appendBatchLeaves)],
  ["MerkleTree wasm (hash-wasm), memory store", () => treeRoot(wasm, new MemoryTreeStore())],
];

/** Rounds of the whole case list; cases are interleaved so machine noise hits all of them alike. */
const rounds = 5;

const expected = toHex(bareRoot());
console.log(`Merkle root of ${leafCount} leaves of ${leafBytes} bytes; root ${expected}`);
for (const [name, fn] of cases) {
  const root = toHex(fn());
  if (root !== expected) throw new Error(`${name} computed root ${root}, the bare build ${expected}`);
}
const timesMs: number[][] = cases.map(() => []);
for (let round = 0; round < rounds; round++) {
  cases.forEach(([, fn], i) => {
    Bun.gc(true);
    const started = performance.now();
    fn();
    timesMs[i]!.push(performance.now() - started);
  });
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const baselineMs = median(timesMs[0]!);
const baselineMinMs = Math.min(...timesMs[0]!);
console.log(`${`case (interleaved, ${rounds} rounds)`.padEnd(58)} ${"p50 ms".padStart(9)} ${"min ms".padStart(9)} ${"p50 ratio".padStart(10)} ${"min ratio".padStart(10)}`);
cases.forEach(([name], i) => {
  const p50 = median(timesMs[i]!);
  const min = Math.min(...timesMs[i]!);
  console.log(`${name.padEnd(58)} ${p50.toFixed(1).padStart(9)} ${min.toFixed(1).padStart(9)} ${(p50 / baselineMs).toFixed(2).padStart(9)}x ${(min / baselineMinMs).toFixed(2).padStart(9)}x`);
});

// Proof building and verification over the 1M-leaf tree: O(log n) store reads each.
const proofTree = MerkleTree.open({ hasher: native, store: new MemoryTreeStore() });
proofTree.appendLeaves(leaves);
const proofRoot = proofTree.root();
const proofsPerSample = 1000;
let probe = 12345;
const nextIndex = () => (probe = (probe * 1103515245 + 12345) % leafCount);
const proofCases: [string, () => void][] = [
  ["inclusion proof, build (size - 1 leaves, incomplete subtrees)", () => { for (let i = 0; i < proofsPerSample; i++) proofTree.inclusionProof(nextIndex(), leafCount - 1); }],
  ["inclusion proof, build + verify", () => {
    for (let i = 0; i < proofsPerSample; i++) {
      const index = nextIndex();
      verifyInclusion(native, index, leafCount, proofTree.leafHash(index), proofTree.inclusionProof(index, leafCount), proofRoot);
    }
  }],
  ["consistency proof, build + verify", () => {
    for (let i = 0; i < proofsPerSample; i++) {
      const from = 1 + nextIndex();
      verifyConsistency(native, from, leafCount, proofTree.consistencyProof(from, leafCount), proofTree.rootAt(from), proofRoot);
    }
  }],
];
console.log(`\nproofs in a tree of ${leafCount} leaves (memory store, native hasher)`);
for (const [name, fn] of proofCases) {
  const stats = await measure(fn, { min_samples: 5, max_samples: 20, min_cpu_time: 0 });
  console.log(`${name.padEnd(58)} ${((stats.p50 / 1e3) / proofsPerSample).toFixed(2).padStart(9)} us/proof`);
}
