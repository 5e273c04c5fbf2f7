/**
 * @module watch-feed. What wakes GET /watch streams, and their bounds: the http layer's WatchFeed
 * (src/http/service.ts). The node tells the feed, once per turn of its Ready loop, its applied
 * ledger size and who leads (`applied`); the feed wakes every open stream only when one of them
 * changed, so a stream waiting at the head costs nothing until entries arrive. It also counts streams against `api.watch_streams_max`, ends them
 * all at shutdown (`close`), and keeps the numbers /metrics reports under `watch`.
 *
 * The streams themselves (src/http/watch.ts) decide what a change means for them: new entries to
 * read, a leader change that ends them, a consumer too far behind.
 */

import type { WatchEndReason, WatchFeed as WatchFeedContract, WatchLimits, WatchListener } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";

/** Longest a shutdown waits for the streams to queue their final lines (a stalled read of S3 must not hold it). */
const closeGraceMs = 2000;

export class WatchFeed implements WatchFeedContract {
  private readonly listeners = new Set<WatchListener>();
  private appliedSize = 0;
  private leaderId = 0;
  private closingReason: "shutting_down" | undefined;
  /** The most bytes one stream ever had queued for its consumer (scribe's own high-water mark). */
  private bufferedMax = 0;
  readonly counters = {
    opened: 0,
    refused: 0,
    ended: { until: 0, leader_changed: 0, shutting_down: 0, slow_consumer: 0, client_closed: 0, error: 0 } as Record<WatchEndReason, number>,
  };

  constructor(
    readonly limits: WatchLimits,
    /** Told about a failure that is not a ScribeError inside a stream (a bug). */
    private readonly reportError: (error: unknown) => void = () => {},
  ) {}

  onInternalError(error: unknown): void {
    this.reportError(error);
  }

  /** The applied ledger size last reported. */
  get head(): number {
    return this.appliedSize;
  }

  /** The leader last reported (0: none known). */
  get leader(): number {
    return this.leaderId;
  }

  get closing(): boolean {
    return this.closingReason !== undefined;
  }

  /**
   * The node applied entries or its leader changed: wakes every stream when either differs from
   * what was reported last. Called after every Ready of the node's loop; O(1) when nothing changed.
   */
  applied(size: number, leader: number): void {
    if (size === this.appliedSize && leader === this.leaderId) return;
    this.appliedSize = size;
    this.leaderId = leader;
    for (const listener of this.listeners) listener.changed();
  }

  /** Admits a new stream; throws too_many_streams past the limit, shutting_down while closing. */
  register(listener: WatchListener): () => void {
    if (this.closingReason) throw new ScribeError("shutting_down", "the node is shutting down");
    if (this.listeners.size >= this.limits.streamsMax) {
      this.counters.refused++;
      throw new ScribeError("too_many_streams", `this node serves ${this.limits.streamsMax} watch streams already (api.watch_streams_max); retry later or watch another node`);
    }
    this.listeners.add(listener);
    this.counters.opened++;
    return () => this.listeners.delete(listener);
  }

  /** A stream ended (counted once per stream). */
  ended(reason: WatchEndReason): void {
    this.counters.ended[reason]++;
  }

  /** A stream queued `bytes` for its consumer: keeps the high-water mark. */
  noteBuffered(bytes: number): void {
    if (bytes > this.bufferedMax) this.bufferedMax = bytes;
  }

  /**
   * Ends every stream with a final `{"end": "shutting_down", "resume_from": N}` line and refuses
   * new ones. Resolves once every stream queued its final line, or after closeGraceMs.
   */
  async close(): Promise<void> {
    this.closingReason = "shutting_down";
    const ends = [...this.listeners].map((listener) => listener.end("shutting_down"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled(ends), new Promise<void>((resolve) => (timer = setTimeout(resolve, closeGraceMs)))]);
    clearTimeout(timer);
  }

  metrics(): Record<string, unknown> {
    let buffered = 0;
    for (const listener of this.listeners) buffered += listener.bufferedBytes();
    return {
      streams: this.listeners.size,
      streams_max: this.limits.streamsMax,
      opened: this.counters.opened,
      refused: this.counters.refused,
      ended: { ...this.counters.ended },
      buffered_bytes: buffered,
      buffered_bytes_max: this.bufferedMax,
      backlog_entries_max: this.limits.backlogEntriesMax,
    };
  }
}
