/**
 * @module registry. The Prometheus registry of one node (prom-client), served at
 * GET /metrics/prometheus. Request counters and latency histograms are read from the HTTP layer's
 * RequestMetrics totals at scrape time; everything else (storage, caches, Raft, replication lag, tree size,
 * the cold tier) is read from the node's status() and metrics() at scrape time by collect
 * callbacks, so the exposition is never staler than the scrape.
 *
 * Names keep the original Scribe Ledger's: scribe_ledger_{get,put,delete}_requests_total and
 * scribe_ledger_{get,put,delete}_latency_seconds (plus batch), and its storage and Raft names
 * beside this node's own: scribe_ledger_raft_last_applied (= raft_applied_index),
 * scribe_ledger_storage_size_bytes{tier} (= storage_bytes{tier}), and
 * scribe_ledger_storage_keys_total, a counter because of its `_total`: keys ever written (the
 * live-key gauge is scribe_ledger_storage_keys). The exposition passes `promtool check metrics`
 * (test/metrics/promtool.test.ts): a counter's name ends in `_total`, nothing else's does.
 */

import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";

export type RequestOp = "get" | "put" | "delete" | "batch";

/** What the registry reads; the node (LedgerService) and its RequestMetrics fit it. */
export interface MetricsSource {
  status(): {
    node_id: number;
    role: string;
    term: number;
    leader_id: number | null;
    commit_index: number;
    applied_index: number;
    ledger_size: number;
    healthy: boolean;
    membership: { id: number; lag?: number; connected?: boolean }[];
    /** The data directory's state (NodeStatus.storage); absent on a source without one. */
    storage?: { writable: boolean; free_bytes: number | null };
  };
  metrics(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Totals of one operation since the node started, kept by the HTTP layer (RequestMetrics). */
export interface RequestTotals {
  requests: number;
  errors: number;
  latencySecondsSum: number;
  /** Requests per latency bucket (not cumulative): one per latencyBucketsSeconds bound, then +Inf. */
  buckets: readonly number[];
}

/**
 * What the registry reads of the requests, at scrape time: plain counters the HTTP layer keeps
 * (no prom-client call on the request path, which cost about 0.3 µs a request).
 */
export interface RequestObservable {
  requestTotals(op: RequestOp): RequestTotals;
}

export interface PrometheusRegistry {
  readonly registry: Registry;
  readonly contentType: string;
  /** The text exposition, after reading the node's state once. */
  metrics(): Promise<string>;
}

const requestOps: readonly RequestOp[] = ["get", "put", "delete", "batch"];
const raftRoles = ["leader", "follower", "candidate", "pre-candidate", "learner", "single"] as const;
/** Latency buckets, seconds: group commit makes writes wait ~1 fsync; reads are sub-millisecond. */
export const latencyBucketsSeconds: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Snapshot {
  status: ReturnType<MetricsSource["status"]>;
  metrics: Record<string, unknown>;
}

/** The number at the first of `paths` (dotted) that holds one in `root`; undefined if none. */
export function pickNumber(root: unknown, paths: readonly string[]): number | undefined {
  for (const path of paths) {
    let value: unknown = root;
    for (const part of path.split(".")) {
      value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
    }
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

/** Builds the registry for one node. */
export function createPrometheusRegistry(source: MetricsSource, requests: RequestObservable): PrometheusRegistry {
  const registry = new Registry();
  let snapshot: Snapshot | undefined;
  const s0 = () => snapshot?.metrics;
  const read = async (): Promise<Snapshot> => ({ status: source.status(), metrics: await source.metrics() });

  registerRequestMetrics(registry, requests);

  /** A gauge (or counter mirrored from the node's own counters) set from the snapshot at collect time. */
  const fromSnapshot = (kind: "gauge" | "counter", name: string, help: string, labelNames: string[], fill: (set: (value: number, labels?: Record<string, string>) => void, s: Snapshot) => void) => {
    if (kind === "gauge") {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          if (snapshot) fill((value, labels) => (labels ? this.set(labels, value) : this.set(value)), snapshot);
        },
      });
    } else {
      new Counter({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          if (snapshot) fill((value, labels) => (labels ? this.inc(labels, Math.max(0, value)) : this.inc(Math.max(0, value))), snapshot);
        },
      });
    }
  };

