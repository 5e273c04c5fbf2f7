/**
 * @module proof. Which stored nodes a root or proof needs (pure index math), and how to turn
 * the fetched hashes into the RFC 9162 proof. Fetching is the caller's business (see tree.ts).
 *
 * A proof element is the hash of a leaf range [begin, end) that RFC 9162 names MTH(D[begin:end]).
 * That range is either one complete subtree, or (only at the right edge of a tree whose size is
 * not a power of two) an incomplete one, whose hash is the right fold of the complete subtrees
 * that cover it: O(log n) stored nodes, never leaves.
 */

import { assert } from "../lib/index.ts";
import type { Hasher } from "./hasher.ts";
import { rangeNodes, splitPoint, type NodeId } from "./node-id.ts";

/** Leaf range [begin, end) whose Merkle tree hash is one proof element. */
export interface LeafRange {
  readonly begin: number;
  readonly end: number;
}

/**
 * The nodes to fetch and how to fold them: element i of the result is the right fold of the
 * next `groups[i]` hashes of `ids` (a single id is used as is).
 */
export interface HashPlan {
  readonly ids: NodeId[];
  readonly groups: number[];
}

function checkSize(name: string, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `${name} must be a non-negative safe integer, got ${value}`);
}

/**
 * The ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size` leaves,
 * in proof order (nearest the leaf first). Precondition: 0 <= index < size.
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  checkSize("index", index);
  checkSize("size", size);
  assert(index < size, `leaf index ${index} is outside a tree of size ${size}`);
  const ranges: LeafRange[] = [];
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const k = splitPoint(end - begin);
    if (index < begin + k) {
      ranges.push({ begin: begin + k, end });
      end = begin + k;
    } else {
      ranges.push({ begin, end: begin + k });
      begin += k;
    }
  }
  return ranges.reverse();
}

/**
 * The ranges whose hashes form the consistency proof from `size1` to `size2` (RFC 9162
 * SUBPROOF), in proof order. Empty when size1 is 0 or size1 equals size2.
 * Precondition: 0 <= size1 <= size2.
 */
export function consistencyProofRanges(size1: number, size2: number): LeafRange[] {
  checkSize("size1", size1);
  checkSize("size2", size2);
  assert(size1 <= size2, `consistency needs size1 <= size2, got ${size1} > ${size2}`);
  const ranges: LeafRange[] = [];
  if (size1 === 0 || size1 === size2) return ranges;
  let begin = 0;
  let end = size2;
  let remaining = size1;
  let wholeOldTreeKnown = true;
  for (;;) {
    if (remaining === end - begin) {
      if (!wholeOldTreeKnown) ranges.push({ begin, end });
      break;
    }
    const k = splitPoint(end - begin);
    if (remaining <= k) {
      ranges.push({ begin: begin + k, end });
      end = begin + k;
    } else {
      ranges.push({ begin, end: begin + k });
      remaining -= k;
      begin += k;
      wholeOldTreeKnown = false;
    }
  }
  return ranges.reverse();
}

/** Turns leaf ranges into the stored nodes that cover them. */
export function planForRanges(ranges: readonly LeafRange[]): HashPlan {
  const ids: NodeId[] = [];
  const groups: number[] = [];
  for (const range of ranges) {
    assert(range.end > range.begin, `empty range [${range.begin}, ${range.end})`);
    const nodes = rangeNodes(range.begin, range.end);
    // A right fold equals MTH only when sizes strictly decrease (the range starts aligned).
    for (let i = 1; i < nodes.length; i++) {
      assert(nodes[i]!.level < nodes[i - 1]!.level, `range [${range.begin}, ${range.end}) is not a right-edge range`);
    }
    ids.push(...nodes);
    groups.push(nodes.length);
  }
  return { ids, groups };
}

/** Nodes for the inclusion proof of leaf `index` in a tree of `size` leaves. */
export function inclusionProofPlan(index: number, size: number): HashPlan {
  return planForRanges(inclusionProofRanges(index, size));
}

/** Nodes for the consistency proof from `size1` to `size2`. */
export function consistencyProofPlan(size1: number, size2: number): HashPlan {
  return planForRanges(consistencyProofRanges(size1, size2));
}

/** Nodes for the root of a tree of `size` >= 1 leaves (one group). */
export function rootPlan(size: number): HashPlan {
  checkSize("size", size);
  assert(size >= 1, "the empty tree has no nodes; its root is SHA-256(\"\")");
  return planForRanges([{ begin: 0, end: size }]);
}

/** Hashes of a plan's elements from the fetched node hashes (in the order of plan.ids). */
export function foldPlan(plan: HashPlan, hashes: readonly (Uint8Array | undefined)[], hasher: Hasher): Uint8Array[] {
  assert(hashes.length === plan.ids.length, `plan needs ${plan.ids.length} hashes, got ${hashes.length}`);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const count of plan.groups) {
    const last = hashes[at + count - 1];
    assert(last, `missing stored node ${JSON.stringify(plan.ids[at + count - 1])}`);
    let hash = last;
    for (let i = at + count - 2; i >= at; i--) {
      const left = hashes[i];
      assert(left, `missing stored node ${JSON.stringify(plan.ids[i])}`);
      hash = hasher.hashChildren(left, hash);
    }
    out.push(hash);
    at += count;
  }
  return out;
}
