/**
 * @module bench/single. One Scribe node (started as users start it: `bun src/main.ts`), each load
 * side by side with its baseline in the same run:
 *  - durable PUT, wrk 64 connections, 100-byte values, a new key per request, against the minimal
 *    durable group-commit server (bench/baselines/durable-server.ts) and a 1-member etcd 3.4;
 *  - cached GET with the default consistency (1,000 preloaded keys, drawn at random), against
 *    bare Bun.serve (bench/baselines/bare-server.ts);
 *  - POST /batch of 1,000 x 100 B puts from 2 clients (bench/lib/batch-load.ts), against the raw
 *    bun:sqlite insert of the same rows (bench/baselines/raw-insert.ts).
 * Every load runs `warmupSeconds` unmeasured first, then `seconds` measured.
 *
 *   bun bench/single.ts [--seconds 10]
 */

import { haveEtcd, startEtcd } from "./lib/etcd.ts";
import { runBatchLoad } from "./lib/batch-load.ts";
import { fromBatchLoad, fromWrk, type LoadFigure, type SingleFigures } from "./lib/figures.ts";
import { cpuSeconds, flagValue, tempDir, type TempDir } from "./lib/proc.ts";
import { preload, startNode } from "./lib/scribe.ts";
import { runFsyncProbe, runRawInsert, startBaseline } from "./lib/servers.ts";
import { etcdPutLua, getLua, haveWrk, runWrk, scribePutLua } from "./lib/wrk.ts";

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

/**
 * Runs wrk against a server and returns the figure with the CPU per operation of `pids`
 * together, and of each one under its name when `names` are given.
 */
export async function wrkFigure(url: string, pids: number[], lua: string, warmupLua: string, options: SectionOptions, names?: string[]): Promise<LoadFigure> {
  let cpuStart: number[] = [];
  const result = await runWrk({ url, lua, warmupLua, connections, seconds: options.seconds, warmupSeconds: options.warmupSeconds, onMeasureStart: () => (cpuStart = pids.map(cpuSeconds)) });
  const used = pids.map((pid, i) => cpuSeconds(pid) - cpuStart[i]!);
  const figure = fromWrk(result, used.reduce((a, b) => a + b, 0));
  if (names) {
    const ok = result.okPerSec * result.seconds;
    figure.cpu_us_per_op_by_process = Object.fromEntries(names.map((name, i) => [name, ok > 0 ? (used[i]! * 1e6) / ok : NaN]));
  }
  return figure;
}

async function scribePut(options: SectionOptions): Promise<LoadFigure> {
  const dir = tempDir();
  const node = await startNode({ dataDir: dir.path });
  try {
    return await wrkFigure(node.url, [node.pid], scribePutLua(valueBytes, "m/"), scribePutLua(valueBytes, "w/"), options);
  } finally {
    await node.stop("SIGKILL");
    dir.remove();
  }
}

async function durablePut(options: SectionOptions): Promise<LoadFigure> {
  const dir = tempDir();
  const server = await startBaseline("durable-server.ts", ["--dir", dir.path]);
  try {
    return await wrkFigure(server.url, [server.pid], scribePutLua(valueBytes, "m/"), scribePutLua(valueBytes, "w/"), options);
  } finally {
    await server.stop();
    dir.remove();
  }
}

export async function etcdPut(members: number, options: SectionOptions): Promise<LoadFigure> {
  const etcd = await startEtcd(members);
  try {
    return await wrkFigure(await etcd.leaderUrl(), etcd.pids, etcdPutLua(valueBytes, "m/"), etcdPutLua(valueBytes, "w/"), options);
  } finally {
    await etcd.stop();
  }
}

async function scribeGet(options: SectionOptions): Promise<LoadFigure> {
  const dir = tempDir();
  const node = await startNode({ dataDir: dir.path });
  try {
    await preload(node.url, "g/", getKeys, valueBytes);
    return await wrkFigure(node.url, [node.pid], getLua(getKeys, "g/"), getLua(getKeys, "g/"), options);
  } finally {
    await node.stop("SIGKILL");
    dir.remove();
  }
}

async function bareGet(options: SectionOptions): Promise<LoadFigure> {
  const server = await startBaseline("bare-server.ts");
  try {
    return await wrkFigure(server.url, [server.pid], getLua(getKeys, "g/"), getLua(getKeys, "g/"), options);
  } finally {
    await server.stop();
  }
}