  // Node and Raft.
  fromSnapshot("gauge", "scribe_ledger_node_id", "This node's id.", [], (set, s) => set(s.status.node_id));
  fromSnapshot("gauge", "scribe_ledger_healthy", "1 when the node can serve writes (it knows a leader and is not shutting down).", [], (set, s) => set(s.status.healthy ? 1 : 0));
  fromSnapshot("gauge", "scribe_ledger_raft_term", "Current Raft term.", [], (set, s) => set(s.status.term));
  fromSnapshot("gauge", "scribe_ledger_raft_commit_index", "Highest Raft log index known committed.", [], (set, s) => set(s.status.commit_index));
  fromSnapshot("gauge", "scribe_ledger_raft_applied_index", "Highest Raft log index applied to the ledger.", [], (set, s) => set(s.status.applied_index));
  fromSnapshot("gauge", "scribe_ledger_raft_last_applied", "Highest Raft log index applied to the ledger (the original name of scribe_ledger_raft_applied_index).", [], (set, s) => set(s.status.applied_index));
  fromSnapshot("gauge", "scribe_ledger_raft_leader_id", "Id of the leader this node knows (0 when none).", [], (set, s) => set(s.status.leader_id ?? 0));
  fromSnapshot("gauge", "scribe_ledger_raft_is_leader", "1 when this node is the leader.", [], (set, s) => set(s.status.leader_id === s.status.node_id ? 1 : 0));
  fromSnapshot("gauge", "scribe_ledger_raft_role", "1 for this node's current Raft role.", ["role"], (set, s) => {
    for (const role of raftRoles) set(s.status.role === role ? 1 : 0, { role });
  });
  fromSnapshot("gauge", "scribe_ledger_raft_members", "Members of the Raft group (voters and learners).", [], (set, s) => set(s.status.membership.length));
  fromSnapshot("gauge", "scribe_ledger_replication_lag_entries", "Raft log entries a peer is behind the leader's last index (reported by the leader only).", ["peer"], (set, s) => {
    for (const member of s.status.membership) if (member.lag !== undefined) set(member.lag, { peer: String(member.id) });
  });
  fromSnapshot("gauge", "scribe_ledger_peer_connected", "1 when the Raft transport to a peer is connected.", ["peer"], (set, s) => {
    for (const member of s.status.membership) if (member.connected !== undefined) set(member.connected ? 1 : 0, { peer: String(member.id) });
  });

  // Ledger and storage.
  fromSnapshot("gauge", "scribe_ledger_ledger_size", "Entries in the ledger (the next index).", [], (set, s) => set(s.status.ledger_size));
  fromSnapshot("gauge", "scribe_ledger_tree_size", "Leaves in the Merkle tree.", [], (set, s) => set(pickNumber(s.metrics, ["tree_size"]) ?? s.status.ledger_size));
  fromSnapshot("gauge", "scribe_ledger_storage_keys", "Live keys (latest entry is a put).", [], (set, s) => set(pickNumber(s.metrics, ["storage.liveKeys", "storage.live_keys"]) ?? 0));
  fromSnapshot("gauge", "scribe_ledger_storage_entries", "Entries stored in the hot tier.", [], (set, s) => set(pickNumber(s.metrics, ["storage.entries"]) ?? 0));
  fromSnapshot("counter", "scribe_ledger_storage_keys_total", "Keys stored in the ledger, each counted once: every key ever written, deleted ones included (a delete appends a tombstone and the key's history stays), so it never decreases. Live keys: scribe_ledger_storage_keys.", [], (set, s) => set(pickNumber(s.metrics, ["storage.keysWritten"]) ?? 0));
  const storageBytes = (set: (value: number, labels?: Record<string, string>) => void, s: Snapshot) => {
    set(pickNumber(s.metrics, ["storage.valueBytes", "storage.value_bytes"]) ?? 0, { tier: "hot" });
    set(pickNumber(s.metrics, ["cold.bytes"]) ?? 0, { tier: "cold" });
  };
  fromSnapshot("gauge", "scribe_ledger_storage_bytes", "Value bytes by tier: hot (SQLite) and cold (objects in S3).", ["tier"], storageBytes);
  fromSnapshot("gauge", "scribe_ledger_storage_size_bytes", "Storage size in bytes by tier, the same as scribe_ledger_storage_bytes (the original name): value bytes in SQLite (hot) and object bytes in S3 (cold).", ["tier"], storageBytes);

