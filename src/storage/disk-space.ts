/**
 * @module storage/disk-space. Free space of the data directory's file system (statfs), read
 * often enough that writes are refused before SQLite runs out of room, and rarely enough that it
 * costs nothing when the disk is far from full. And which SQLite errors mean "the disk is full"
 * (a state to wait out) rather than a broken database.
 *
 * The reading rule: `read()` calls statfs unless the last reading is younger than
 * `freshWithinMs` AND was more than `headroomBytes` above the reserve (nothing this node writes
 * in that time can use up the headroom). So near the reserve every group commit reads statfs
 * (about 3 µs), and far from it at most 10 readings a second are made.
 */

import { statfsSync } from "node:fs";

/** How long a reading far above the reserve is reused. */
const freshWithinMs = 100;
/**
 * Free bytes above the reserve under which every read() calls statfs: more than this node can
 * write in freshWithinMs (the measured write path is well under 100 MB/s).
 */
const headroomBytes = 64 * 1024 * 1024;

export interface DiskReading {
  /** Bytes available to this process on the file system (statfs bavail × bsize); null when statfs failed. */
  freeBytes: number | null;
  /** True when freeBytes is below the reserve (never when the check is off or statfs failed). */
  belowReserve: boolean;
  /** Why statfs failed, when it did. */
  error?: string;
}

export interface DiskSpaceOptions {
  /** The data directory. */
  dir: string;
  /** storage.min_free_bytes; 0 turns refusals off (readings are still made for the status). */
  minFreeBytes: number;
  now: () => number;
  /** For tests: replaces statfs (returns free bytes, or throws). */
  statfs?: (dir: string) => number;
}

export class DiskSpace {
  private last: DiskReading = { freeBytes: null, belowReserve: false };
  private lastAtMs = Number.NEGATIVE_INFINITY;
  readonly counters = { reads: 0 };

  constructor(private readonly options: DiskSpaceOptions) {}

  get minFreeBytes(): number {
    return this.options.minFreeBytes;
  }

  /** The free space by the reading rule of the module comment. */
  read(): DiskReading {
    const now = this.options.now();
    const free = this.last.freeBytes;
    const farAbove = free !== null && free - this.options.minFreeBytes > headroomBytes;
    if (farAbove && now - this.lastAtMs < freshWithinMs) return this.last;
    return this.readNow(now);
  }

  /** The last reading, made again if older than `maxAgeMs` (the status and metrics use it). */
  cached(maxAgeMs: number): DiskReading {
    const now = this.options.now();
    return now - this.lastAtMs < maxAgeMs ? this.last : this.readNow(now);
  }

  private readNow(now: number): DiskReading {
    this.counters.reads++;
    this.lastAtMs = now;
    try {
      const freeBytes = this.options.statfs ? this.options.statfs(this.options.dir) : freeBytesOf(this.options.dir);
      this.last = { freeBytes, belowReserve: this.options.minFreeBytes > 0 && freeBytes < this.options.minFreeBytes };
    } catch (error) {
      // Never refuse writes because the check itself failed; the status says it could not tell.
      this.last = { freeBytes: null, belowReserve: false, error: (error as Error).message };
    }
    return this.last;
  }
}

/** Bytes available to an unprivileged writer on the file system holding `dir`. */
export function freeBytesOf(dir: string): number {
  const stats = statfsSync(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}

/**
 * SQLite result codes that mean the write could not get space, not that the database is broken:
 * SQLITE_FULL (ENOSPC, or a quota), and writes or file growth that failed (SQLITE_IOERR_WRITE,
 * _SHMSIZE, _TRUNCATE) — in WAL mode nothing of a transaction that failed this way is committed,
 * and it can be retried. A failed fsync (SQLITE_IOERR_FSYNC) is NOT among them: after one, what
 * reached the disk is unknown, and the node stops as before.
 */
const storageFullCodes: ReadonlySet<string> = new Set(["SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_TRUNCATE"]);

/** True when `error` is an SQLite error of storageFullCodes. */
export function isStorageFullError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && storageFullCodes.has(code);
}
