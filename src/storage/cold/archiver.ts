/**
 * @module archiver. Seals committed ledger ranges into immutable segment objects in S3.
 *
 * `runOnce(nowMs)` seals as many segments as are ready (at most `segmentsPerRunMax`):
 *  1. The range: from the manifest's next index, entries are taken until the raw segment reaches
 *     `segment_bytes`; if the committed entries run out first, the segment closes anyway when its
 *     oldest entry is at least `age_threshold_secs` old (it takes what exists), else nothing.
 *     The chosen range is recorded in `<prefix>/pending.json` before uploading, so a restart after
 *     a crash seals exactly the same range (time-based closing is not reproducible by itself).
 *  2. The segment is read from the source once and encoded deterministically once; that pass
 *     hashes it and gzips it in a Worker (kept across segments: `gzip`) into memory (segment-prep.ts). The object is then
 *     uploaded and read back and verified (uploader.writeOnce). An object already there with the
 *     same raw SHA-256 is downloaded, fully decoded and verified, then reused.
 *  3. With a tile source, the C2SP tiles and entry bundles of the tree up to the segment's end are
 *     written (tile-writer.ts, write-once) in a lane of their own (tile-lane.ts), queued once the
 *     pending marker fixes the range: one growth at a time, in order, while the seal goes on.
 *  4. The manifest (with this segment's descriptor, and `tiles_size`: the size the lane's finished
 *     growths cover) is rewritten, then `onSegmentArchived` is called. The next segment's seal
 *     starts once at most `tileGrowthsBehindMax` growths are unfinished; after the last segment
 *     of the run the lane is waited for and the manifest records its `tiles_size`, then the
 *     caller's checkpoint for the archived tree is published, only once the tiles cover it
 *     (retried on the next run if that fails).
 * A segment is never reported archived before its object is verified and listed in the manifest.
 * S3 failures are retried with backoff by the uploader, then returned as an error value and
 * counted; the next runOnce resumes where this one stopped.
 *
 * Pipelined: while segment N is uploaded, verified and published, segment N+1 is chosen and
 * prepared (no durable effect; `preparedSegmentsAheadMax`), and segment N-1's tiles are written.
 *
 * Order of durable effects per segment: pending.json → segment object → manifest.json → callback,
 * with the segment's tiles written after its pending.json and recorded (`tiles_size`) by a later
 * manifest; per run, a manifest with every tile, then the checkpoint last. A crash between any two
 * is repaired by the next run: on start the manifest is read back, segments it lists beyond the
 * source's `nextUnarchivedIndex()` are reported again, and tiles it does not cover yet
 * (`tiles_size` below `next_index`: a crash while they were written, or a bucket written before
 * tiles existed) are published first, at most `tileBackfillEntriesPerRunMax` entries per run,
 * before any new segment is sealed.
 */

import { assert, isScribeError, ScribeError, toHex } from "../../lib/index.ts";
import type { Entry } from "../../ledger/index.ts";
import type { GzipPool } from "./compression.ts";
import type { CompactRange } from "./hashing.ts";
import type { Layout } from "./layout.ts";
import {
  appendSegment,
  emptyManifest,
  frontierOf,
  readManifest,
  readPending,
  writeManifest,
  writePending,
  publishCheckpoint,
  type Manifest,
  type PendingSegment,
  type SegmentDescriptor,
} from "./manifest.ts";
import { segmentFormatVersion, segmentRawBytes, segmentRecordBytes, segmentRecordBytesOf } from "./segment.ts";
import { prepareSegment, type PreparedSegment } from "./segment-prep.ts";
import { segmentObjectBytesMaxDefault, verifySegmentObject } from "./segment-fetch.ts";
import { TileLane } from "./tile-lane.ts";
import { publishTiles, type CheckedUpperHashes, type EncodedEntries, type ListedTiles, type LogTileSource } from "./tile-writer.ts";
import type { Uploader } from "./uploader.ts";

/** Where the archiver reads committed entries from (the hot tier). Ranges are half-open. */
export interface ArchiveSource {
  /** First index not yet reported archived (persisted by the caller from onSegmentArchived). */
  nextUnarchivedIndex(): number;
  /** One past the last committed index. */
  committedIndexEnd(): number;
  /**
   * Entries [from, toExclusive) in index order, each with its value (empty for a delete), each
   * value checked against its entry (the archiver reads each range once).
   */
  readRange(from: number, toExclusive: number): Iterable<{ entry: Entry; value: Uint8Array }>;
  /**
   * For each entry in [from, toExclusive), in index order, its variable bytes (key and content type
   * in UTF-8, plus the value's bytes), when the source can tell them cheaper than reading the
   * entries: choosing a range needs only the records' sizes.
   */
  variableBytes?(from: number, toExclusive: number): Iterable<number>;
  entryTimestampMs(index: number): number;
}

