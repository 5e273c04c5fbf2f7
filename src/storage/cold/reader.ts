/**
 * @module reader. Read-through of archived values: finds the segment holding an index in the
 * manifest, fetches and fully verifies it (segment-fetch.ts), keeps the decoded segment in a
 * bytes-bounded LRU, and returns the value after checking it against the caller's entry.
 */

import { ScribeError } from "../../lib/index.ts";
import { valueMismatch, type Entry } from "../../ledger/index.ts";
import { sha256 } from "./hashing.ts";
import { findSegment, type Manifest, type SegmentDescriptor } from "./manifest.ts";
import type { SegmentRecord } from "./segment.ts";
import { fetchSegment, sameEntry, segmentObjectBytesMaxDefault } from "./segment-fetch.ts";
import type { Uploader } from "./uploader.ts";

export interface ColdReaderOptions {
  uploader: Uploader;
  /** The manifest to resolve indexes with; a function so the caller can swap in newer ones. */
  manifest: () => Manifest | undefined;
  /** Decoded segments kept, by their raw bytes. */
  cacheBytesMax?: number;
  objectBytesMax?: number;
}

export interface ColdReaderStats {
  hits: number;
  misses: number;
  fetches: number;
  fetched_bytes: number;
  evictions: number;
  cached_bytes: number;
  cached_segments: number;
}

/** The value check's hasher: the cold tier's SHA-256. */
const valueHasher = { digest: sha256 };

/** Default cache: a few 64 MiB segments. */
export const coldCacheBytesMaxDefault = 256 * 1024 * 1024;

interface CachedSegment {
  descriptor: SegmentDescriptor;
  records: SegmentRecord[];
  bytes: number;
}

export class ColdReader {
  readonly stats: ColdReaderStats = { hits: 0, misses: 0, fetches: 0, fetched_bytes: 0, evictions: 0, cached_bytes: 0, cached_segments: 0 };
  /** Map insertion order is recency: the first key is the least recently used. */
  private readonly cache = new Map<string, CachedSegment>();
  private readonly inFlight = new Map<string, Promise<CachedSegment>>();
  private readonly cacheBytesMax: number;
  private readonly objectBytesMax: number;

  constructor(private readonly options: ColdReaderOptions) {
    this.cacheBytesMax = options.cacheBytesMax ?? coldCacheBytesMaxDefault;
    this.objectBytesMax = options.objectBytesMax ?? segmentObjectBytesMaxDefault;
  }

  /**
   * The value of `entry` (trusted, from the hot tier or a verified proof), read from its segment.
   * Errors: not_found when no archived segment holds the index; verification_failed when the
   * segment's entry or value disagrees with `entry`.
   */
  async getValue(entry: Entry): Promise<Uint8Array> {
    const record = await this.getRecord(entry.index);
    if (!sameEntry(record.entry, entry)) {
      throw new ScribeError("verification_failed", `archived entry at index ${entry.index} differs from the ledger's entry`, { index: entry.index });
    }
    const mismatch = valueMismatch(entry, record.value, valueHasher);
    if (mismatch) {
      throw new ScribeError("verification_failed", `archived value at index ${entry.index} does not match the entry: ${mismatch}`, { index: entry.index });
    }
    return record.value;
  }

  /** The archived record at `index`, verified against its segment's manifest descriptor. */
  async getRecord(index: number): Promise<SegmentRecord> {
    const manifest = this.options.manifest();
    const position = manifest ? findSegment(manifest, index) : -1;
    if (!manifest || position < 0) throw new ScribeError("not_found", `index ${index} is not in any archived segment`, { index });
    const descriptor = manifest.segments[position]!;
    const segment = await this.segment(descriptor);
    const record = segment.records[index - descriptor.first_index]!;
    return record;
  }

  private async segment(descriptor: SegmentDescriptor): Promise<CachedSegment> {
    const key = descriptor.object_key;
    const cached = this.cache.get(key);
    if (cached) {
      this.stats.hits += 1;
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    this.stats.misses += 1;
    let loading = this.inFlight.get(key);
    if (!loading) {
      loading = this.load(descriptor).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, loading);
    }
    return loading;
  }

  private async load(descriptor: SegmentDescriptor): Promise<CachedSegment> {
    const verified = await fetchSegment(this.options.uploader, descriptor, this.objectBytesMax);
    this.stats.fetches += 1;
    this.stats.fetched_bytes += verified.objectBytes;
    const entry: CachedSegment = { descriptor, records: verified.records, bytes: verified.summary.rawBytes };
    if (entry.bytes <= this.cacheBytesMax) {
      this.cache.set(descriptor.object_key, entry);
      this.stats.cached_bytes += entry.bytes;
      this.evict();
    }
    this.stats.cached_segments = this.cache.size;
    return entry;
  }

  private evict(): void {
    for (const [key, entry] of this.cache) {
      if (this.stats.cached_bytes <= this.cacheBytesMax) break;
      this.cache.delete(key);
      this.stats.cached_bytes -= entry.bytes;
      this.stats.evictions += 1;
    }
    this.stats.cached_segments = this.cache.size;
  }

  clear(): void {
    this.cache.clear();
    this.stats.cached_bytes = 0;
    this.stats.cached_segments = 0;
  }
}
