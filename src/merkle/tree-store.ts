/**
 * @module tree-store. Where complete subtree hashes live. The tree writes every complete node
 * (level 0 = leaf hashes) exactly once, in runs of consecutive indexes per level, and later reads
 * O(log n) of them by id for roots and proofs. Synchronous on purpose: bun:sqlite and memory
 * both answer synchronously, and it lets a caller append nodes inside its own transaction.
 *
 * Contract (test/merkle/tree-store-contract.ts runs it against every implementation):
 * - getNodes(ids) returns one entry per id, in order: the 32-byte hash, or undefined if absent.
 * - putNodes(runs) stores every node of every run. Nodes are immutable: writing a node again with
 *   the same hash is a no-op; with a different hash it throws and stores nothing of that batch.
 * - Runs may arrive in any order and may leave gaps; a later run may fill a gap.
 */

import { assert, AssertionError, fail, bytesEqual, toHex } from "../lib/index.ts";
import { hashSize } from "./hasher.ts";
import { levelMax, type NodeId } from "./node-id.ts";

/** Consecutive nodes of one level: ids (level, index + i) with hashes[32i, 32i + 32). */
export interface NodeRun {
  readonly level: number;
  readonly index: number;
  readonly hashes: Uint8Array;
}

export interface TreeStore {
  /** The stored hashes of `ids`, in order; undefined where a node is absent. */
  getNodes(ids: readonly NodeId[]): (Uint8Array | undefined)[];
  /** Stores every node of `runs` atomically; rewriting a node with a different hash throws. */
  putNodes(runs: readonly NodeRun[]): void;
}

/** Number of nodes in a run (asserting its shape). */
export function runLength(run: NodeRun): number {
  if (!(Number.isInteger(run.level) && run.level >= 0 && run.level <= levelMax)) fail(`bad run level ${run.level}`);
  if (!(Number.isSafeInteger(run.index) && run.index >= 0)) fail(`bad run index ${run.index}`);
  if (run.hashes.length % hashSize !== 0) fail(`run hashes must be a multiple of ${hashSize} bytes, got ${run.hashes.length}`);
  return run.hashes.length / hashSize;
}

/** Calls `visit` for every node of `runs` (for stores that write one row per node). */
export function forEachNode(runs: readonly NodeRun[], visit: (level: number, index: number, hash: Uint8Array) => void): void {
  for (const run of runs) {
    const count = runLength(run);
    for (let i = 0; i < count; i++) visit(run.level, run.index + i, run.hashes.subarray(i * hashSize, (i + 1) * hashSize));
  }
}

/** Thrown when a node would be overwritten with a different hash. */
export class NodeConflictError extends AssertionError {
  override name = "NodeConflictError";
}

/** One level of the memory store: hashes back to back, plus a presence byte per index. */
interface MemoryLevel {
  hashes: Uint8Array;
  present: Uint8Array;
}

/** Most nodes one memory level may hold: 2^27 hashes is 4 GiB, past any test or benchmark. */
const memoryLevelNodesMax = 2 ** 27;

/** A TreeStore in memory: per level, one growable buffer indexed by node index. */
export class MemoryTreeStore implements TreeStore {
  private readonly levels: MemoryLevel[] = [];

  getNodes(ids: readonly NodeId[]): (Uint8Array | undefined)[] {
    return ids.map((id) => {
      const level = this.levels[id.level];
      if (!level || id.index >= level.present.length || level.present[id.index] !== 1) return undefined;
      return level.hashes.slice(id.index * hashSize, (id.index + 1) * hashSize);
    });
  }

  putNodes(runs: readonly NodeRun[]): void {
    for (const run of runs) this.checkRun(run);
    for (const run of runs) {
      const count = runLength(run);
      if (count === 0) continue;
      const level = this.reserve(run.level, run.index + count);
      level.hashes.set(run.hashes, run.index * hashSize);
      level.present.fill(1, run.index, run.index + count);
    }
  }

  /** Number of stored nodes at a level (for tests and diagnostics). */
  countAt(level: number): number {
    const stored = this.levels[level];
    if (!stored) return 0;
    let count = 0;
    for (let i = 0; i < stored.present.length; i++) count += stored.present[i]!;
    return count;
  }

  private checkRun(run: NodeRun): void {
    const count = runLength(run);
    assert(run.index + count <= memoryLevelNodesMax, `memory store holds at most ${memoryLevelNodesMax} nodes per level`);
    const level = this.levels[run.level];
    if (!level) return;
    const overlapEnd = Math.min(run.index + count, level.present.length);
    for (let index = run.index; index < overlapEnd; index++) {
      if (level.present[index] !== 1) continue;
      const stored = level.hashes.subarray(index * hashSize, (index + 1) * hashSize);
      const incoming = run.hashes.subarray((index - run.index) * hashSize, (index - run.index + 1) * hashSize);
      if (!bytesEqual(stored, incoming)) {
        throw new NodeConflictError(`node ${run.level}/${index} is ${toHex(stored)}; refusing to overwrite it with ${toHex(incoming)}`);
      }
    }
  }

  private reserve(levelNumber: number, nodes: number): MemoryLevel {
    const level = (this.levels[levelNumber] ??= { hashes: new Uint8Array(0), present: new Uint8Array(0) });
    if (nodes <= level.present.length) return level;
    let capacity = Math.max(16, level.present.length);
    while (capacity < nodes) capacity *= 2;
    const hashes = new Uint8Array(capacity * hashSize);
    hashes.set(level.hashes);
    const present = new Uint8Array(capacity);
    present.set(level.present);
    level.hashes = hashes;
    level.present = present;
    return level;
  }
}
