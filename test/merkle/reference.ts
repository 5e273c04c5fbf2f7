/**
 * @module reference. A naive recursive RFC 9162 implementation, straight from the RFC's
 * definitions (MTH, PATH, PROOF/SUBPROOF), used only by tests to cross-check the fast code.
 * Works on leaf hashes; memoises MTH of each leaf range so many sizes can be checked quickly.
 */

import type { Hasher } from "../../src/merkle/index.ts";

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export class ReferenceTree {
  private readonly memo = new Map<string, Uint8Array>();

  constructor(
    private readonly hasher: Hasher,
    private readonly leaves: readonly Uint8Array[],
  ) {}

  /** MTH(D[begin:end]). */
  hash(begin: number, end: number): Uint8Array {
    if (end === begin) return this.hasher.emptyRoot();
    if (end - begin === 1) return this.leaves[begin]!;
    const key = `${begin}:${end}`;
    const cached = this.memo.get(key);
    if (cached) return cached;
    const k = split(end - begin);
    const hash = this.hasher.hashChildren(this.hash(begin, begin + k), this.hash(begin + k, end));
    this.memo.set(key, hash);
    return hash;
  }

  root(size: number): Uint8Array {
    return this.hash(0, size);
  }

  /** PATH(m, D[0:n]). */
  inclusion(m: number, n: number, begin = 0): Uint8Array[] {
    if (n <= 1) return [];
    const k = split(n);
    if (m < k) return [...this.inclusion(m, k, begin), this.hash(begin + k, begin + n)];
    return [...this.inclusion(m - k, n - k, begin + k), this.hash(begin, begin + k)];
  }

  /** PROOF(m, D[0:n]); empty when m = 0 or m = n. */
  consistency(m: number, n: number): Uint8Array[] {
    if (m === 0 || m === n) return [];
    return this.subproof(m, 0, n, true);
  }

  private subproof(m: number, begin: number, end: number, complete: boolean): Uint8Array[] {
    const n = end - begin;
    if (m === n) return complete ? [] : [this.hash(begin, end)];
    const k = split(n);
    if (m <= k) return [...this.subproof(m, begin, begin + k, complete), this.hash(begin + k, end)];
    return [...this.subproof(m - k, begin + k, end, false), this.hash(begin, begin + k)];
  }
}