/**
 * POST /batch load on a fresh node. With `keep`, the node is stopped cleanly and its data
 * directory is returned (the archival section archives that backlog); otherwise it is removed.
 */
export async function scribeBatch(options: SectionOptions, keep: boolean): Promise<{ figure: LoadFigure; dataDir?: TempDir }> {
  const dir = tempDir();
  const node = await startNode({ dataDir: dir.path });
  let kept = false;
  try {
    const load = { url: node.url, clients: batchClients, ops: batchOps, valueBytes, warmupSeconds: 0 };
    if (options.warmupSeconds > 0) await runBatchLoad({ ...load, seconds: options.warmupSeconds, prefix: "bw" });
    const cpuStart = cpuSeconds(node.pid);
    const result = await runBatchLoad({ ...load, seconds: options.seconds, prefix: "b" });
    const figure = fromBatchLoad(result, cpuSeconds(node.pid) - cpuStart);
    if (result.first_failure) options.log(`  batch failures: ${result.failures}, first: ${result.first_failure}`);
    kept = keep;
    return { figure, dataDir: keep ? dir : undefined };
  } finally {
    await node.stop(keep ? "SIGINT" : "SIGKILL");
    if (!kept) dir.remove();
  }
}

export async function benchSingle(options: SectionOptions, keepBatchData = false): Promise<{ figures: SingleFigures; batchData?: TempDir }> {
  const log = options.log;
  const figures: SingleFigures = {};
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install -y wrk): the single-node loads need it");
  log(`\n== single node: ${connections} connections, ${valueBytes}-byte values, ${options.warmupSeconds}s warm-up + ${options.seconds}s each ==`);
  const diskDir = tempDir();
  try {
    const disk = await runFsyncProbe(diskDir.path);
    const q = (x: { p50: number; p99: number }) => `${x.p50.toFixed(2)} ms (p99 ${x.p99.toFixed(2)})`;
    log(`disk: fdatasync of a 4 KiB append ${q(disk.fdatasync_4k_ms)}; WAL FULL transaction of 1 row ${q(disk.sqlite_full_txn_1_ms)}, of 64 rows ${q(disk.sqlite_full_txn_64_ms)}`);
    figures.disk = disk;
  } finally {
    diskDir.remove();
  }
  const scribePutFigure = await scribePut(options);
  log(describeLoad("scribe, durable PUT", scribePutFigure, "puts/s"));
  const durable = await durablePut(options);
  log(describeLoad("minimal durable server, PUT", durable, "puts/s"));
  let etcd1: LoadFigure | undefined;
  if (haveEtcd()) {
    etcd1 = await etcdPut(1, options);
    log(describeLoad("etcd 3.4, 1 member, put", etcd1, "puts/s"));
  } else {
    log("etcd is not installed (apt-get install -y etcd-server): no etcd baseline");
  }
  figures.put = { scribe: scribePutFigure, durable_baseline: durable, ...(etcd1 ? { etcd_1: etcd1 } : {}) };

  const scribeGetFigure = await scribeGet(options);
  log(describeLoad("scribe, cached GET (linearizable)", scribeGetFigure, "gets/s"));
  const bare = await bareGet(options);
  log(describeLoad("bare Bun.serve, GET", bare, "gets/s"));
  figures.get = { scribe: scribeGetFigure, bare_bun_serve: bare };

  const batch = await scribeBatch(options, keepBatchData);
  log(describeLoad(`scribe, POST /batch ${batchOps} x ${valueBytes} B, ${batchClients} clients`, batch.figure, "entries/s"));
  const rawDir = tempDir();
  try {
    const raw = await runRawInsert(rawDir.path, options.seconds);
    log(`${"raw bun:sqlite insert, 1000/txn, FULL".padEnd(40)} ${raw.rows_per_sec.toFixed(0).padStart(9)} rows/s   cpu ${raw.cpu_us_per_row.toFixed(1)} us/row`);
    figures.batch = { scribe: batch.figure, raw_insert: raw };
  } finally {
    rawDir.remove();
  }
  return { figures, batchData: batch.dataDir };
}

if (import.meta.main) {
  const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
  const { figures } = await benchSingle({ seconds, warmupSeconds: Math.min(3, Math.ceil(seconds / 3)), log: console.log });
  console.log(JSON.stringify(figures, null, 2));
}
