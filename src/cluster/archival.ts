/**
 * @module archival. The node's cold tier: archival scheduling, eviction and read-through.
 *
 * When `storage.s3.bucket` is set, every node installs a read-through fallback on its ledger: a
 * value whose `vals` row was evicted is fetched from its segment in S3 (ColdReader), verified
 * against the entry's value hash, cached and served. A segment or value that fails verification
 * is refused as corrupt_value (LedgerState counts it and logs the alarm).
 *
 * When `storage.tiering.enable_auto_archival` is also true, a timer runs every
 * `archival_check_interval_secs`, and at once again after a pass that stopped at the archiver's
 * cap of segments with more ready (`nextPassDelayMs`). On the Raft leader only (one archiver per bucket prefix) it
 *  1. runs `Archiver.runOnce` over this node's hot tier (hot-archive-source.ts): segments of
 *     `storage.segment_size` bytes, or smaller ones whose oldest entry is older than
 *     `age_threshold_secs`, are sealed, gzipped, uploaded, read back and verified, and listed in
 *     the manifest, with the tree up to each segment's end as C2SP tlog-tiles (hash tiles from the
 *     tree store, entry bundles from the entries); each is recorded durably in `meta`
 *     (onSegmentArchived); the node's signed checkpoint of the archived tree is published last;
 *     with witnesses configured, the bucket's checkpoint (members only: witnesses never see its
 *     older size) then gets its witnessed extension beside it, `witnessed-checkpoint`: the newest
 *     witnessed checkpoint with a consistency proof from the bucket's size (merkle/witnessed.ts),
 *     rewritten by each pass whose extension differs from the last one written;
 *  2. evicts the values of archived segments whose newest entry is older than
 *     `age_threshold_secs`, segment by segment in index order, after a HEAD confirms the object is
 *     still in S3 with the size the manifest records (cold-eviction.ts). Entries and tree hashes
 *     stay.
 * A new Archiver is made each time this node becomes leader, so it starts from the bucket's
 * manifest (another leader may have archived meanwhile). Followers archive and evict nothing: on
 * the same timer they read the bucket's manifest (one small GET), so they report the cluster's
 * archival state — the archived index the leader reached and their own ledger's backlog behind
 * it — rather than a backlog of their own that would only grow (`archival_role` says which;
 * before a follower's first read both are null: unknown).
 *
 * Failures (S3 down, 500s, timeouts) are values: the SDK retries each request, the uploader each
 * operation, and the timer retries the run with a backoff of up to `retryIntervalsMax` intervals;
 * writes never wait for S3, nothing is evicted unless its segment is verified, and the counters
 * (`metrics()`, under "cold" in /metrics: cold-metrics.ts) and a log line show each failure. Every
 * S3 outcome seen is also noted for GET /ready (`s3State()`, s3-state.ts).
 */