export interface ArchiverConfig {
  /** A segment closes once its raw encoding reaches this many bytes. */
  segment_bytes: number;
  /** A smaller segment closes once its oldest entry is this old. */
  age_threshold_secs: number;
  compression_level: number;
  enable_compression: boolean;
}

export interface ArchiverOptions {
  source: ArchiveSource;
  uploader: Uploader;
  layout: Layout;
  config: ArchiverConfig;
  /** Called, in index order, once per segment verified in S3 and listed in the manifest. */
  onSegmentArchived: (descriptor: SegmentDescriptor) => void | Promise<void>;
  /**
   * Signed checkpoint text to publish after the manifest, or undefined to skip. It is asked for
   * the archived tree (size = manifest next_index, and its root when the archive starts at 0), so
   * a restore can compare its computed root with the checkpoint's without a consistency proof.
   */
  checkpoint?: (archived: { tree_size: number; tree_root: string | null }) => string | undefined | Promise<string | undefined>;
  /**
   * The node's tree hashes and entries: when given, the bucket also gets the tree as C2SP
   * tlog-tiles (hash tiles and entry bundles) up to the archived size, before its checkpoint.
   */
  tiles?: LogTileSource;
  /** Segments sealed per runOnce at most; bounds the time one call takes. */
  segmentsPerRunMax?: number;
  /** Records per segment at most (the header's count is a u32). */
  segmentEntriesMax?: number;
  /** Gzip Workers kept across segments (the caller closes it); without it, a Worker per segment. */
  gzip?: GzipPool;
}

export interface ArchiverStats {
  runs: number;
  segments_archived: number;
  /** Segments whose object was already in S3 (after a restart) and was verified and reused. */
  segments_reused: number;
  entries_archived: number;
  raw_bytes: number;
  object_bytes: number;
  errors: number;
  last_error: string | null;
  /** Hash tiles and entry bundles written, and found already there (identical). */
  tiles_written: number;
  tiles_existing: number;
}

export interface RunResult {
  archived: SegmentDescriptor[];
  error?: ScribeError;
  /**
   * True when the run stopped at one of its caps (`segmentsPerRunMax` segments, or
   * `tileBackfillEntriesPerRunMax` entries of older tiles) with more perhaps ready: the caller
   * should run again at once rather than after its interval.
   */
  more?: boolean;
}

/** Half the largest object a reader fetches into memory: a segment can overshoot by one value. */
export const segmentBytesMax = segmentObjectBytesMaxDefault / 2;
const segmentsPerRunMaxDefault = 16;
const segmentEntriesMaxDefault = 1_000_000;
/**
 * Segments prepared (in memory, gzipped) ahead of the one being uploaded: one, so the CPU work of
 * segment N+1 overlaps segment N's S3 round trips while memory stays at about two objects.
 */
export const preparedSegmentsAheadMax = 1;
/**
 * Entries whose tiles one run publishes while catching up (a bucket written before tiles): about
 * 8,200 objects, so a run stays minutes long at worst; the following runs continue.
 */
export const tileBackfillEntriesPerRunMax = 1_048_576;
/**
 * Segments whose tiles may still be being written when the next segment's seal starts: one, so
 * the store writes segment N's tiles while N+1's marker, object and manifest go up, and memory
 * holds at most one more segment's entry encodings than without the lane.
 */
export const tileGrowthsBehindMax = 1;

export class Archiver {
  readonly stats: ArchiverStats = {
    runs: 0,
    segments_archived: 0,
    segments_reused: 0,
    entries_archived: 0,
    raw_bytes: 0,
    object_bytes: 0,
    errors: 0,
    last_error: null,
    tiles_written: 0,
    tiles_existing: 0,
  };
  private manifest: Manifest | undefined;
  private running = false;
  /** Set when segments were sealed but the checkpoint after them is not yet published. */
  private checkpointDue = false;
  private readonly segmentsPerRunMax: number;
  private readonly segmentEntriesMax: number;
  private readonly checkedUpper: CheckedUpperHashes = new Map();
  /** The bucket's tile keys from where this archiver first wrote tiles on: listed once, dropped after a failure. */
  private readonly listedTiles: ListedTiles = {};