  // Caches.
  fromSnapshot("counter", "scribe_ledger_cache_hits_total", "Cache hits by cache (heads: key to latest entry; values: index to value).", ["cache"], (set, s) => {
    for (const cache of ["heads", "values"]) set(pickNumber(s.metrics, [`cache.${cache}.hits`]) ?? 0, { cache });
  });
  fromSnapshot("counter", "scribe_ledger_cache_misses_total", "Cache misses by cache.", ["cache"], (set, s) => {
    for (const cache of ["heads", "values"]) set(pickNumber(s.metrics, [`cache.${cache}.misses`]) ?? 0, { cache });
  });
  fromSnapshot("gauge", "scribe_ledger_cache_entries", "Items held by each cache.", ["cache"], (set, s) => {
    for (const cache of ["heads", "values"]) set(pickNumber(s.metrics, [`cache.${cache}.size`]) ?? 0, { cache });
  });
  fromSnapshot("gauge", "scribe_ledger_cache_bytes", "Bytes held by the value cache.", [], (set, s) => set(pickNumber(s.metrics, ["cache.values.bytes"]) ?? 0));

  // Cold tier (S3; ColdTier.metrics() under "cold"); zero when the node has none.
  const cold = (field: string) => pickNumber(s0(), [`cold.${field}`]) ?? 0;
  fromSnapshot("counter", "scribe_ledger_s3_uploads_total", "Objects uploaded to S3 and verified.", [], (set) => set(cold("uploads")));
  fromSnapshot("counter", "scribe_ledger_s3_upload_bytes_total", "Object bytes uploaded to S3 and verified.", [], (set) => set(cold("bytes")));
  fromSnapshot("counter", "scribe_ledger_s3_errors_total", "Failed archival runs and cold reads (after retries).", [], (set) => set(cold("errors")));
  fromSnapshot("counter", "scribe_ledger_s3_retries_total", "Retried S3 requests and archival runs.", [], (set) => set(cold("retries")));
  fromSnapshot("counter", "scribe_ledger_segments_archived_total", "Segments sealed and archived to S3.", [], (set) => set(cold("segments_archived")));
  fromSnapshot("counter", "scribe_ledger_tiles_written_total", "C2SP tiles and entry bundles written to S3 (write-once).", [], (set) => set(cold("tiles_written")));
  fromSnapshot("counter", "scribe_ledger_cold_read_through_total", "Values read back from S3 after leaving the hot tier.", [], (set) => set(cold("read_through")));
  fromSnapshot("counter", "scribe_ledger_cold_evicted_values_total", "Values removed from the hot tier after archival.", [], (set) => set(cold("evicted_values")));
  // The cluster's archival state, labelled with the reporting node's archival role: the leader's own
  // progress, or on a follower the bucket's manifest as last read. No sample while it is unknown (no
  // cold tier, or a follower that has not read the bucket yet): unknown is not 0.
  const known = (field: string, set: (value: number, labels?: Record<string, string>) => void) => {
    const value = pickNumber(s0(), [`cold.${field}`]);
    const role = (s0()?.cold as { archival_role?: unknown } | undefined)?.archival_role;
    if (value !== undefined) set(value, { role: typeof role === "string" ? role : "leader" });
  };
  fromSnapshot("gauge", "scribe_ledger_archival_backlog_entries", "Entries of this node's ledger not yet archived to S3 by the cluster; role: leader (it archives) or follower (the leader's progress, read from the bucket).", ["role"], (set) => known("backlog_entries", set));
  fromSnapshot("gauge", "scribe_ledger_archived_index", "Ledger entries below this index are archived to S3 (the cluster's progress; role as for the backlog).", ["role"], (set) => known("archived_index", set));

  registerCorruptionMetrics(fromSnapshot);
  registerStorageMetrics(fromSnapshot);
  registerWatchMetrics(fromSnapshot);

