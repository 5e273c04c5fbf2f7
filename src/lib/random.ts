/**
 * @module random. Injected sources of time and randomness, so pure cores stay deterministic.
 */

/** A source of random integers; the pure cores only ever see this interface. */
export interface RandomSource {
  /** Returns an integer in [0, bound). */
  int(bound: number): number;
}

/**
 * A seeded PRNG (mulberry32 over a 32-bit state). Same seed, same sequence, on every platform.
 */
export class SeededRandom implements RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}
