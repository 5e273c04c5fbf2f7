/**
 * @module gzip-options. fflate's options for a segment's gzip, in one place for the Worker
 * (gzip-worker.ts) and the benches that measure the compressor alone.
 *
 * `mem: 6` gives deflate a hash table of 2^18 entries (512 KiB) where fflate's streaming default
 * takes 2^20 (2 MiB): on the 2-core machine the archiver's gzip Worker spent 0.92x the CPU per
 * archived entry with it (docs/PERFORMANCE.md section 11) and the compression ratio stayed the
 * same; fflate alone on a segment ran 1.09-1.13x faster at level 1. `mtime: 0` and no file name:
 * the output is a function of the input, the level and the fflate version only.
 */

import type { GzipOptions } from "fflate";

/** fflate's gzip options for a segment at `level` (0-9). */
export function segmentGzipOptions(level: number): GzipOptions {
  return { level: level as NonNullable<GzipOptions["level"]>, mem: 6, mtime: 0 };
}