  constructor(private readonly options: ArchiverOptions) {
    const { config } = options;
    if (!(config.segment_bytes > 0 && config.segment_bytes <= segmentBytesMax)) {
      throw new RangeError(`segment_bytes must be in 1..${segmentBytesMax}, got ${config.segment_bytes}`);
    }
    if (!(config.age_threshold_secs >= 0)) throw new RangeError(`age_threshold_secs must be >= 0, got ${config.age_threshold_secs}`);
    if (!Number.isInteger(config.compression_level) || config.compression_level < 0 || config.compression_level > 9) {
      throw new RangeError(`compression_level must be 0..9, got ${config.compression_level}`);
    }
    this.segmentsPerRunMax = options.segmentsPerRunMax ?? segmentsPerRunMaxDefault;
    this.segmentEntriesMax = options.segmentEntriesMax ?? segmentEntriesMaxDefault;
  }

  /** The manifest as last written (undefined before the first run loaded it). */
  currentManifest(): Manifest | undefined {
    return this.manifest;
  }

  /** Seals every segment that is ready now; see the module comment. Never runs concurrently. */
  async runOnce(nowMs: number): Promise<RunResult> {
    if (this.running) return { archived: [], error: new ScribeError("conflict", "archiver runOnce is already running") };
    this.running = true;
    this.stats.runs += 1;
    const archived: SegmentDescriptor[] = [];
    try {
      await this.loadAndReconcile(archived);
      const caughtUp = await this.catchUpTiles();
      const pending = await readPending(this.options.uploader, this.options.layout);
      const more = await this.sealReady(nowMs, pending, archived);
      // The checkpoint waits for its tiles: a backfill is under way (more to do if this run moved it;
      // not if the hot tier is behind the bucket, which another run cannot change at once).
      if (!this.tilesCurrent()) return { archived, more: caughtUp };
      if (this.checkpointDue && this.options.checkpoint) {
        const last = this.manifest!.segments.at(-1);
        const text = await this.options.checkpoint({ tree_size: this.manifest!.next_index, tree_root: last?.tree_root ?? null });
        if (text !== undefined) await publishCheckpoint(this.options.uploader, this.options.layout, text);
      }
      this.checkpointDue = false;
      return { archived, more };
    } catch (error) {
      this.listedTiles.keys = undefined; // a failed growth may have left objects the listing did not see
      if (!isScribeError(error) && !isS3Error(error)) throw error;
      this.stats.errors += 1;
      const scribeError = isScribeError(error) ? error : new ScribeError("unavailable", `S3: ${(error as Error).message}`);
      this.stats.last_error = scribeError.message;
      return { archived, error: scribeError };
    } finally {
      this.running = false;
    }
  }

  /** Loads the manifest once; re-reports segments it lists that the source has not recorded. */
  private async loadAndReconcile(archived: SegmentDescriptor[]): Promise<void> {
    const next = this.options.source.nextUnarchivedIndex();
    if (!this.manifest) {
      this.manifest = (await readManifest(this.options.uploader, this.options.layout)) ?? emptyManifest(next);
    }
    const manifest = this.manifest;
    if (manifest.segments.length === 0 && manifest.next_index !== next) {
      this.manifest = emptyManifest(next);
      return;
    }
    if (next > manifest.next_index || next < manifest.first_index) {
      throw new ScribeError(
        "conflict",
        `source says entries before ${next} are archived, but the bucket's manifest covers ${manifest.first_index}..${manifest.next_index}`,
      );
    }
    for (const segment of manifest.segments) {
      if (segment.last_index < next) continue;
      if (segment.first_index < next) {
        throw new ScribeError("conflict", `source's next unarchived index ${next} falls inside segment ${segment.object_key}`);
      }
      await this.options.onSegmentArchived(segment);
      archived.push(segment);
    }
  }

  /** True when the bucket's tiles cover the whole archive (always, without a tile source). */
  private tilesCurrent(): boolean {
    const manifest = this.manifest!;
    return !this.options.tiles || (manifest.tiles_size ?? 0) === manifest.next_index;
  }

