/**
 * @module bench/single. One Scribe node (started as users start it: `bun src/main.ts`), each load
 * side by side with its baseline in the same run:
 *  - durable PUT, wrk 64 connections, 100-byte values, a new key per request, against the minimal
 *    durable group-commit server (bench/baselines/durable-server.ts) and a 1-member etcd 3.4;
 *  - cached GET with the default consistency (1,000 preloaded keys, drawn at random), against
 *    bare Bun.serve (bench/baselines/bare-server.ts);
 *  - POST /batch of 1,000 x 100 B puts from 2 clients (bench/lib/batch-load.ts), against the raw
 *    bun:sqlite insert of the same rows (bench/baselines/raw-insert.ts).
 * Before them, what durability costs on this disk (bench/baselines/fsync.ts).
 * Each group's servers run side by side, are warmed up for `warmupSeconds`, then loaded in
 * alternating slices (bench/lib/alternate.ts) adding up to `seconds` each.
 *
 *   bun bench/single.ts [--seconds 10]
 */

import { alternate, combine, slicesFor, withCpu, wrkSlice, type Slice } from "./lib/alternate.ts";
import { haveEtcd, startEtcd, type EtcdCluster } from "./lib/etcd.ts";
import { runBatchLoad } from "./lib/batch-load.ts";
import type { LoadFigure, RawInsertFigure, SingleFigures } from "./lib/figures.ts";
import { flagValue, tempDir, type TempDir } from "./lib/proc.ts";
import { preload, startNode, type ScribeNode } from "./lib/scribe.ts";
import { runFsyncProbe, runRawInsert, startBaseline, type BaselineServer } from "./lib/servers.ts";
import { etcdPutScript, getScript, haveWrk, putScript, runWrk, type WrkScript } from "./lib/wrk.ts";

export interface SectionOptions {
  seconds: number;
  warmupSeconds: number;
  log: (line: string) => void;
}

export const connections = 64;
export const valueBytes = 100;
/** Keys preloaded for the GET load: all fit the node's value and head caches. */
const getKeys = 1000;
const batchClients = 2;
const batchOps = 1000;

export function describeLoad(name: string, f: LoadFigure, unit = "ops/s"): string {
  const cpu = f.cpu_us_per_op === null ? "" : `   cpu ${f.cpu_us_per_op.toFixed(0).padStart(5)} us/op`;
  return `${name.padEnd(40)} ${f.ops_per_sec.toFixed(0).padStart(9)} ${unit}   p50 ${f.p50_ms.toFixed(2).padStart(7)} ms   p99 ${f.p99_ms.toFixed(2).padStart(7)} ms   errors ${f.errors}${cpu}`;
}

/** Runs an unmeasured wrk load of `options.warmupSeconds` (nothing when 0). */
export async function warmUp(url: string, script: WrkScript, options: SectionOptions): Promise<void> {
  if (options.warmupSeconds > 0) await runWrk({ url, script, connections, seconds: Math.max(1, Math.round(options.warmupSeconds)) });
}

/** Starts a node in a fresh temporary directory; `stop()` kills it and removes the directory. */
async function freshNode(): Promise<{ node: ScribeNode; dir: TempDir; stop(): Promise<void> }> {
  const dir = tempDir();
  try {
    const node = await startNode({ dataDir: dir.path });
    const stop = async () => {
      await node.stop("SIGKILL");
      dir.remove();
    };
    return { node, dir, stop };
  } catch (error) {
    dir.remove();
    throw error;
  }
}

