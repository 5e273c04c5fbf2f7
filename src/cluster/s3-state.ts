/**
 * @module s3-state. What the node last learned about S3, for GET /ready (readiness.ts): every S3
 * outcome the cold tier sees (the start check, archival passes, manifest reads, read-through) is
 * noted here with its time, and an answer older than `s3StateAgeMsMax` starts one HeadBucket in the
 * background (at most one in flight) whose outcome a later call sees. A readiness probe never
 * waits for S3 and never becomes an S3 request of its own.
 */

import type { BucketProbe } from "../storage/cold/index.ts";

/**
 * Oldest S3 state GET /ready answers with before it asks S3 again (one HeadBucket in the
 * background, at most one in flight): readiness probes come every few seconds from every load
 * balancer and must not each become an S3 request, yet an outage should show within half a minute.
 */
export const s3StateAgeMsMax = 30_000;

/** What the node last learned about S3 (null: nothing yet), and how long ago. */
export interface S3State {
  reachable: boolean | null;
  /** Milliseconds since it was learned (null: never). */
  age_ms: number | null;
  /** Where it was learned: start check, archival, manifest, read-through, probe. */
  source: string | null;
  /** Why it is not reachable (null when reachable or unknown). */
  detail: string | null;
}

export interface S3ReachabilityOptions {
  now: () => number;
  /** One HeadBucket of the configured bucket. */
  probe: () => Promise<BucketProbe>;
  /** True once the cold tier stopped: no further probe starts, and a late outcome is dropped. */
  stopped: () => boolean;
}

/** The last S3 outcome seen by the cold tier and the background HeadBucket that refreshes it. */
export class S3Reachability {
  /** The last S3 outcome seen (start check, archival pass, manifest read, read-through, probe). */
  private last: { reachable: boolean; atMs: number; source: string; detail: string | null } | undefined;
  private probing: Promise<void> | undefined;

  constructor(private readonly options: S3ReachabilityOptions) {}

  /** Records an S3 outcome. */
  note(reachable: boolean, source: string, detail: string | null = null): void {
    this.last = { reachable, atMs: this.options.now(), source, detail: reachable ? null : detail };
  }

  /** A HeadBucket's outcome (the start check's, src/cluster/s3-check.ts, or a refresh). */
  noteProbe(probe: BucketProbe, source = "probe"): void {
    this.note(probe.ok, source, probe.ok ? null : `${probe.problem}: ${probe.detail}`);
  }

  /** One HeadBucket in the background unless one is in flight; its outcome becomes the S3 state. */
  refresh(): void {
    if (this.probing || this.options.stopped()) return;
    this.probing = this.options
      .probe()
      .then((outcome) => {
        if (!this.options.stopped()) this.noteProbe(outcome);
      })
      .finally(() => {
        this.probing = undefined;
      });
  }

  /**
   * What the node last learned about S3, never waiting for it: when that is older than
   * s3StateAgeMsMax (or nothing is known yet), one HeadBucket starts in the background and a later
   * call sees its outcome.
   */
  state(): S3State {
    const known = this.last;
    const ageMs = known ? this.options.now() - known.atMs : null;
    if (ageMs === null || ageMs > s3StateAgeMsMax) this.refresh();
    if (!known) return { reachable: null, age_ms: null, source: null, detail: null };
    return { reachable: known.reachable, age_ms: ageMs, source: known.source, detail: known.detail };
  }

  /** Settles once no HeadBucket is in flight. */
  async settled(): Promise<void> {
    await this.probing;
  }
}
