/**
 * @module cold-metrics. The cold tier's numbers (archival.ts): the counters its passes,
 * evictions and read-through keep, and the "cold" section of /metrics (also read by the
 * Prometheus exporter, src/metrics/registry.ts) built from them, the uploader's and reader's
 * statistics and the archived and evicted indexes.
 */

import type { ColdReaderStats, UploaderStats } from "../storage/cold/index.ts";

export interface ColdCounters {
  runs: number;
  errors: number;
  segments_archived: number;
  segments_reused: number;
  tiles_written: number;
  tiles_existing: number;
  evicted_values: number;
  read_through: number;
  read_errors: number;
  consecutive_failures: number;
  last_error: string | null;
  /** Witnessed extensions written, and the sizes of the last one (bucket checkpoint → witnessed). */
  witnessed_published: number;
  witnessed_from: number | null;
  witnessed_size: number | null;
}

/** Counters at zero: a cold tier that has done nothing yet. */
export function newColdCounters(): ColdCounters {
  return {
    runs: 0,
    errors: 0,
    segments_archived: 0,
    segments_reused: 0,
    tiles_written: 0,
    tiles_existing: 0,
    evicted_values: 0,
    read_through: 0,
    read_errors: 0,
    consecutive_failures: 0,
    last_error: null,
    witnessed_published: 0,
    witnessed_from: null,
    witnessed_size: null,
  };
}

export interface ColdMetricsInputs {
  counters: ColdCounters;
  uploader: UploaderStats;
  reader: ColdReaderStats;
  autoArchival: boolean;
  /** Whether this node has an archiver (it led at its last pass). */
  archiving: boolean;
  /** Archival passes that ran after a failed one. */
  runRetries: number;
  /** The cluster's archived index as this node can vouch for it (null: unknown), and whose it is. */
  role: "leader" | "follower";
  archivedIndex: number | null;
  evictedIndex: number;
  /** The ledger's size (its next index). */
  nextIndex: number;
}

/**
 * Numbers for /metrics ("cold") and the Prometheus exporter. `archived_index` and
 * `backlog_entries` are the cluster's: the leader's own progress, or on a follower the bucket's
 * manifest as last read (null before the first read).
 */
export function coldMetrics(inputs: ColdMetricsInputs): Record<string, unknown> {
  const { counters, uploader, archivedIndex } = inputs;
  return {
    enabled: true,
    auto_archival: inputs.autoArchival,
    archival_role: inputs.role,
    archiving: inputs.archiving,
    uploads: uploader.uploads,
    bytes: uploader.bytes,
    errors: counters.errors + counters.read_errors,
    retries: uploader.retries + inputs.runRetries,
    archived_index: archivedIndex,
    evicted_index: inputs.evictedIndex,
    backlog_entries: archivedIndex === null ? null : Math.max(0, inputs.nextIndex - archivedIndex),
    runs: counters.runs,
    segments_archived: counters.segments_archived,
    segments_reused: counters.segments_reused,
    tiles_written: counters.tiles_written,
    tiles_existing: counters.tiles_existing,
    evicted_values: counters.evicted_values,
    read_through: counters.read_through,
    read_errors: counters.read_errors,
    witnessed_published: counters.witnessed_published,
    witnessed_from: counters.witnessed_from,
    witnessed_size: counters.witnessed_size,
    reader: { ...inputs.reader },
    last_error: counters.last_error,
  };
}
