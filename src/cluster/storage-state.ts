/**
 * @module storage-state. Whether this node's data directory can take writes, as the Ready loop,
 * the write path, /health and the metrics see it (issue 16: a full disk is a state, not a crash).
 *
 * Two causes make it not writable:
 *   - the free space (storage/disk-space.ts, statfs) is below storage.min_free_bytes: a leader
 *     refuses client writes with 507 `insufficient_storage` before proposing them (checked per
 *     group commit), a follower holds appends from the leader (it stops acknowledging);
 *   - SQLite failed a persist step for lack of space (SQLITE_FULL and kin): the Ready loop keeps
 *     the step and retries it (ready-loop.ts, "Storage stalls").
 * Reads keep working either way. Writes resume by themselves: the reading is made again at every
 * group commit and, while refusing, at most every `refusalRecheckMs`; a stalled step is retried.
 * Each transition is logged once: an error-level `ALARM insufficient_storage` line, then an info
 * line when writes are possible again.
 */

import type { StorageStatus } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import { isStorageFullError, type DiskReading, type DiskSpace } from "../storage/index.ts";
import type { Logger } from "./logger.ts";
import type { StorageGate } from "./storage-stall.ts";

/** While writes are refused, the free space is read again at most this often by the write path. */
const refusalRecheckMs = 100;
/** The status (/health, metrics) reuses a reading at most this old. */
const statusReadingMsMax = 1000;

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export class StorageState implements StorageGate {
  private stalledReason: ScribeError | undefined;
  /** The state last logged: true while the alarm is raised. */
  private alarmed = false;
  readonly counters = { refused_writes: 0, full_errors: 0, stalls: 0, alarms: 0 };

  constructor(
    private readonly disk: DiskSpace,
    private readonly logger: Logger,
  ) {}

  // ---- StorageGate (the Ready loop) -------------------------------------------------------

  admitProposals(queued: number): ScribeError | undefined {
    const reading = this.observe(this.disk.read());
    if (!reading.belowReserve) return undefined;
    this.counters.refused_writes += queued;
    return this.belowReserveError(reading);
  }

  refused(count: number): void {
    this.counters.refused_writes += count;
  }

  holdAppend(): ScribeError | undefined {
    const reading = this.observe(this.disk.read());
    return reading.belowReserve ? this.belowReserveError(reading) : undefined;
  }

  isFull(error: unknown): boolean {
    const full = isStorageFullError(error);
    if (full) this.counters.full_errors++;
    return full;
  }

  stalled(reason: ScribeError): void {
    this.counters.stalls++;
    this.stalledReason = reason;
    this.transition();
  }

  resumed(): void {
    this.stalledReason = undefined;
    this.transition();
  }

  // ---- the write path and the status ------------------------------------------------------

  /**
   * The refusal a new write gets at once, before it is queued (a leader's fast path): the last
   * reading, made again when older than refusalRecheckMs. undefined: go on (the group commit checks again).
   */
  refusal(): ScribeError | undefined {
    if (this.stalledReason) {
      this.counters.refused_writes++;
      return new ScribeError("insufficient_storage", `${this.stalledReason.message}; nothing was appended`);
    }
    const reading = this.observe(this.disk.cached(refusalRecheckMs));
    if (!reading.belowReserve) return undefined;
    this.counters.refused_writes++;
    return this.belowReserveError(reading);
  }

  /** The status field (NodeStatus.storage). */
  status(): StorageStatus {
    const reading = this.observe(this.disk.cached(statusReadingMsMax));
    const reason = this.reason(reading);
    const status: StorageStatus = { writable: reason === undefined, free_bytes: reading.freeBytes, min_free_bytes: this.disk.minFreeBytes };
    if (reason !== undefined) status.reason = reason;
    return status;
  }

  metrics(): Record<string, unknown> {
    const status = this.status();
    return { ...status, insufficient: !status.writable, stalled: this.stalledReason !== undefined, ...this.counters, statfs_reads: this.disk.counters.reads };
  }

  private reason(reading: DiskReading): string | undefined {
    if (this.stalledReason) return this.stalledReason.message;
    if (reading.belowReserve) return this.belowReserveError(reading).message;
    return undefined;
  }

  private belowReserveError(reading: DiskReading): ScribeError {
    return new ScribeError(
      "insufficient_storage",
      `the data directory has ${mib(reading.freeBytes ?? 0)} free, below its reserve of ${mib(this.disk.minFreeBytes)} (storage.min_free_bytes): writes are refused, reads still work; free some space and writes resume by themselves`,
      { free_bytes: reading.freeBytes, min_free_bytes: this.disk.minFreeBytes },
    );
  }

  /** Notes a reading (logging a transition) and returns it. */
  private observe(reading: DiskReading): DiskReading {
    const insufficient = reading.belowReserve || this.stalledReason !== undefined;
    if (insufficient !== this.alarmed) this.transition(reading);
    return reading;
  }

  /** Logs a change of state, once per transition. */
  private transition(reading: DiskReading = this.disk.cached(statusReadingMsMax)): void {
    const reason = this.reason(reading);
    const insufficient = reason !== undefined;
    if (insufficient === this.alarmed) return;
    this.alarmed = insufficient;
    const fields = { free_bytes: reading.freeBytes, min_free_bytes: this.disk.minFreeBytes };
    if (insufficient) {
      this.counters.alarms++;
      this.logger.error({ alarm: "insufficient_storage", ...fields, reason }, `ALARM insufficient_storage: ${reason}`);
    } else {
      this.logger.info({ alarm: "insufficient_storage", cleared: true, ...fields }, "storage writable again: insufficient_storage cleared, writes resume");
    }
  }
}
