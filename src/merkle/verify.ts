/**
 * @module verify. RFC 9162 inclusion and consistency proof verification (sections 2.1.3.2 and
 * 2.1.4.2). Verifiers return the computed root or throw a VerificationError that says why.
 * Indexes and sizes may exceed 2^32, so halving uses division, never bit operators.
 */

import { bytesEqual, ScribeError, toHex } from "../lib/index.ts";
import { hashSize, type Hasher } from "./hasher.ts";

/** A proof, root or signature did not check out. The message says what was got and wanted. */
export class VerificationError extends ScribeError {
  override name = "VerificationError";
  constructor(message: string) {
    super("verification_failed", message);
  }
}

/** Most elements a proof over 2^53 leaves can have (two per level is generous). */
export const proofElementsMax = 2 * 64;

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function checkHash(what: string, hash: Uint8Array | undefined | null): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== hashSize) {
    throw new VerificationError(`${what} must be a ${hashSize}-byte hash, got ${hash instanceof Uint8Array ? `${hash.length} bytes` : String(hash)}`);
  }
  return hash;
}

function checkCount(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new VerificationError(`${what} must be a non-negative integer, got ${value}`);
}

function checkProof(proof: readonly Uint8Array[] | null | undefined): readonly Uint8Array[] {
  const elements = proof ?? [];
  if (elements.length > proofElementsMax) throw new VerificationError(`proof has ${elements.length} elements, at most ${proofElementsMax} allowed`);
  elements.forEach((element, i) => checkHash(`proof element ${i}`, element));
  return elements;
}

/**
 * Computes the root implied by an inclusion proof of `leafHash` at `leafIndex` in a tree of
 * `treeSize` leaves. Throws when the proof has the wrong shape for that index and size.
 */
export function rootFromInclusionProof(
  hasher: Hasher,
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[] | null | undefined,
): Uint8Array {
  checkCount("leaf index", leafIndex);
  checkCount("tree size", treeSize);
  if (leafIndex >= treeSize) throw new VerificationError(`leaf index ${leafIndex} is not below tree size ${treeSize}`);
  checkHash("leaf hash", leafHash);
  const elements = checkProof(proof);
  let fn = leafIndex;
  let sn = treeSize - 1;
  let root = leafHash;
  for (const element of elements) {
    if (sn === 0) throw new VerificationError(`inclusion proof has ${elements.length} elements, too many for index ${leafIndex} in size ${treeSize}`);
    if (isOdd(fn) || fn === sn) {
      root = hasher.hashChildren(element, root);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      root = hasher.hashChildren(root, element);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new VerificationError(`inclusion proof has ${elements.length} elements, too few for index ${leafIndex} in size ${treeSize}`);
  return root;
}

/**
 * Verifies that `leafHash` is leaf `leafIndex` of the tree of `treeSize` leaves with `root`.
 * Returns the root; throws a VerificationError otherwise.
 */
export function verifyInclusion(
  hasher: Hasher,
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[] | null | undefined,
  root: Uint8Array,
): Uint8Array {
  checkHash("root", root);
  const computed = rootFromInclusionProof(hasher, leafIndex, treeSize, leafHash, proof);
  if (!bytesEqual(computed, root)) {
    throw new VerificationError(`inclusion proof leads to root ${toHex(computed)}, wanted ${toHex(root)}`);
  }
  return root;
}

/**
 * Verifies that the tree of `size2` leaves with `root2` extends the tree of `size1` leaves with
 * `root1`. Equal sizes need an empty proof and equal roots; size1 = 0 needs an empty proof and
 * root1 = SHA-256(""). Returns root2; throws a VerificationError otherwise.
 */
export function verifyConsistency(
  hasher: Hasher,
  size1: number,
  size2: number,
  proof: readonly Uint8Array[] | null | undefined,
  root1: Uint8Array,
  root2: Uint8Array,
): Uint8Array {
  checkCount("size1", size1);
  checkCount("size2", size2);
  checkHash("root1", root1);
  checkHash("root2", root2);
  const elements = checkProof(proof);
  if (size2 < size1) throw new VerificationError(`size2 ${size2} is below size1 ${size1}: a tree never shrinks`);
  if (size1 === size2) {
    if (elements.length > 0) throw new VerificationError(`sizes are equal (${size1}) but the proof has ${elements.length} elements`);
    if (!bytesEqual(root1, root2)) throw new VerificationError(`sizes are equal (${size1}) but roots differ: ${toHex(root1)} vs ${toHex(root2)}`);
    return root2;
  }
  if (size1 === 0) {
    if (elements.length > 0) throw new VerificationError(`from the empty tree the proof must be empty, got ${elements.length} elements`);
    if (!bytesEqual(root1, hasher.emptyRoot())) throw new VerificationError(`root1 of the empty tree must be SHA-256(""), got ${toHex(root1)}`);
    return root2;
  }
  if (elements.length === 0) throw new VerificationError(`consistency proof from ${size1} to ${size2} is empty`);
  const { first, second } = consistencyRoots(hasher, size1, size2, elements, root1);
  if (!bytesEqual(first, root1)) throw new VerificationError(`consistency proof leads to root1 ${toHex(first)}, wanted ${toHex(root1)}`);
  if (!bytesEqual(second, root2)) throw new VerificationError(`consistency proof leads to root2 ${toHex(second)}, wanted ${toHex(root2)}`);
  return root2;
}

/** The two roots a consistency proof implies (0 < size1 < size2, proof not empty). */
function consistencyRoots(
  hasher: Hasher,
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
): { first: Uint8Array; second: Uint8Array } {
  const path = isPowerOfTwoSize(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let first = path[0]!;
  let second = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const element = path[i]!;
    if (sn === 0) throw new VerificationError(`consistency proof has ${proof.length} elements, too many for ${size1} to ${size2}`);
    if (isOdd(fn) || fn === sn) {
      first = hasher.hashChildren(element, first);
      second = hasher.hashChildren(element, second);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      second = hasher.hashChildren(second, element);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new VerificationError(`consistency proof has ${proof.length} elements, too few for ${size1} to ${size2}`);
  return { first, second };
}

function isPowerOfTwoSize(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}