  /** Publishes tiles the manifest does not cover yet (bounded per run), then records them in it; false when there was nothing it could publish. */
  private async catchUpTiles(): Promise<boolean> {
    const { tiles, uploader, layout, source } = this.options;
    const manifest = this.manifest!;
    if (!tiles) return false;
    const from = manifest.tiles_size ?? 0;
    const to = Math.min(manifest.next_index, from + tileBackfillEntriesPerRunMax, source.committedIndexEnd());
    if (to <= from) return false;
    await publishTiles({ uploader, layout, source: tiles, from, to, stats: this.stats, checkedUpper: this.checkedUpper, listedTiles: this.listedTiles });
    await this.recordManifest({ ...manifest, tiles_size: to });
    this.checkpointDue = true;
    return true;
  }

  /** The range to seal from `first`, or undefined when none is ready. Reads the records' sizes only (with `variableBytes`). */
  private chooseRange(nowMs: number, pending: PendingSegment | undefined, first: number): PendingSegment | undefined {
    const end = this.options.source.committedIndexEnd();
    if (pending && pending.first_index === first) {
      if (pending.last_index >= end) {
        throw new ScribeError("conflict", `pending segment ${first}..${pending.last_index} reaches past the committed end ${end}`);
      }
      return pending;
    }
    if (first >= end) return undefined;
    const { config } = this.options;
    let recordBytes = 0;
    let count = 0;
    let full = false;
    const scanEnd = Math.min(end, first + this.segmentEntriesMax);
    const source = this.options.source;
    const sizes = source.variableBytes
      ? mapIterable(source.variableBytes(first, scanEnd), segmentRecordBytesOf)
      : mapIterable(source.readRange(first, scanEnd), (r) => segmentRecordBytes(r.entry));
    for (const bytes of sizes) {
      recordBytes += bytes;
      count += 1;
      if (segmentRawBytes(recordBytes) >= config.segment_bytes) {
        full = true;
        break;
      }
    }
    assert(count > 0, `source gave no entries for ${first}..${scanEnd}`);
    if (count === this.segmentEntriesMax) full = true;
    if (!full) {
      const ageMs = nowMs - this.options.source.entryTimestampMs(first);
      if (ageMs < config.age_threshold_secs * 1000) return undefined;
    }
    return {
      first_index: first,
      last_index: first + count - 1,
      count,
      compression: config.enable_compression ? "gzip" : "none",
      compression_level: config.compression_level,
    };
  }

  /**
   * Seals the ready segments (at most segmentsPerRunMax) in index order; each next one is chosen
   * and prepared while the one before it is uploaded and published (see the module comment).
   * True when it stopped at segmentsPerRunMax (more may be ready).
   */
  private async sealReady(nowMs: number, pending: PendingSegment | undefined, archived: SegmentDescriptor[]): Promise<boolean> {
    // Async, so a failure choosing or reading the next range surfaces only once the one before it is sealed.
    const prepareFrom = async (first: number, tree: CompactRange | undefined): Promise<PreparedSegment | undefined> => {
      const range = this.chooseRange(nowMs, pending, first);
      if (!range) return undefined;
      const records = this.options.source.readRange(range.first_index, range.last_index + 1);
      return prepareSegment({ records, range, tree, keepEntries: this.options.tiles !== undefined, gzip: this.options.gzip });
    };
    const ahead: Promise<PreparedSegment | undefined>[] = [];
    const lane = this.tileLane();
    try {
      if (!this.tilesCurrent()) return false; // a backfill of older tiles is still going on (catchUpTiles)
      let first = this.manifest!.next_index;
      let tree = frontierOf(this.manifest!);
      let sealed = 0;
      for (; sealed < this.segmentsPerRunMax; sealed++) {
        const prepared = await (ahead.shift() ?? prepareFrom(first, tree));
        if (!prepared) break;
        first = prepared.range.last_index + 1;
        tree = prepared.tree?.clone();
        if (sealed + 1 < this.segmentsPerRunMax && ahead.length < preparedSegmentsAheadMax) {
          const next = prepareFrom(first, tree);
          next.catch(() => undefined); // observed when awaited; no unhandled rejection meanwhile
          ahead.push(next);
        }
        // The tiles run at most one segment behind: those of the segment before this one are written while it is sealed.
        await lane?.behindAtMost(tileGrowthsBehindMax);
        archived.push(await this.sealSegment(prepared, prepared.range === pending, lane));
        this.checkpointDue = true;
      }
      if (lane) {
        await lane.settled();
        if (lane.doneTo > (this.manifest!.tiles_size ?? 0)) await this.recordManifest({ ...this.manifest!, tiles_size: lane.doneTo });
      }
      return sealed === this.segmentsPerRunMax;
    } finally {
      // Nothing of this run may still write once it returns: a failed seal leaves the next one
      // prepared in vain (let its worker end) and tiles perhaps still being written.
      await Promise.allSettled([...ahead, lane?.settled()]);
    }
  }