import type { Config } from "../config/index.ts";
import { AssertionError, ScribeError, isScribeError } from "../lib/index.ts";
import type { StoredEntry } from "../ledger/index.ts";
import { nodeRunReader, parseCheckpoint, splitNote } from "../merkle/index.ts";
import type { HotStore } from "../storage/index.ts";
import {
  Archiver,
  ColdReader,
  GzipPool,
  createColdStorage,
  findSegment,
  publishWitnessedCheckpoint,
  readCheckpoint,
  probeBucket,
  readManifest,
  type BucketProbe,
  type ColdStorage,
  type Manifest,
  type SegmentDescriptor,
} from "../storage/cold/index.ts";
import { evictArchivedValues } from "./cold-eviction.ts";
import { coldMetrics, newColdCounters, type ColdCounters } from "./cold-metrics.ts";
import { HotArchiveSource } from "./hot-archive-source.ts";
import type { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";
import { s3ConfigOf } from "./s3-config.ts";
import { S3Reachability, type S3State } from "./s3-state.ts";

/** After consecutive failures the next run waits up to this many check intervals (backoff cap). */
const retryIntervalsMax = 4;

/** The timer's wait before the next pass: a capped backoff after failures; none after a pass that stopped at the archiver's cap with more ready (a backlog drains back to back); else one interval. */
export function nextPassDelayMs(intervalMs: number, consecutiveFailures: number, moreReady: boolean): number {
  if (consecutiveFailures > 0) return intervalMs * Math.min(2 ** consecutiveFailures, retryIntervalsMax);
  return moreReady ? 0 : intervalMs;
}

export interface ColdTierOptions {
  config: Config;
  ledger: LedgerState;
  logger: Logger;
  /** True while this node is the Raft leader. */
  isLeader: () => boolean;
  /** A quorum checkpoint of exactly `size` leaves (cosigning.ts): the bucket's checkpoint. */
  checkpointAt: (size: number) => Promise<string>;
  /**
   * The witnessed extension of a checkpoint of `size` leaves (cosigning.ts), or undefined when the
   * node has no witnesses: written beside the bucket's checkpoint as `witnessed-checkpoint`.
   */
  witnessedFrom?: (size: number) => Promise<{ text: string; size: number } | undefined>;
  now?: () => number;
  /** For tests: replaces the storage built from config.storage.s3. */
  storage?: ColdStorage;
  /** For tests: replaces the HeadBucket that refreshes a stale S3 state (probeBucket on config.storage.s3). */
  probe?: () => Promise<BucketProbe>;
}

export class ColdTier {
  readonly storage: ColdStorage;
  readonly reader: ColdReader;
  readonly counters: ColdCounters = newColdCounters();
  private readonly store: HotStore;
  private readonly source: HotArchiveSource;
  private readonly now: () => number;
  private archiver: Archiver | undefined;
  /** The manifest last written by our archiver or read from the bucket. */
  private manifest: Manifest | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private moreReady = false; // the last pass stopped at the archiver's cap with more ready
  private current: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private runRetries = 0;
  /** On a follower: the cluster's archived index as last read from the bucket (undefined: not read yet). */
  private bucketArchivedIndex: number | undefined;
  /** What this node last learned about S3, for GET /ready (s3-state.ts). */
  private readonly s3: S3Reachability;
  /** The archivers' gzip Workers, kept across segments and leaderships; closed by stop(). */
  private readonly gzip = new GzipPool();

  constructor(private readonly options: ColdTierOptions) {
    this.store = options.ledger.store;
    this.source = new HotArchiveSource(this.store, options.isLeader, (entry, reason) => options.ledger.corrupt("value", entry, "hot", reason));
    this.now = options.now ?? Date.now;
    this.storage = options.storage ?? createColdStorage(s3ConfigOf(options.config));
    this.reader = new ColdReader({ uploader: this.storage.uploader, manifest: () => this.manifest });
    this.s3 = new S3Reachability({ now: this.now, probe: options.probe ?? (() => probeBucket(s3ConfigOf(options.config))), stopped: () => this.stopped });
    options.ledger.valueFallback = (entry) => this.readThrough(entry);
  }

  /** True when the timer archives (bucket set and enable_auto_archival). */
  get autoArchival(): boolean {
    return this.options.config.storage.tiering.enable_auto_archival;
  }

  start(): void {
    if (this.autoArchival) this.schedule(this.intervalMs());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
    await this.chain;
    await this.s3.settled();
    this.gzip.close();
    if (this.options.ledger.valueFallback) this.options.ledger.valueFallback = undefined;
  }

  private intervalMs(): number {
    return this.options.config.storage.tiering.archival_check_interval_secs * 1000;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.runOnce().then(
        () => this.scheduleNext(),
        (error) => {
          this.stopped = true;
          this.options.logger.fatal({ err: error }, "cold tier: archival stopped on a broken invariant");
        },
      );
    }, delayMs);
  }

  private scheduleNext(): void {
    this.current = undefined;
    this.schedule(nextPassDelayMs(this.intervalMs(), this.counters.consecutive_failures, this.moreReady));
  }

  /**
   * One archival pass (leader only): seal what is ready, then evict what is old enough. Passes
   * never overlap: a call made during one runs after it. Rejects only on a broken invariant.
   */
  runOnce(): Promise<void> {
    const next = this.chain.then(() => this.pass());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async pass(): Promise<void> {
    this.moreReady = false;
    if (!this.options.isLeader()) {
      this.archiver = undefined;
      await this.readClusterState();
      return;
    }
    this.counters.runs += 1;
    if (this.counters.consecutive_failures > 0) this.runRetries += 1;
    this.archiver ??= this.newArchiver();
    try {
      const before = { ...this.archiver.stats };
      const { archived, error, more } = await this.archiver.runOnce(this.now());
      this.manifest = this.archiver.currentManifest() ?? this.manifest;
      this.counters.segments_archived += archived.length;
      this.counters.segments_reused += this.archiver.stats.segments_reused - before.segments_reused;
      this.counters.tiles_written += this.archiver.stats.tiles_written - before.tiles_written;
      this.counters.tiles_existing += this.archiver.stats.tiles_existing - before.tiles_existing;
      if (error) throw error;
      this.moreReady = more === true;
      await this.publishWitnessed().catch((failure: Error) => {
        // Archival itself succeeded: the extension is retried by the next pass, without a backoff.
        if (failure instanceof AssertionError) throw failure;
        this.counters.last_error = failure.message;
        this.options.logger.warn({ err: failure.message }, "cold tier: the witnessed extension of the bucket's checkpoint was not written; the next pass retries");
      });
      await evictArchivedValues({
        manifest: this.manifest,
        store: this.store,
        uploader: this.storage.uploader,
        ageThresholdMs: this.options.config.storage.tiering.age_threshold_secs * 1000,
        now: this.now,
        counters: this.counters,
        logger: this.options.logger,
      });
      this.s3.note(true, "archival");
      if (this.counters.consecutive_failures > 0) {
        this.options.logger.info({ archived_index: this.store.coldProgress().archivedIndex, failures: this.counters.consecutive_failures }, "cold tier: S3 is reachable again; archival caught up");
      }
      this.counters.consecutive_failures = 0;
    } catch (error) {
      // A broken invariant is a bug: it stops archival (and eviction) rather than being retried.
      if (error instanceof AssertionError) throw error;
      this.counters.errors += 1;
      this.counters.consecutive_failures += 1;
      this.counters.last_error = (error as Error).message;
      // A pass fails for reasons of the hot tier too (a corrupt value): ask S3 itself.
      this.s3.refresh();
      const retryMs = nextPassDelayMs(this.intervalMs(), this.counters.consecutive_failures, false);
      this.options.logger.warn(
        { err: (error as Error).message, errors: this.counters.errors, backlog_entries: this.backlogEntries(), retry_in_ms: retryMs },
        "cold tier: archival failed; writes continue, nothing more is evicted, retrying with backoff",
      );
    }
  }

  /**
   * A follower's view of the cluster's archival: the bucket's manifest, read again. A failed read
   * keeps the last known index (archived ranges only grow, so it stays a true lower bound).
   */
  private async readClusterState(): Promise<void> {
    try {
      const manifest = await readManifest(this.storage.uploader, this.storage.layout);
      if (manifest) this.manifest = manifest;
      this.bucketArchivedIndex = Math.max(this.store.coldProgress().archivedIndex, manifest?.next_index ?? 0, this.bucketArchivedIndex ?? 0);
      this.s3.note(true, "manifest");
    } catch (error) {
      this.counters.last_error = (error as Error).message;
      this.s3.note(false, "manifest", (error as Error).message);
      this.options.logger.warn({ err: (error as Error).message }, "cold tier: cannot read the bucket's manifest; the cluster's archival state shown here may be old");
    }
  }

  /** The archived index this node can vouch for, and whose it is. */
  private archivalState(): { role: "leader" | "follower"; archivedIndex: number | null } {
    if (this.options.isLeader()) return { role: "leader", archivedIndex: this.store.coldProgress().archivedIndex };
    return { role: "follower", archivedIndex: this.bucketArchivedIndex ?? null };
  }

  private newArchiver(): Archiver {
    const { config, ledger } = this.options;
    const tiering = config.storage.tiering;
    return new Archiver({
      source: this.source,
      uploader: this.storage.uploader,
      layout: this.storage.layout,
      config: {
        segment_bytes: config.storage.segment_size,
        age_threshold_secs: tiering.age_threshold_secs,
        compression_level: tiering.compression_level,
        enable_compression: tiering.enable_compression,
      },
      onSegmentArchived: (descriptor) => this.recordArchived(descriptor),
      tiles: {
        // Read through the ledger each time: it reopens its tree after a failed batch.
        hashes: { readRun: (level, index, count) => nodeRunReader(ledger.tree.store).readRun(level, index, count) },
        entries: (from, toExclusive) => this.source.readEntries(from, toExclusive),
      },
      // A quorum checkpoint of exactly the bucket's size: members check it like any other.
      checkpoint: ({ tree_size }) => this.options.checkpointAt(tree_size),
      gzip: this.gzip,
    });
  }

  private recordArchived(descriptor: SegmentDescriptor): void {
    // A new leader may be shown segments beyond what it has applied yet: it records them later.
    if (descriptor.last_index + 1 > this.store.nextIndex) return;
    this.store.recordArchived(descriptor.last_index + 1);
    this.options.logger.info({ object_key: descriptor.object_key, first_index: descriptor.first_index, last_index: descriptor.last_index, object_bytes: descriptor.object_bytes }, "cold tier: segment archived and verified");
  }

  /**
   * Writes the witnessed extension of the bucket's checkpoint (leader, witnesses configured): the
   * size comes from the `checkpoint` object itself, so the extension always matches what the
   * bucket shows; nothing is written when it equals the last one written (same sizes), so an idle
   * log costs one small GET per pass. Throws on failure (the caller logs it; archival goes on).
   */
  private async publishWitnessed(): Promise<void> {
    const { witnessedFrom } = this.options;
    if (!witnessedFrom) return;
    const note = await readCheckpoint(this.storage.uploader, this.storage.layout);
    if (note === undefined) return;
    let size: number;
    try {
      size = parseCheckpoint(splitNote(note).body).size;
    } catch (error) {
      throw new ScribeError("verification_failed", `the bucket's checkpoint is not a signed checkpoint: ${(error as Error).message}`);
    }
    const extension = await witnessedFrom(size);
    if (!extension || (this.counters.witnessed_from === size && this.counters.witnessed_size === extension.size)) return;
    await publishWitnessedCheckpoint(this.storage.uploader, this.storage.layout, extension.text);
    this.counters.witnessed_published += 1;
    this.counters.witnessed_from = size;
    this.counters.witnessed_size = extension.size;
    this.options.logger.info({ checkpoint_size: size, witnessed_size: extension.size }, "cold tier: the bucket's checkpoint has its witnessed extension");
  }

  /**
   * The ledger's fallback for a value absent from the hot tier: fetch, verify, return. A segment or
   * value that fails verification is corrupt_value (the ledger counts it and raises the alarm);
   * anything else (S3 unreachable, object missing) is unavailable.
   */
  private async readThrough(entry: StoredEntry): Promise<Uint8Array | undefined> {
    if (entry.index >= this.store.coldProgress().evictedIndex) return undefined;
    this.counters.read_through += 1;
    try {
      if (!this.manifest || findSegment(this.manifest, entry.index) < 0) {
        this.manifest = (await readManifest(this.storage.uploader, this.storage.layout)) ?? this.manifest;
      }
      const value = await this.reader.getValue(entry);
      this.s3.note(true, "read-through");
      return value;
    } catch (error) {
      this.counters.read_errors += 1;
      if (isScribeError(error) && error.code === "verification_failed") {
        throw new ScribeError("corrupt_value", `its archived copy in S3 fails verification: ${error.message}`, { index: entry.index, tier: "cold" });
      }
      this.s3.note(false, "read-through", (error as Error).message);
      this.options.logger.warn({ index: entry.index, err: (error as Error).message }, "cold tier: read-through failed");
      throw new ScribeError("unavailable", `the value of index ${entry.index} is in the cold tier, which is unreachable: ${(error as Error).message}`);
    }
  }

  // ---- S3 state for GET /ready (s3-state.ts) ------------------------------------------------

  /** Records an S3 outcome (also the start check's, from src/cluster/server.ts). */
  noteS3(reachable: boolean, source: string, detail: string | null = null): void {
    this.s3.note(reachable, source, detail);
  }

  /** The start check's HeadBucket (src/cluster/s3-check.ts), as the first known state. */
  noteProbe(probe: BucketProbe, source = "probe"): void {
    this.s3.noteProbe(probe, source);
  }

  /** What the node last learned about S3, never waiting for it (S3Reachability.state). */
  s3State(): S3State {
    return this.s3.state();
  }

  /** Settles once no HeadBucket of s3State() is in flight (for tests and shutdown). */
  async settled(): Promise<void> {
    await this.s3.settled();
  }

  private backlogEntries(): number {
    return this.store.nextIndex - this.store.coldProgress().archivedIndex;
  }

  /** The "cold" section of /metrics (cold-metrics.ts). */
  metrics(): Record<string, unknown> {
    const { role, archivedIndex } = this.archivalState();
    return coldMetrics({
      counters: this.counters,
      uploader: this.storage.uploader.stats,
      reader: this.reader.stats,
      autoArchival: this.autoArchival,
      archiving: this.archiver !== undefined,
      runRetries: this.runRetries,
      role,
      archivedIndex,
      evictedIndex: this.store.coldProgress().evictedIndex,
      nextIndex: this.store.nextIndex,
    });
  }
}

/** Starts the cold tier when storage.s3.bucket is set; undefined otherwise. */
export function startColdTier(options: ColdTierOptions): ColdTier | undefined {
  if (!options.config.storage.s3.bucket) return undefined;
  const tier = new ColdTier(options);
  tier.start();
  options.logger.info(
    { bucket: options.config.storage.s3.bucket, prefix: tier.storage.layout.prefix, auto_archival: tier.autoArchival, check_interval_secs: options.config.storage.tiering.archival_check_interval_secs },
    "cold tier enabled",
  );
  return tier;
}
