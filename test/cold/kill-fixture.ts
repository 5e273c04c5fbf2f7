/** The ledger and config shared by the kill -9 test and its child process. */
import type { ArchiverConfig } from "../../src/storage/cold/index.ts";

export const killTestLedger = {
  count: 1200,
  seed: 41,
  maxValueBytes: 40_000,
  /** One segment of ~24 MB raw: its gzip object needs several 5 MiB parts. */
  config: { segment_bytes: 64 * 1024 * 1024, age_threshold_secs: 0, compression_level: 1, enable_compression: true } satisfies ArchiverConfig,
};
