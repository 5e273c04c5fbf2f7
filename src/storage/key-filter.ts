/**
 * @module key-filter. Which keys the ledger has ever held, approximately and in memory: a
 * blocked Bloom filter (every probe of a key falls in one 64-byte block, so a lookup costs one
 * cache miss) that answers "certainly never written" for a new key without a SQLite read, or
 * "maybe" (then SQLite decides). It never forgets a key it was given, so a "no" is always right;
 * a "maybe" is wrong for well under 1% of new keys (each layer is kept below its capacity).
 *
 * It grows in layers (a scalable Bloom filter): when a layer holds its capacity, a new one of
 * twice the capacity takes the new keys and a lookup asks every layer. Past `keyFilterBytesMax`
 * it gives up (drops its layers and answers "maybe" to everything): the ledger stays correct,
 * new keys just cost a SQLite read again.
 *
 * Measured on the 2-core machine (docs/PERFORMANCE.md): 0.4 µs to add a key, 0.6 µs to look up
 * an absent one, against 6-7 µs for the SQLite read of a key's head outside a transaction.
 */

/** Bits per key at a layer's capacity: with 7 probes in 512-bit blocks, ~0.5% false "maybe". */
const bitsPerKey = 12;
/** Probes per key. */
const probes = 7;
/** Bits in one block: a 64-byte cache line. */
const blockBits = 512;
const blockWords = blockBits / 32;
/** The first layer's capacity at least (2^20 keys: 1.5 MiB). */
export const keyFilterKeysMin = 2 ** 20;
/**
 * Most memory the filter may take: 256 MiB holds ~170M keys over its layers. Past it the filter
 * is dropped (the ledger then reads SQLite for every new key, as it did without one).
 */
export const keyFilterBytesMax = 256 * 1024 * 1024;

interface Layer {
  words: Int32Array;
  blocks: number;
  capacity: number;
  count: number;
}

export class KeyFilter {
  private layers: Layer[] = [];
  private bytes = 0;
  /** Gave up (past keyFilterBytesMax): every answer is "maybe". */
  private saturated = false;

  /** @param expectedKeys keys expected soon (the first layer is sized for twice as many). */
  constructor(expectedKeys = 0) {
    this.addLayer(Math.max(keyFilterKeysMin, 2 * expectedKeys));
  }

  /** Bytes the filter holds. */
  get size(): number {
    return this.bytes;
  }

  /** True once the filter gave up; it then answers "maybe" to every key. */
  get full(): boolean {
    return this.saturated;
  }

  add(key: string): void {
    if (this.saturated) return;
    let layer = this.layers[this.layers.length - 1]!;
    if (layer.count >= layer.capacity) {
      if (!this.addLayer(layer.capacity * 2)) return;
      layer = this.layers[this.layers.length - 1]!;
    }
    hashKey(key);
    const base = (hash1 % layer.blocks) * blockWords;
    let h = hash2;
    for (let j = 0; j < probes; j++) {
      const bit = h & (blockBits - 1);
      layer.words[base + (bit >>> 5)]! |= 1 << (bit & 31);
      h = nextProbe(h);
    }
    layer.count++;
  }

  /** False only when `key` was certainly never added. */
  mayContain(key: string): boolean {
    if (this.saturated) return true;
    hashKey(key);
    for (const layer of this.layers) if (inLayer(layer, hash1, hash2)) return true;
    return false;
  }

  private addLayer(capacity: number): boolean {
    const blocks = Math.ceil((capacity * bitsPerKey) / blockBits);
    const bytes = blocks * (blockBits / 8);
    if (this.bytes + bytes > keyFilterBytesMax) {
      this.saturated = true;
      this.layers = [];
      this.bytes = 0;
      return false;
    }
    this.layers.push({ words: new Int32Array(blocks * blockWords), blocks, capacity, count: 0 });
    this.bytes += bytes;
    return true;
  }
}

function inLayer(layer: Layer, h1: number, h2: number): boolean {
  const base = (h1 % layer.blocks) * blockWords;
  let h = h2;
  for (let j = 0; j < probes; j++) {
    const bit = h & (blockBits - 1);
    if ((layer.words[base + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false;
    h = nextProbe(h);
  }
  return true;
}

/** The next probe's bits from the previous ones (a multiply-xorshift step). */
function nextProbe(h: number): number {
  return Math.imul(h ^ (h >>> 13), 0x5bd1e995);
}

/** The two hashes of the last hashKey call (module scratch: no allocation per lookup). */
let hash1 = 0;
let hash2 = 0;

/** Two 32-bit hashes of the key's UTF-16 code units (FNV-1a and a multiply-xorshift), in one pass, into hash1 and hash2. */
function hashKey(key: string): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  hash1 = h1 >>> 0;
  hash2 = h2 >>> 0;
}