  return {
    registry,
    contentType: registry.contentType,
    async metrics() {
      snapshot = await read();
      return registry.metrics();
    },
  };
}

type FromSnapshot = (kind: "gauge" | "counter", name: string, help: string, labelNames: string[], fill: (set: (value: number, labels?: Record<string, string>) => void, s: Snapshot) => void) => void;

/**
 * Reads refused because stored bytes did not match the ledger (LedgerState.metrics().corruption):
 * any increase is an alarm. Values by tier (hot: SQLite, cold: S3); entries rows (hot only).
 */
function registerCorruptionMetrics(fromSnapshot: FromSnapshot): void {
  fromSnapshot("counter", "scribe_ledger_corrupt_values_total", "Reads refused because a stored value did not match its entry's size and SHA-256, by tier (hot: SQLite, cold: S3).", ["tier"], (set, s) => {
    for (const tier of ["hot", "cold"]) set(pickNumber(s.metrics, [`corruption.values.${tier}`]) ?? 0, { tier });
  });
  fromSnapshot("counter", "scribe_ledger_corrupt_entries_total", "Reads refused because a stored entry did not match its Merkle leaf or its key's version chain.", [], (set, s) => set(pickNumber(s.metrics, ["corruption.entries"]) ?? 0));
  fromSnapshot("counter", "scribe_ledger_checkpoint_disagreements_total", "Checkpoints this member refused to sign because its own ledger disagrees (another root at that size, or a stored tree that contradicts a checkpoint it signed).", [], (set, s) =>
    set(pickNumber(s.metrics, ["checkpoint_disagreements"]) ?? 0),
  );
}

/**
 * Whether the data directory takes writes (NodeStatus.storage, metrics().disk; issue 16): a full
 * disk is a state to alert on, not a crash. Also the idempotency window's size.
 */
function registerStorageMetrics(fromSnapshot: FromSnapshot): void {
  fromSnapshot("gauge", "scribe_ledger_storage_insufficient", "1 while this node's data directory cannot take writes: its free space is below storage.min_free_bytes, or SQLite found the disk full. Writes are refused (507 insufficient_storage) or not acknowledged; reads still work.", [], (set, s) => {
    if (s.status.storage) set(s.status.storage.writable ? 0 : 1);
  });
  fromSnapshot("gauge", "scribe_ledger_storage_free_bytes", "Bytes free for the node on the data directory's file system at the last statfs.", [], (set, s) => {
    const free = s.status.storage?.free_bytes;
    if (typeof free === "number") set(free);
  });
  fromSnapshot("counter", "scribe_ledger_storage_refused_writes_total", "Writes refused 507 insufficient_storage (below the free-space reserve, or while the disk was full).", [], (set, s) => set(pickNumber(s.metrics, ["disk.refused_writes"]) ?? 0));
  fromSnapshot("counter", "scribe_ledger_storage_full_errors_total", "Persist steps SQLite refused for lack of space (SQLITE_FULL and kin); the node waits and retries them.", [], (set, s) => set(pickNumber(s.metrics, ["disk.full_errors"]) ?? 0));
  fromSnapshot("gauge", "scribe_ledger_idempotency_keys", "Idempotency records in the window table (live, or not yet pruned).", [], (set, s) => set(pickNumber(s.metrics, ["idempotency.window_rows"]) ?? 0));
}

/** GET /watch streams (WatchFeed.metrics() under "watch"). */
function registerWatchMetrics(fromSnapshot: FromSnapshot): void {
  fromSnapshot("gauge", "scribe_ledger_watch_streams", "Open GET /watch streams (at most api.watch_streams_max).", [], (set, s) => set(pickNumber(s.metrics, ["watch.streams"]) ?? 0));
  fromSnapshot("gauge", "scribe_ledger_watch_buffered_bytes", "Bytes queued for watch consumers and not yet taken by them, all streams together.", [], (set, s) => set(pickNumber(s.metrics, ["watch.buffered_bytes"]) ?? 0));
  fromSnapshot("counter", "scribe_ledger_watch_refused_total", "GET /watch requests refused with too_many_streams.", [], (set, s) => set(pickNumber(s.metrics, ["watch.refused"]) ?? 0));
  fromSnapshot("counter", "scribe_ledger_watch_ended_total", "Watch streams ended, by reason (until, leader_changed, shutting_down, slow_consumer, client_closed, error).", ["reason"], (set, s) => {
    for (const reason of ["until", "leader_changed", "shutting_down", "slow_consumer", "client_closed", "error"]) set(pickNumber(s.metrics, [`watch.ended.${reason}`]) ?? 0, { reason });
  });
}

