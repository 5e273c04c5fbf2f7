/**
 * @module bench/archival. Sustained archival throughput of a node's cold tier, against the batch
 * ingest rate of the same data and against raw S3 PutObject, in one run:
 *  1. the backlog: a node ingests POST /batch (1,000 x 100 B, 2 clients) with no S3 configured —
 *     the single section's batch load when it ran in the same `bun run bench`, else its own;
 *  2. raw PutObject of segment-sized objects to the same s3rver (bench/baselines/s3-put.ts), which
 *     keeps its files in memory (/dev/shm when it is a tmpfs, else on disk; the run says which): it
 *     stands in for an S3 service on other machines, and a file created on this machine's ext4
 *     costs it 0.2-0.6 ms of kernel CPU (docs/PERFORMANCE.md section 3);
 *  3. the node restarts on that data with `[storage.s3]` set through SCRIBE_* variables (s3rver
 *     started with scripts/s3-server.ts), `storage.segment_size` = 4 MiB and
 *     `archival_check_interval_secs` = 1; /metrics is polled until the archiver has sealed every
 *     full segment. The rate counts entries archived between the first and the last segment seen
 *     (the first segment's time is not known and is left out).
 * Segments are 4 MiB, not the default 64 MiB, so that the few hundred thousand entries a short
 * run ingests make enough segments to time.
 *
 *   bun bench/archival.ts [--seconds 10]
 */

import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { gunzipSync, gzipSync } from "fflate";
import { join } from "node:path";
import type { ArchivalFigures, LoadFigure } from "./lib/figures.ts";
import { bunCommand, cpuSeconds, flagValue, freePort, median, memoryTempDir, repoRoot, runToEnd, spawnChild, threadCpuSeconds, waitUntil, type TempDir } from "./lib/proc.ts";
import { nodeMetrics, startNode } from "./lib/scribe.ts";
import { segmentGzipOptions } from "../src/storage/cold/index.ts";
import { describeLoad, ingestBacklog, type SectionOptions } from "./single.ts";

/** Raw segment bytes per sealed segment in this bench (storage.segment_size). */
export const segmentBytes = 4 * 1024 * 1024;
const bucket = "scribe";
const prefix = "bench";
/** Polling period of /metrics while the archiver drains: well below a segment's time. */
const pollMs = 100;

/** The node's cold-tier settings for this bench, as SCRIBE_* environment variables. */
export function coldTierEnv(endpoint: string): Record<string, string> {
  return {
    SCRIBE_STORAGE_S3_BUCKET: bucket,
    SCRIBE_STORAGE_S3_ENDPOINT: endpoint,
    SCRIBE_STORAGE_S3_ACCESS_KEY_ID: "S3RVER",
    SCRIBE_STORAGE_S3_SECRET_ACCESS_KEY: "S3RVER",
    SCRIBE_STORAGE_S3_PATH_STYLE: "true",
    SCRIBE_STORAGE_S3_PREFIX: prefix,
    SCRIBE_STORAGE_SEGMENT_SIZE: String(segmentBytes),
    SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS: "1",
  };
}

export interface Backlog {
  dataDir: TempDir;
  ingest: LoadFigure;
}

interface Manifest {
  segments: { count: number; raw_bytes: number; object_bytes: number; object_key: string }[];
}

/** Starts scripts/s3-server.ts; under `bun --cpu-prof` into `cpuProfDir` when given (written on stop). */
export async function startS3(dir: string, cpuProfDir?: string): Promise<{ endpoint: string; pid: number; stop(): Promise<number> }> {
  const port = freePort();
  const child = spawnChild({ cmd: [...bunCommand(cpuProfDir), join(repoRoot, "scripts/s3-server.ts"), "--port", String(port), "--dir", dir, "--bucket", bucket] });
  await waitUntil(
    () => {
      if (!child.running()) throw new Error(`s3-server exited at start:\n${child.output()}`);
      return child.output().includes("S3 endpoint=");
    },
    15_000,
    "scripts/s3-server.ts to listen",
  );
  return { endpoint: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.stop("SIGTERM") };
}

/** An object of the bench's bucket, or undefined when it cannot be read. */
async function readObject(endpoint: string, key: string): Promise<Uint8Array | undefined> {
  const client = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await object.Body!.transformToByteArray();
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}