async function benchPut(options: SectionOptions): Promise<NonNullable<SingleFigures["put"]>> {
  const { slices, sliceSeconds } = slicesFor(options.seconds);
  const scribe = await freshNode();
  const durableDir = tempDir();
  let durable: BaselineServer | undefined;
  let etcd: EtcdCluster | undefined;
  try {
    durable = await startBaseline("durable-server.ts", ["--dir", durableDir.path]);
    if (haveEtcd()) etcd = await startEtcd(1);
    else options.log("etcd is not installed (apt-get install -y etcd-server): no etcd baseline");
    const etcdUrl = etcd ? await etcd.leaderUrl() : "";
    await warmUp(scribe.node.url, putScript(valueBytes, "w/"), options);
    await warmUp(durable.url, putScript(valueBytes, "w/"), options);
    if (etcd) await warmUp(etcdUrl, etcdPutScript(valueBytes, "w/"), options);
    const loads: Record<string, (round: number) => Promise<Slice>> = {
      scribe: (round) => wrkSlice(scribe.node.url, [scribe.node.pid], putScript(valueBytes, `m${round}/`), connections, sliceSeconds),
      durable: (round) => wrkSlice(durable!.url, [durable!.pid], putScript(valueBytes, `m${round}/`), connections, sliceSeconds),
    };
    if (etcd) loads.etcd = (round) => wrkSlice(etcdUrl, etcd!.pids, etcdPutScript(valueBytes, `m${round}/`), connections, sliceSeconds);
    const measured = await alternate(slices, loads);
    return { scribe: combine(measured.scribe!), durable_baseline: combine(measured.durable!), ...(etcd ? { etcd_1: combine(measured.etcd!) } : {}) };
  } finally {
    await scribe.stop();
    await durable?.stop();
    durableDir.remove();
    await etcd?.stop();
  }
}

async function benchGet(options: SectionOptions): Promise<NonNullable<SingleFigures["get"]>> {
  const { slices, sliceSeconds } = slicesFor(options.seconds);
  const scribe = await freshNode();
  let bare: BaselineServer | undefined;
  try {
    await preload(scribe.node.url, "g/", getKeys, valueBytes);
    bare = await startBaseline("bare-server.ts");
    const script = getScript(getKeys, "g/");
    await warmUp(scribe.node.url, script, options);
    await warmUp(bare.url, script, options);
    const measured = await alternate(slices, {
      scribe: () => wrkSlice(scribe.node.url, [scribe.node.pid], script, connections, sliceSeconds),
      bare: () => wrkSlice(bare!.url, [bare!.pid], script, connections, sliceSeconds),
    });
    return { scribe: combine(measured.scribe), bare_bun_serve: combine(measured.bare) };
  } finally {
    await scribe.stop();
    await bare?.stop();
  }
}

/**
 * POST /batch load on a fresh node against the raw insert baseline, in alternating slices. With
 * `keep`, the node is stopped cleanly and its data directory returned (the archival section
 * archives that backlog); otherwise it is removed.
 */
export async function benchBatch(options: SectionOptions, keep: boolean): Promise<{ figures: NonNullable<SingleFigures["batch"]>; dataDir?: TempDir }> {
  const { slices, sliceSeconds } = slicesFor(options.seconds);
  const dir = tempDir();
  const rawDir = tempDir();
  const node = await startNode({ dataDir: dir.path });
  let kept = false;
  try {
    const load = { url: node.url, clients: batchClients, ops: batchOps, valueBytes, warmupSeconds: 0 };
    if (options.warmupSeconds > 0) await runBatchLoad({ ...load, seconds: options.warmupSeconds, prefix: "bw" });
    let firstFailure: string | undefined;
    const raw: RawInsertFigure[] = [];
    const measured = await alternate(slices, {
      scribe: async (round) => {
        const { result, cpuSeconds } = await withCpu([node.pid], () => runBatchLoad({ ...load, seconds: sliceSeconds, prefix: `b${round}` }));
        firstFailure ??= result.first_failure;
        return { ok: result.entries, seconds: result.seconds, p50Ms: result.p50_ms, p99Ms: result.p99_ms, errors: result.failures, cpuSeconds };
      },
      raw: async () => {
        const r = await runRawInsert(rawDir.path, sliceSeconds);
        raw.push(r);
        return { ok: r.rows, seconds: r.seconds, p50Ms: NaN, p99Ms: NaN, errors: 0, cpuSeconds: [(r.cpu_us_per_row * r.rows) / 1e6] };
      },
    });
    if (firstFailure) options.log(`  batch failures, first: ${firstFailure}`);
    const rows = raw.reduce((n, r) => n + r.rows, 0);
    const rawSeconds = raw.reduce((n, r) => n + r.seconds, 0);
    const rawFigure: RawInsertFigure = {
      rows_per_sec: rows / rawSeconds,
      rows,
      transactions: raw.reduce((n, r) => n + r.transactions, 0),
      seconds: rawSeconds,
      cpu_us_per_row: raw.reduce((n, r) => n + r.cpu_us_per_row * r.rows, 0) / rows,
    };
    kept = keep;
    return { figures: { scribe: combine(measured.scribe), raw_insert: rawFigure }, dataDir: keep ? dir : undefined };
  } finally {
    await node.stop(keep ? "SIGINT" : "SIGKILL");
    if (!kept) dir.remove();
    rawDir.remove();
  }
}

