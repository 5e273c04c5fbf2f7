/**
 * @module storage/cold. The cold tier's building blocks: S3 client, object layout, segment codec,
 * streaming gzip in a Worker, write-once verified uploads, manifest and checkpoint, the archiver,
 * the tree as C2SP tlog-tiles, read-through and restore. See docs/S3_STORAGE.md.
 */

export { createS3Client, defaultS3Config, type S3Config } from "./s3-client.ts";
export { createColdStorage, type ColdStorage } from "./cold-storage.ts";
export { probeBucket, describeBucket, probeTimeoutSecsMax, type BucketProbe, type BucketProblem } from "./probe.ts";
export { createLayout, parseSegmentKey, padIndex, type Layout } from "./layout.ts";
export {
  encodeSegment,
  encodeSegmentBytes,
  decodeSegmentBytes,
  decodeSegmentStream,
  SegmentDecoder,
  segmentRecordBytes,
  segmentRawBytes,
  segmentFormatVersion,
  type SegmentRecord,
  type SegmentSummary,
  type SegmentDecodeOptions,
} from "./segment.ts";
export { GzipPool, gzipStream, gunzipStream, collect, type ChunkSource } from "./compression.ts";
export { segmentGzipOptions } from "./gzip-options.ts";
export { CompactRange, leafHash, nodeHash, sha256 } from "./hashing.ts";
export {
  Uploader,
  isNotFound,
  s3PartBytesMin,
  type UploaderOptions,
  type PutOnceOptions,
  type UploaderStats,
  type ObjectDigest,
  type WriteOnceRequest,
  type WriteOnceResult,
} from "./uploader.ts";
export {
  emptyManifest,
  appendSegment,
  parseManifest,
  encodeManifest,
  findSegment,
  readManifest,
  writeManifest,
  publishCheckpoint,
  readCheckpoint,
  publishWitnessedCheckpoint,
  readWitnessedCheckpoint,
  manifestFormatVersion,
  type Manifest,
  type SegmentDescriptor,
} from "./manifest.ts";
export { fetchSegment, verifySegmentObject, type VerifiedSegment } from "./segment-fetch.ts";
export { Archiver, tileBackfillEntriesPerRunMax, type ArchiveSource, type ArchiverConfig, type ArchiverOptions, type ArchiverStats, type RunResult } from "./archiver.ts";
export { ColdReader, type ColdReaderOptions, type ColdReaderStats } from "./reader.ts";
export { restoreFromBucket, type RestoreOptions, type RestoreResult } from "./restore.ts";
export { bucketLogReader, publishTiles, tileWritesInFlightMax, type CheckedUpperHashes, type LogTileSource, type PublishTilesOptions, type TileWriteStats } from "./tile-writer.ts";
