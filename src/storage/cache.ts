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
 *
 * Which slot holds a key is kept in a `Map`, or for keys that are ledger indexes in `IndexSlots`
 * (runs of 32 consecutive indexes share one array): inserting a new key into a Map of 100k-1M keys
 * cost about 1 µs on the 2-core machine, once per written entry (docs/PERFORMANCE.md).
 */

/** Where a cache finds a key's slot: a `Map<K, number>` or `IndexSlots`. */
export interface SlotIndex<K> {
  get(key: K): number | undefined;
  set(key: K, slot: number): unknown;
  delete(key: K): unknown;
  clear(): void;
  readonly size: number;
}

/**
 * Indexes per chunk of `IndexSlots`: a write's run of new indexes fills whole chunks (one Map
 * insert per 32 entries), while an index cached alone (a read of an old value) holds at most a
 * 132-byte array beside it, about what a Map entry of its own cost (larger chunks would let
 * scattered reads hold kilobytes per cached value outside the cache's byte bound).
 */
const chunkIndexes = 32;

/**
 * Slots of non-negative integer keys (ledger indexes): chunks of `chunkIndexes` consecutive keys,
 * each an array of slot + 1 (0: absent) with its count of keys at the end; an empty chunk is dropped.
 */
export class IndexSlots implements SlotIndex<number> {
  private readonly chunks = new Map<number, Int32Array>();
  private count = 0;

  get(key: number): number | undefined {
    const slot = this.chunks.get(Math.floor(key / chunkIndexes))?.[key % chunkIndexes];
    return slot ? slot - 1 : undefined;
  }

  set(key: number, slot: number): void {
    const at = Math.floor(key / chunkIndexes);
    let chunk = this.chunks.get(at);
    if (chunk === undefined) {
      chunk = new Int32Array(chunkIndexes + 1);
      this.chunks.set(at, chunk);
    }
    const i = key % chunkIndexes;
    if (chunk[i] === 0) {
      chunk[chunkIndexes]!++;
      this.count++;
    }
    chunk[i] = slot + 1;
  }

  delete(key: number): void {
    const at = Math.floor(key / chunkIndexes);
    const chunk = this.chunks.get(at);
    const i = key % chunkIndexes;
    if (chunk === undefined || chunk[i] === 0) return;
    chunk[i] = 0;
    this.count--;
    if (--chunk[chunkIndexes]! === 0) this.chunks.delete(at);
  }

  clear(): void {
    this.chunks.clear();
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }
}

export class LruCache<K, V> {
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
   * @param index key → slot (an `IndexSlots` for ledger indexes).
   */
  constructor(
    private readonly bytesMax: number,
    private readonly weigh: (value: V) => number,
    private readonly index: SlotIndex<K> = new Map<K, number>(),
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

  /**
   * Sets `key` only if the cache holds it (a write that must not leave its copy stale, without
   * caching every key written).
   */
  setIfHeld(key: K, value: V): void {
    if (this.index.get(key) !== undefined) this.set(key, value);
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