/**
 * A fresh node that ingests POST /batch for `seconds` (no baseline) and is stopped cleanly; its
 * data directory is returned: the backlog the archival section and profile drain.
 */
export async function ingestBacklog(options: SectionOptions): Promise<{ figure: LoadFigure; dataDir: TempDir }> {
  const dir = tempDir();
  const node = await startNode({ dataDir: dir.path });
  try {
    const { result, cpuSeconds } = await withCpu([node.pid], () => runBatchLoad({ url: node.url, clients: batchClients, ops: batchOps, valueBytes, warmupSeconds: 0, seconds: options.seconds, prefix: "b" }));
    await node.stop("SIGINT");
    return { figure: combine([{ ok: result.entries, seconds: result.seconds, p50Ms: result.p50_ms, p99Ms: result.p99_ms, errors: result.failures, cpuSeconds }]), dataDir: dir };
  } catch (error) {
    await node.stop("SIGKILL");
    dir.remove();
    throw error;
  }
}

export async function benchSingle(options: SectionOptions, keepBatchData = false): Promise<{ figures: SingleFigures; batchData?: TempDir }> {
  const log = options.log;
  const figures: SingleFigures = {};
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install -y wrk): the single-node loads need it");
  const { slices, sliceSeconds } = slicesFor(options.seconds);
  log(`\n== single node: ${connections} connections, ${valueBytes}-byte values; ${options.warmupSeconds}s warm-up, then ${slices * sliceSeconds}s each in ${slices} alternating slices ==`);
  const diskDir = tempDir();
  try {
    const disk = await runFsyncProbe(diskDir.path);
    const q = (x: { p50: number; p99: number }) => `${x.p50.toFixed(2)} ms (p99 ${x.p99.toFixed(2)})`;
    log(`disk: fdatasync of a 4 KiB append ${q(disk.fdatasync_4k_ms)}; WAL FULL transaction of 1 row ${q(disk.sqlite_full_txn_1_ms)}, of 64 rows ${q(disk.sqlite_full_txn_64_ms)}`);
    figures.disk = disk;
  } finally {
    diskDir.remove();
  }

  figures.put = await benchPut(options);
  log(describeLoad("scribe, durable PUT", figures.put.scribe, "puts/s"));
  log(describeLoad("minimal durable server, PUT", figures.put.durable_baseline, "puts/s"));
  if (figures.put.etcd_1) log(describeLoad("etcd 3.4, 1 member, put", figures.put.etcd_1, "puts/s"));

  figures.get = await benchGet(options);
  log(describeLoad("scribe, cached GET (linearizable)", figures.get.scribe, "gets/s"));
  log(describeLoad("bare Bun.serve, GET", figures.get.bare_bun_serve, "gets/s"));

  const batch = await benchBatch(options, keepBatchData);
  figures.batch = batch.figures;
  log(describeLoad(`scribe, POST /batch ${batchOps} x ${valueBytes} B, ${batchClients} clients`, batch.figures.scribe, "entries/s"));
  const raw = batch.figures.raw_insert;
  log(`${"raw bun:sqlite insert, 1000/txn, FULL".padEnd(40)} ${raw.rows_per_sec.toFixed(0).padStart(9)} rows/s   cpu ${raw.cpu_us_per_row.toFixed(1)} us/row`);
  return { figures, batchData: batch.dataDir };
}

if (import.meta.main) {
  const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
  const { figures, batchData } = await benchSingle({ seconds, warmupSeconds: Math.min(3, Math.ceil(seconds / 3)), log: console.log });
  batchData?.remove();
  console.log(JSON.stringify(figures, null, 2));
}
