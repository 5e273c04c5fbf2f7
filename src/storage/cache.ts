/**
 * @module cache. A bytes-bounded LRU map. Values cached by ledger index are immutable, so such a
 * cache can never be stale; key heads are updated by apply before any response is sent.
 */

export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; bytes: number }>();
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
    const slot = this.map.get(key);
    if (!slot) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, slot);
    return slot.value;
  }

  set(key: K, value: V): void {
    const bytes = this.weigh(value);
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    if (bytes > this.bytesMax) return;
    this.map.set(key, { value, bytes });
    this.bytes += bytes;
    while (this.bytes > this.bytesMax) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.bytes -= this.map.get(oldest.value)!.bytes;
      this.map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    const old = this.map.get(key);
    if (!old) return;
    this.bytes -= old.bytes;
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.map.size;
  }

  get weight(): number {
    return this.bytes;
  }
}