/**
 * prom-client's default metrics that mean something under Bun and follow the naming rules. Left
 * out: nodejs_active_{handles,requests,resources}[_total] (Bun reports none, so they are always 0
 * or empty, and the `_total` gauges break the counter naming rule that promtool checks),
 * nodejs_heap_space_* (V8 heap spaces: under Bun's JavaScriptCore all but one are 0) and
 * nodejs_gc_duration_seconds (Bun emits no GC performance entries, so it never has a sample).
 */
export const processMetricNames: readonly string[] = [
  "process_cpu_user_seconds_total",
  "process_cpu_system_seconds_total",
  "process_cpu_seconds_total",
  "process_start_time_seconds",
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_eventloop_lag_seconds",
  "nodejs_eventloop_lag_min_seconds",
  "nodejs_eventloop_lag_max_seconds",
  "nodejs_eventloop_lag_mean_seconds",
  "nodejs_eventloop_lag_stddev_seconds",
  "nodejs_eventloop_lag_p50_seconds",
  "nodejs_eventloop_lag_p90_seconds",
  "nodejs_eventloop_lag_p99_seconds",
  "nodejs_heap_size_total_bytes",
  "nodejs_heap_size_used_bytes",
  "nodejs_external_memory_bytes",
  "nodejs_version_info",
];

/**
 * Adds the process metrics of `processMetricNames` (CPU, memory, open files, event-loop lag, heap):
 * prom-client's defaults are collected into a scratch registry and only those move over.
 * A server adds them once; apps built in tests leave them out (each would start its own monitors).
 */
export function addProcessMetrics(prometheus: PrometheusRegistry): void {
  const scratch = new Registry();
  collectDefaultMetrics({ register: scratch });
  for (const name of processMetricNames) {
    const metric = scratch.getSingleMetric(name) as Metric | undefined;
    if (metric) prometheus.registry.registerMetric(metric);
  }
}

/**
 * Per-operation request and error counters and latency histograms, read from the HTTP layer's
 * totals at scrape time. The histograms are registered as plain metric objects (what prom-client's
 * Registry formats: name, help, type and values), since a prom-client Histogram can only be fed
 * one observation at a time.
 */
function registerRequestMetrics(registry: Registry, requests: RequestObservable): void {
  for (const op of requestOps) {
    new Counter({
      name: `scribe_ledger_${op}_requests_total`,
      help: `${op.toUpperCase()} requests answered.`,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(requests.requestTotals(op).requests);
      },
    });
    new Counter({
      name: `scribe_ledger_${op}_errors_total`,
      help: `${op.toUpperCase()} requests that failed (5xx or an internal error).`,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(requests.requestTotals(op).errors);
      },
    });
    registry.registerMetric(latencyHistogram(`scribe_ledger_${op}_latency_seconds`, `${op.toUpperCase()} request latency in seconds.`, () => requests.requestTotals(op)) as unknown as Metric);
  }
}

/** A histogram metric whose buckets are read from `totals` when scraped. */
function latencyHistogram(name: string, help: string, totals: () => RequestTotals) {
  const metric = {
    name,
    help,
    type: "histogram" as const,
    aggregator: "sum" as const,
    get: async () => {
      const t = totals();
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      let cumulative = 0;
      latencyBucketsSeconds.forEach((le, i) => {
        cumulative += t.buckets[i] ?? 0;
        values.push({ labels: { le }, value: cumulative, metricName: `${name}_bucket` });
      });
      values.push({ labels: { le: "+Inf" }, value: t.requests, metricName: `${name}_bucket` });
      values.push({ labels: {}, value: t.latencySecondsSum, metricName: `${name}_sum` });
      values.push({ labels: {}, value: t.requests, metricName: `${name}_count` });
      return { name, help, type: metric.type, values, aggregator: metric.aggregator };
    },
    reset: () => undefined,
  };
  return metric;
}
