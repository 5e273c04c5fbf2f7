/**
 * @module node-id. Complete subtrees are named by (level, index): the node at `level` and
 * `index` covers leaves [index * 2^level, (index + 1) * 2^level). Level 0 nodes are leaf hashes.
 * Pure integer math; sizes and indexes are safe integers (< 2^53).
 */

import { assert, fail } from "../lib/index.ts";

/** A complete subtree: leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** Highest level a node can have: 2^52 leaves is past any safe-integer tree size. */
export const levelMax = 52;

export function nodeId(level: number, index: number): NodeId {
  if (!(Number.isInteger(level) && level >= 0 && level <= levelMax)) fail(`bad node level ${level}`);
  if (!(Number.isSafeInteger(index) && index >= 0)) fail(`bad node index ${index}`);
  return { level, index };
}

/** A stable string key for maps and logs: "level/index". */
export function nodeKey(id: NodeId): string {
  return `${id.level}/${id.index}`;
}

/** First leaf covered by the node. */
export function nodeBegin(id: NodeId): number {
  return id.index * 2 ** id.level;
}

/** One past the last leaf covered by the node. */
export function nodeEnd(id: NodeId): number {
  return (id.index + 1) * 2 ** id.level;
}

/** Largest power of two strictly below n (n >= 2). RFC 9162's split point `k`. */
export function splitPoint(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 2, `split point needs n >= 2, got ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** True when n is a positive power of two. */
export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && Number.isSafeInteger(n) && 2 ** Math.round(Math.log2(n)) === n;
}

/** log2 of a power of two. */
export function log2Exact(n: number): number {
  assert(isPowerOfTwo(n), `${n} is not a power of two`);
  return Math.round(Math.log2(n));
}

/** Largest power of two that divides `begin` (begin > 0), capped at 2^levelMax. */
function alignment(begin: number): number {
  let a = 1;
  while (a < 2 ** levelMax && begin % (a * 2) === 0) a *= 2;
  return a;
}

/** Largest power of two <= n (n >= 1). */
function floorPowerOfTwo(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/**
 * The complete subtrees that exactly cover leaves [begin, end), left to right, fewest possible
 * (the compact range). O(log(end - begin)) nodes. For [0, n) these are the nodes of the frontier,
 * one per set bit of n, largest first.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  assert(Number.isSafeInteger(begin) && Number.isSafeInteger(end) && 0 <= begin && begin <= end, `bad range [${begin}, ${end})`);
  const nodes: NodeId[] = [];
  let at = begin;
  while (at < end) {
    const room = floorPowerOfTwo(end - at);
    const width = at === 0 ? room : Math.min(alignment(at), room);
    const level = log2Exact(width);
    nodes.push({ level, index: at / width });
    at += width;
  }
  return nodes;
}

/** The node covering [begin, end) when that range is one complete subtree; otherwise undefined. */
export function completeNode(begin: number, end: number): NodeId | undefined {
  const width = end - begin;
  if (!isPowerOfTwo(width) || begin % width !== 0) return undefined;
  return { level: log2Exact(width), index: begin / width };
}

/** Number of set bits of a safe integer >= 0. */
function popcount(n: number): number {
  const bits32 = (x: number) => {
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
  };
  return bits32(n >>> 0) + bits32(Math.floor(n / 2 ** 32) >>> 0);
}

/** Number of trailing zero bits of a safe integer > 0. */
function trailingZeros(n: number): number {
  const low = n >>> 0;
  if (low !== 0) return 31 - Math.clz32(low & -low);
  const high = Math.floor(n / 2 ** 32) >>> 0;
  return 32 + 31 - Math.clz32(high & -high);
}

/**
 * The node's position in the post-order of the complete subtrees of an ever-growing tree: every
 * node after its two children, subtrees left to right (leaf 0 → 0, leaf 1 → 1, node 1/0 → 2,
 * leaf 2 → 3, …). The complete nodes of a tree of n leaves are exactly the positions
 * [0, postOrderNodeCount(n)), and each append adds the next positions: a store keyed by it only
 * ever appends (docs/FORMATS.md, "The hot tier's tree table").
 * For m = index + 1: 2^(level+1) * m - popcount(m) - trailingZeros(m) - 1.
 */
export function postOrderPosition(level: number, index: number): number {
  if (!(Number.isInteger(level) && level >= 0 && level <= levelMax)) fail(`bad node level ${level}`);
  if (!(Number.isSafeInteger(index) && index >= 0 && (index + 1) * 2 ** (level + 1) <= 2 ** 53)) fail(`node ${level}/${index} is past the positions a safe integer holds`);
  const m = index + 1;
  return 2 ** (level + 1) * m - popcount(m) - trailingZeros(m) - 1;
}

/** Number of complete subtrees (nodes of every level) of a tree of `size` leaves: 2n - popcount(n). */
export function postOrderNodeCount(size: number): number {
  assert(Number.isSafeInteger(size) && size >= 0, `bad tree size ${size}`);
  return 2 * size - popcount(size);
}

/** Calls `visit` for every complete subtree of the leaves [0, size), in post-order (positions 0, 1, 2, …). */
export function forEachPostOrder(size: number, visit: (level: number, index: number) => void): void {
  for (let leaf = 0; leaf < size; leaf++) {
    visit(0, leaf);
    const completed = trailingZeros(leaf + 1);
    for (let level = 1; level <= completed; level++) visit(level, (leaf + 1) / 2 ** level - 1);
  }
}

/** The node at a post-order position (the inverse of postOrderPosition). */
export function postOrderNode(position: number): NodeId {
  assert(Number.isSafeInteger(position) && position >= 0, `bad post-order position ${position}`);
  // The node is completed by the first leaf count m whose tree has more than `position` nodes.
  let low = 1;
  let high = position + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (postOrderNodeCount(mid) > position) high = mid;
    else low = mid + 1;
  }
  const level = position - postOrderNodeCount(low - 1);
  return { level, index: low / 2 ** level - 1 };
}
