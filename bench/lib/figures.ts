/**
 * @module bench/lib/figures. The measurements the ratio sections (single, cluster, archival)
 * return, as stored in bench/results.json under `runs[i].figures`. Field names carry their units.
 */

/** One server under one load: answers per second and latency as the client saw them. */
export interface LoadFigure {
  /** Successful (2xx) operations per second. */
  ops_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  /** Non-2xx answers plus socket errors and timeouts. */
  errors: number;
  /** CPU (user + system, all threads) of the server process(es) per successful operation, µs. */
  cpu_us_per_op: number | null;
  /** The same per server process when there are several (e.g. `leader`, `follower`), µs. */
  cpu_us_per_op_by_process?: Record<string, number>;
  seconds: number;
}

/** What the raw insert baseline reports. */
export interface RawInsertFigure {
  rows_per_sec: number;
  rows: number;
  transactions: number;
  seconds: number;
  cpu_us_per_row: number;
}

/** Latency quantiles, ms. */
export interface Quantiles {
  p50: number;
  p99: number;
}

/** What durability costs on this disk (bench/baselines/fsync.ts). */
export interface DiskFigure {
  fdatasync_4k_ms: Quantiles;
  sqlite_full_txn_1_ms: Quantiles;
  sqlite_full_txn_64_ms: Quantiles;
}

export interface SingleFigures {
  disk?: DiskFigure;
  put?: { scribe: LoadFigure; durable_baseline: LoadFigure; etcd_1?: LoadFigure };
  get?: { scribe: LoadFigure; bare_bun_serve: LoadFigure };
  batch?: { scribe: LoadFigure; raw_insert: RawInsertFigure };
}

export interface ClusterFigures {
  leader: LoadFigure;
  follower: LoadFigure;
  etcd_3?: LoadFigure;
}

export interface ArchivalFigures {
  /** The batch ingest rate of the data archived (the single section's batch row when it ran). */
  ingest_entries_per_sec: number;
  /** Entries per second the node's archiver moved to S3 while draining the backlog. */
  archival_entries_per_sec: number | null;
  /** The same in MB/s (10^6 bytes) of raw segment encoding (what the manifest calls raw_bytes). */
  archival_mb_per_sec: number | null;
  /** Compressed object bytes per raw byte, from the manifest. */
  compression_ratio: number | null;
  segments_archived: number;
  segment_bytes: number;
  /** True when the archiver drained the backlog within the time limit. */
  drained: boolean;
  raw_put_mb_per_sec: number | null;
  /** CPU of the node per archived entry while draining, µs. */
  cpu_us_per_entry: number | null;
  /** Of cpu_us_per_entry, the node's Worker threads' (the gzip worker), µs; absent in runs before 2026-12-03 10:50 UTC. */
  gzip_worker_cpu_us_per_entry?: number | null;
  /**
   * fflate gzip at level 1 alone on one core: an archived segment compressed again in the bench
   * process after the drain, MB/s of raw segment bytes and the entries per second that makes.
   */
  fflate_alone_mb_per_sec?: number | null;
  fflate_alone_entries_per_sec?: number | null;
  /** CPU of the test S3 server (s3rver, on the same two cores) per archived entry meanwhile, µs. */
  s3_server_cpu_us_per_entry?: number | null;
  /** Where the test S3 server kept its files (tmpfs since 2026-12-03; runs before: disk). */
  s3_server_storage?: string;
}

export interface RunFigures {
  single?: SingleFigures;
  cluster?: ClusterFigures;
  archival?: ArchivalFigures;
}