async function readManifest(endpoint: string): Promise<Manifest | undefined> {
  const bytes = await readObject(endpoint, `${prefix}/manifest.json`);
  return bytes && (JSON.parse(new TextDecoder().decode(bytes)) as Manifest);
}

/** Compressions of the segment timed by `fflateAlone`, after `fflateWarmups` untimed ones. */
const fflateRuns = 7;
const fflateWarmups = 2;

/**
 * What the compressor alone can do on this machine: one archived segment, read back from the
 * bucket and gunzipped, gzipped again with fflate at the node's level (1) and options on this process's one
 * thread, `fflateRuns` times after warming up; MB/s of raw segment bytes at the median. The
 * archiver can compress no faster per core than this, whatever else it does.
 */
function fflateAlone(raw: Uint8Array): number {
  const seconds: number[] = [];
  for (let i = 0; i < fflateWarmups + fflateRuns; i++) {
    const start = performance.now();
    gzipSync(raw, segmentGzipOptions(1));
    if (i >= fflateWarmups) seconds.push((performance.now() - start) / 1000);
  }
  return raw.length / median(seconds) / 1e6;
}

export interface Drain {
  entriesPerSec: number | null;
  /** Entries archived between the first and the last change seen. */
  entries: number;
  cpuUsPerEntry: number | null;
  /** Of cpuUsPerEntry, the node's Worker threads' (its gzip worker). */
  workerCpuUsPerEntry: number | null;
  /** The same for `otherPid` (the S3 server) over the same window, when given. */
  otherCpuUsPerEntry: number | null;
  drained: boolean;
}

/**
 * Polls the node's cold metrics until a whole archival pass seals nothing more, and returns the
 * rate between the first and the last change of archived_index.
 */
export async function watchDrain(url: string, pid: number, timeoutMs: number, otherPid?: number): Promise<Drain> {
  const deadline = Date.now() + timeoutMs;
  let first: { t: number; archived: number; cpu: number; workerCpu: number; otherCpu: number } | undefined;
  let last: { t: number; archived: number; cpu: number; workerCpu: number; otherCpu: number; runs: number } | undefined;
  let drained = false;
  while (Date.now() < deadline) {
    const cold = (await nodeMetrics(url)).cold as { archived_index: number; runs: number; errors: number; last_error: string | null };
    if (cold.errors > 0) throw new Error(`archival failed: ${cold.last_error}`);
    const now = performance.now();
    if (cold.archived_index > (last?.archived ?? 0)) {
      last = { t: now, archived: cold.archived_index, cpu: cpuSeconds(pid), workerCpu: threadCpuSeconds(pid, "Worker"), otherCpu: otherPid === undefined ? 0 : cpuSeconds(otherPid), runs: cold.runs };
      first ??= last;
    } else if (last && cold.runs >= last.runs + 2) {
      // Passes run one after another; pass runs+1 started after the last change and sealed nothing.
      drained = true;
      break;
    }
    await Bun.sleep(pollMs);
  }
  if (!first || !last || last.t === first.t) return { entriesPerSec: null, entries: 0, cpuUsPerEntry: null, workerCpuUsPerEntry: null, otherCpuUsPerEntry: null, drained };
  const entries = last.archived - first.archived;
  return {
    entries,
    entriesPerSec: entries / ((last.t - first.t) / 1000),
    cpuUsPerEntry: ((last.cpu - first.cpu) * 1e6) / entries,
    workerCpuUsPerEntry: ((last.workerCpu - first.workerCpu) * 1e6) / entries,
    otherCpuUsPerEntry: otherPid === undefined ? null : ((last.otherCpu - first.otherCpu) * 1e6) / entries,
    drained,
  };
}

