/**
 * @module cold-eviction. The cold tier's eviction step (archival.ts, step 2 of a leader's pass):
 * the values of archived segments leave the hot tier, segment by segment in index order, once the
 * segment's newest entry is older than `age_threshold_secs` and a HEAD shows its object still in
 * S3 with the size the manifest records. Entries and tree hashes stay; a value evicted here is
 * read through from its segment (archival.ts, `readThrough`).
 */

import { ScribeError } from "../lib/index.ts";
import type { HotStore } from "../storage/index.ts";
import type { Manifest, Uploader } from "../storage/cold/index.ts";
import type { ColdCounters } from "./cold-metrics.ts";
import type { Logger } from "./logger.ts";

export interface EvictionOptions {
  /** The bucket's manifest as last written or read (nothing is evicted without one). */
  manifest: Manifest | undefined;
  store: HotStore;
  uploader: Pick<Uploader, "head">;
  /** Values of a segment whose newest entry is younger than this stay in the hot tier. */
  ageThresholdMs: number;
  now: () => number;
  /** `evicted_values` grows by each segment's values as soon as they are evicted. */
  counters: Pick<ColdCounters, "evicted_values">;
  logger: Logger;
}

/**
 * Evicts, segment by segment in index order, the values of archived segments whose newest entry
 * is older than the threshold, after a HEAD shows the object still has the manifest's size. Stops
 * at the first segment not ready; throws verification_failed (keeping that segment's values) when
 * its object is missing or of another size.
 */
export async function evictArchivedValues(options: EvictionOptions): Promise<void> {
  const { manifest, store, logger } = options;
  if (!manifest) return;
  for (const segment of manifest.segments) {
    const { archivedIndex, evictedIndex } = store.coldProgress();
    if (segment.last_index < evictedIndex) continue;
    if (segment.first_index !== evictedIndex || segment.last_index + 1 > archivedIndex) return;
    const newest = store.entry(segment.last_index);
    if (!newest || options.now() - newest.timestampMs < options.ageThresholdMs) return;
    const head = await options.uploader.head(segment.object_key);
    if (!head || head.bytes !== segment.object_bytes) {
      throw new ScribeError("verification_failed", `cold tier: ${segment.object_key} is ${head ? `${head.bytes} bytes, not ${segment.object_bytes}` : "missing"}; its values stay in the hot tier`);
    }
    const removed = store.evictValues(segment.first_index, segment.last_index + 1);
    options.counters.evicted_values += removed;
    logger.info({ object_key: segment.object_key, first_index: segment.first_index, last_index: segment.last_index, values: removed }, "cold tier: evicted archived values from the hot tier");
  }
}
