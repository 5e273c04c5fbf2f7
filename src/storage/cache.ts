/**
 * @module cache. A bytes-bounded cache that approximates LRU with the CLOCK algorithm (second
 * chance): a hit only sets the entry's referenced bit, and eviction sweeps a hand over the slots,
 * clearing set bits and evicting the first entry whose bit is clear. Both are O(1) amortized:
 * an LRU kept in a Map's insertion order (delete + set on every hit, `keys().next()` to evict)
 * cost ~96 µs per eviction once a 100k-entry Map had churned (JavaScriptCore walks the deleted
 * slots at its front) and a Map restructure on every hit (docs/PERFORMANCE.md).
 *
 * An entry is new with its bit clear, so a stream of entries that are set and never read again
 * (new keys written once) leaves in about insertion order, while an entry read since the hand
 * last passed it survives one more sweep. Values cached by ledger index are immutable, so such a
 * cache can never be stale; key heads are updated by apply before any response is sent.
 */

export class LruCache<K, V> {
  /** key → slot. */
  private readonly index = new Map<K, number>();
  private keys: (K | undefined)[] = [];
  private values: (V | undefined)[] = [];
  private weights: number[] = [];
  /** Per slot: 0 free, 1 held, 2 held and referenced since the hand last passed. */
  private states: number[] = [];
  /** Slots freed by delete, reused first. */
  private free: number[] = [];
  private hand = 0;
  private bytes = 0;
  hits = 0;
  misses = 0;

  /**
   * @param bytesMax total weight kept; 0 disables the cache.
   * @param weigh the weight of one value, in bytes.
   */
  constructor(
    private readonly bytesMax: number,
    private readonly weigh: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.states[slot] = 2;
    return this.values[slot];
  }

  set(key: K, value: V): void {
    const bytes = this.weigh(value);
    let slot = this.index.get(key);
    if (bytes > this.bytesMax) {
      if (slot !== undefined) this.release(key, slot);
      return;
    }
    if (slot !== undefined) {
      this.bytes += bytes - this.weights[slot]!;
      this.values[slot] = value;
      this.weights[slot] = bytes;
      this.states[slot] = 2;
    } else {
      slot = this.free.pop() ?? this.keys.length;
      this.keys[slot] = key;
      this.values[slot] = value;
      this.weights[slot] = bytes;
      this.states[slot] = 1;
      this.index.set(key, slot);
      this.bytes += bytes;
    }
    if (this.bytes > this.bytesMax) this.evict(slot);
  }

  /** Sweeps the hand until the weight fits, never evicting `keep` (the slot just set). */
  private evict(keep: number): void {
    const slots = this.keys.length;
    while (this.bytes > this.bytesMax) {
      if (this.hand >= slots) this.hand = 0;
      const slot = this.hand++;
      if (slot === keep) continue;
      const state = this.states[slot];
      if (state === 2) this.states[slot] = 1;
      else if (state === 1) this.release(this.keys[slot] as K, slot);
    }
  }

  private release(key: K, slot: number): void {
    this.index.delete(key);
    this.bytes -= this.weights[slot]!;
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.weights[slot] = 0;
    this.states[slot] = 0;
    this.free.push(slot);
  }

  delete(key: K): void {
    const slot = this.index.get(key);
    if (slot !== undefined) this.release(key, slot);
  }

  clear(): void {
    this.index.clear();
    this.keys = [];
    this.values = [];
    this.weights = [];
    this.states = [];
    this.free = [];
    this.hand = 0;
    this.bytes = 0;
  }

  get size(): number {
    return this.index.size;
  }

  get weight(): number {
    return this.bytes;
  }
}