  /** The lane the sealed segments' tiles are written in, behind the segments (undefined without a tile source). */
  private tileLane(): TileLane<EncodedEntries> | undefined {
    const { tiles, uploader, layout } = this.options;
    if (!tiles) return undefined;
    const publish = (from: number, to: number, known: EncodedEntries | undefined) =>
      publishTiles({ uploader, layout, stats: this.stats, source: tiles, from, to, known, checkedUpper: this.checkedUpper, listedTiles: this.listedTiles });
    return new TileLane(publish, this.manifest!.tiles_size ?? 0);
  }

  private async recordManifest(next: Manifest): Promise<void> {
    await writeManifest(this.options.uploader, this.options.layout, next);
    this.manifest = next;
  }

  /**
   * Seals one prepared range: pending marker, then its tiles are queued in `lane` while the object
   * is uploaded and verified, then the manifest (its `tiles_size` what the lane has finished), callback.
   */
  private async sealSegment(prepared: PreparedSegment, resumed: boolean, lane: TileLane<EncodedEntries> | undefined): Promise<SegmentDescriptor> {
    const { uploader, layout } = this.options;
    const { range } = prepared;
    const manifest = this.manifest!;
    assert(range.first_index === manifest.next_index, `prepared segment starts at ${range.first_index}, the manifest at ${manifest.next_index}`);
    const compressed = range.compression === "gzip";
    const key = layout.segmentKey(range.first_index, range.last_index, compressed);
    const expectation = {
      object_key: key,
      first_index: range.first_index,
      count: range.count,
      compression: range.compression,
      raw_bytes: prepared.rawBytes,
      raw_sha256: prepared.rawSha256,
      leaves_root: prepared.leavesRoot,
    } as const;

    if (!resumed) await writePending(uploader, layout, range);
    // The tiles depend on the committed tree only, not on the object; the range is fixed now.
    lane?.enqueue(range.last_index + 1, prepared.entries);
    const result = await uploader.writeOnce({
      key,
      body: () => prepared.object,
      identityField: "raw-sha256",
      contentType: compressed ? "application/gzip" : "application/octet-stream",
      metadata: {
        "raw-sha256": prepared.rawSha256,
        "raw-bytes": String(prepared.rawBytes),
        "first-index": String(range.first_index),
        "last-index": String(range.last_index),
        "segment-format": String(segmentFormatVersion),
        compression: range.compression,
      },
      verifyExisting: async (existingKey) => {
        const object = await uploader.getBytes(existingKey, segmentObjectBytesMaxDefault);
        if (!object) throw new ScribeError("not_found", `object ${existingKey} vanished during verification`);
        await verifySegmentObject(object, expectation);
      },
    });
    lane?.throwIfFailed();

    const descriptor: SegmentDescriptor = {
      ...expectation,
      last_index: range.last_index,
      object_bytes: result.bytes,
      object_sha256: result.sha256,
      tree_size: range.last_index + 1,
      tree_root: prepared.tree ? toHex(prepared.tree.root()) : null,
    };
    const next = appendSegment(manifest, descriptor, prepared.tree);
    if (lane) next.tiles_size = Math.min(lane.doneTo, next.next_index);
    await this.recordManifest(next);
    await this.options.onSegmentArchived(descriptor);
    this.stats.segments_archived += 1;
    if (result.skipped) this.stats.segments_reused += 1;
    this.stats.entries_archived += range.count;
    this.stats.raw_bytes += prepared.rawBytes;
    this.stats.object_bytes += result.bytes;
    return descriptor;
  }
}

function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

function isS3Error(error: unknown): boolean {
  const e = error as { $metadata?: unknown; name?: string; code?: string };
  return (
    e !== null &&
    typeof e === "object" &&
    (e.$metadata !== undefined || e.code === "ECONNREFUSED" || e.name === "TimeoutError" || e.name === "AbortError")
  );
}