export async function benchArchival(options: SectionOptions, backlog?: Backlog): Promise<ArchivalFigures> {
  const log = options.log;
  log(`\n== archival to S3 (s3rver on loopback): ${segmentBytes / 1024 / 1024} MiB segments, gzip level 1 (the default) ==`);
  if (!backlog) {
    const batch = await ingestBacklog(options);
    backlog = { dataDir: batch.dataDir, ingest: batch.figure };
    log(describeLoad("scribe, POST /batch ingest (the backlog)", batch.figure, "entries/s"));
  }
  const s3Dir = memoryTempDir("scribe-bench-s3-");
  log(`s3rver's files on ${s3Dir.where}`);
  const s3 = await startS3(s3Dir.path);
  try {
    const put = JSON.parse(
      (await runToEnd({ cmd: ["bun", join(repoRoot, "bench/baselines/s3-put.ts"), "--endpoint", s3.endpoint, "--bucket", bucket, "--object-bytes", String(segmentBytes), "--seconds", String(Math.min(5, options.seconds))] })).trim().split("\n").at(-1)!,
    ) as { mb_per_sec: number };
    log(`${"raw S3 PutObject, 4 MiB objects".padEnd(40)} ${put.mb_per_sec.toFixed(1).padStart(9)} MB/s`);
    const node = await startNode({ dataDir: backlog.dataDir.path, env: coldTierEnv(s3.endpoint) });
    let drain: Drain;
    try {
      drain = await watchDrain(node.url, node.pid, Math.max(120, options.seconds * 12) * 1000, s3.pid);
    } finally {
      await node.stop("SIGKILL");
    }
    const manifest = await readManifest(s3.endpoint);
    const segments = manifest?.segments ?? [];
    // After the drain, with the node stopped: the compressor alone on one archived segment.
    const sample = segments[0] && (await readObject(s3.endpoint, segments[0].object_key));
    const fflateMbPerSec = sample ? fflateAlone(gunzipSync(sample)) : null;
    const entries = segments.reduce((n, s) => n + s.count, 0);
    const rawBytes = segments.reduce((n, s) => n + s.raw_bytes, 0);
    const objectBytes = segments.reduce((n, s) => n + s.object_bytes, 0);
    const mbPerSec = drain.entriesPerSec !== null && entries > 0 ? (drain.entriesPerSec * rawBytes) / entries / 1e6 : null;
    const figures: ArchivalFigures = {
      ingest_entries_per_sec: backlog.ingest.ops_per_sec,
      archival_entries_per_sec: drain.entriesPerSec,
      archival_mb_per_sec: mbPerSec,
      compression_ratio: objectBytes > 0 ? rawBytes / objectBytes : null,
      segments_archived: segments.length,
      segment_bytes: segmentBytes,
      drained: drain.drained,
      raw_put_mb_per_sec: put.mb_per_sec,
      cpu_us_per_entry: drain.cpuUsPerEntry,
      gzip_worker_cpu_us_per_entry: drain.workerCpuUsPerEntry,
      s3_server_cpu_us_per_entry: drain.otherCpuUsPerEntry,
      fflate_alone_mb_per_sec: fflateMbPerSec,
      fflate_alone_entries_per_sec: fflateMbPerSec !== null && entries > 0 ? (fflateMbPerSec * 1e6 * entries) / rawBytes : null,
      s3_server_storage: s3Dir.where,
    };
    log(
      `${"scribe archival (seal, gzip, upload, verify)".padEnd(40)} ${(drain.entriesPerSec ?? NaN).toFixed(0).padStart(9)} entries/s = ${(mbPerSec ?? NaN).toFixed(1)} MB/s raw` +
        `   ${segments.length} segments, ${figures.compression_ratio?.toFixed(2)}x smaller, cpu ${(drain.cpuUsPerEntry ?? NaN).toFixed(1)} us/entry (gzip worker ${(drain.workerCpuUsPerEntry ?? NaN).toFixed(1)}; + s3rver ${(drain.otherCpuUsPerEntry ?? NaN).toFixed(1)})${drain.drained ? "" : "   (did NOT drain in time)"}`,
    );
    log(`${"fflate gzip level 1 alone, one core".padEnd(40)} ${(figures.fflate_alone_entries_per_sec ?? NaN).toFixed(0).padStart(9)} entries/s = ${(fflateMbPerSec ?? NaN).toFixed(1)} MB/s raw   (one archived segment, compressed again in this process)`);
    return figures;
  } finally {
    await s3.stop();
    s3Dir.remove();
    backlog.dataDir.remove();
  }
}

if (import.meta.main) {
  const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
  console.log(JSON.stringify(await benchArchival({ seconds, warmupSeconds: Math.min(3, Math.ceil(seconds / 3)), log: console.log }), null, 2));
}
