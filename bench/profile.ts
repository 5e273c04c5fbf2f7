/**
 * @module bench/profile. Profiles a node under load, the way docs/PERFORMANCE.md describes:
 * starts it with `bun --cpu-prof --cpu-prof-dir=DIR src/main.ts ...`, loads it, stops it with
 * SIGINT (the profile is written at exit) and prints where the CPU went (bench/profile-summary.ts)
 * with the process's CPU per operation measured from /proc over the load.
 *
 *   bun bench/profile.ts put|get|batch|cluster|archival [--seconds 10] [--out DIR] [--top 30]
 *   bun bench/profile.ts put|get|batch|cluster --strace [--seconds 10]
 *   bun bench/profile.ts cluster --follower   (the writes go to a follower, which forwards them)
 *
 * put: wrk PUT, 64 connections, 100 B, new keys. get: wrk GET of 1,000 cached keys, default
 * consistency. batch: POST /batch 1,000 x 100 B from 2 clients. cluster: 3 nodes, wrk PUT to the
 * leader; the leader's profile (and one follower's) is summarized. archival: a backlog from
 * `--seconds` of batch load, then the node restarted with the cold tier on (as bench/archival.ts)
 * is profiled while it seals and uploads every full segment.
 * --strace: no profiler; `strace -c -f -p PID` (every thread) is attached to the node (the leader)
 * for the middle of the load, and the syscalls are counted per write (per read, per batch entry). strace slows the process
 * several times, so the absolute rate means nothing; counts per write and per commit do.
 * Outputs go to --out (default a new directory under the system temp dir): the .cpuprofile files
 * and a <mode>.md summary.
 */

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runBatchLoad } from "./lib/batch-load.ts";
import { cpuSeconds, memoryTempDir, spawnChild, tempDir } from "./lib/proc.ts";
import { nodeMetrics, preload, startCluster, startNode, type ScribeNode } from "./lib/scribe.ts";
import { getScript, runWrk, putScript } from "./lib/wrk.ts";
import { coldTierEnv, startS3, watchDrain } from "./archival.ts";
import { ingestBacklog } from "./single.ts";
import { formatSummary, summarize, type CpuProfile } from "./profile-summary.ts";

const modes = ["put", "get", "batch", "cluster", "archival"] as const;
type Mode = (typeof modes)[number];

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { seconds: { type: "string", default: "10" }, out: { type: "string" }, top: { type: "string", default: "30" }, strace: { type: "boolean", default: false }, follower: { type: "boolean", default: false } },
  allowPositionals: true,
});
const mode = positionals[0] as Mode;
if (!modes.includes(mode)) {
  console.error("usage: bun bench/profile.ts put|get|batch|cluster|archival [--seconds 10] [--out DIR] [--top 30] [--strace]");
  process.exit(2);
}
const seconds = Number(values.seconds);
const top = Number(values.top);
const outDir = values.out ?? tempDir(`scribe-profile-${mode}-`).path;
mkdirSync(outDir, { recursive: true });
const connections = 64;
const valueBytes = 100;
const report: string[] = [];
const say = (line: string) => {
  console.log(line);
  report.push(line);
};

/** Operations a node has served, from its /metrics request counters. */
async function served(node: ScribeNode): Promise<{ put: number; get: number; batch: number }> {
  const requests = (await nodeMetrics(node.url)).requests as Record<string, { requests: number }>;
  return { put: requests.put!.requests, get: requests.get!.requests, batch: requests.batch!.requests };
}

interface LoadOutcome {
  ops: number;
  opsPerSec: number;
  cpuUsPerOp: number;
  p99Ms: number;
}

/** Runs the mode's load against `target` and measures `cpuPid`'s CPU per operation over it. */
async function load(target: ScribeNode, cpuPid: number, during?: (window: { startedMs: number }) => Promise<void>): Promise<LoadOutcome> {
  const cpuStart = cpuSeconds(cpuPid);
  const startedMs = performance.now();
  const side = during?.({ startedMs });
  let outcome: LoadOutcome;
  if (mode === "batch") {
    const r = await runBatchLoad({ url: target.url, clients: 2, ops: 1000, valueBytes, seconds, warmupSeconds: 0, prefix: "p" });
    outcome = { ops: r.entries, opsPerSec: r.entries_per_sec, cpuUsPerOp: 0, p99Ms: r.p99_ms };
  } else {
    const script = mode === "get" ? getScript(1000, "g/") : putScript(valueBytes, "p/");
    const r = await runWrk({ url: target.url, script, connections, seconds });
    outcome = { ops: Math.round(r.okPerSec * r.seconds), opsPerSec: r.okPerSec, cpuUsPerOp: 0, p99Ms: r.p99Ms };
  }
  outcome.cpuUsPerOp = ((cpuSeconds(cpuPid) - cpuStart) * 1e6) / outcome.ops;
  await side;
  return outcome;
}

function profileIn(dir: string): CpuProfile {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir} (did the node exit cleanly on SIGINT?)`);
  say(`profile: ${join(dir, file)}`);
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
}

function summarizeProfile(title: string, profile: CpuProfile, ops: number): void {
  say(`\n### ${title}: by function\n`);
  say(formatSummary(summarize(profile, "function"), { top, ops, by: "function" }));
  say(`\n### ${title}: by folder\n`);
  say(formatSummary(summarize(profile, "dir"), { top: 15, ops, by: "dir" }));
}

/** Attaches `strace -c -f` to every thread of `pid` from 1/4 to 3/4 of the load; returns its table. */
async function straceWindow(node: ScribeNode, pid: number, writes: { count: number }): Promise<void> {
  await Bun.sleep((seconds * 1000) / 4);
  const before = await served(node);
  const output = join(outDir, `strace-${mode}.txt`);
  const strace = spawnChild({ cmd: ["strace", "-c", "-f", "-p", String(pid), "-o", output] });
  await Bun.sleep((seconds * 1000) / 2);
  await strace.stop("SIGINT");
  const after = await served(node);
  // Batches carry 1,000 entries each (the load's ops per request).
  writes.count = mode === "batch" ? (after.batch - before.batch) * 1000 : mode === "get" ? after.get - before.get : after.put - before.put;
  say(`strace: ${output}`);
}

function straceTable(file: string, writes: number): string {
  const lines = readFileSync(file, "utf8").split("\n");
  const rows: { calls: number; errors: number; name: string; seconds: number }[] = [];
  for (const line of lines) {
    const m = /^\s*([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)?\s*(\w+)\s*$/.exec(line);
    if (m && m[6] !== "total") rows.push({ seconds: Number(m[2]), calls: Number(m[4]), errors: Number(m[5] ?? 0), name: m[6]! });
  }
  rows.sort((a, b) => b.calls - a.calls);
  const total = rows.reduce((n, r) => n + r.calls, 0);
  const unit = mode === "batch" ? "entry" : mode === "get" ? "read" : "write";
  const out = [`${writes} ${unit === "entry" ? "batch entries" : `${unit}s`} acknowledged while strace was attached; ${total} syscalls: ${(total / writes).toFixed(3)} per ${unit}`, "", `| syscall | calls | per ${unit} | errors |`, "|---|---|---|---|"];
  for (const r of rows.slice(0, 20)) out.push(`| ${r.name} | ${r.calls} | ${(r.calls / writes).toFixed(3)} | ${r.errors} |`);
  return out.join("\n");
}

async function single(): Promise<void> {
  const dataDir = tempDir();
  const profDir = join(outDir, mode);
  const node = await startNode({ dataDir: dataDir.path, cpuProfDir: values.strace ? undefined : profDir });
  try {
    if (mode === "get") await preload(node.url, "g/", 1000, valueBytes);
    const writes = { count: 0 };
    const outcome = await load(node, node.pid, values.strace ? () => straceWindow(node, node.pid, writes) : undefined);
    say(`\n## ${mode}, 1 node, ${seconds}s: ${outcome.opsPerSec.toFixed(0)} ops/s, p99 ${outcome.p99Ms.toFixed(1)} ms, ${outcome.cpuUsPerOp.toFixed(1)} µs CPU per op (process, all threads, from /proc)`);
    const total = await served(node);
    await node.stop("SIGINT");
    if (values.strace) {
      say(`\n### syscalls, ${mode}, 1 node\n`);
      say(straceTable(join(outDir, `strace-${mode}.txt`), writes.count));
    } else {
      const ops = mode === "batch" ? total.batch * 1000 : mode === "get" ? total.get : total.put;
      summarizeProfile(`${mode}, 1 node (${ops} ${mode === "batch" ? "entries" : "operations"} over the process's life)`, profileIn(profDir), ops);
    }
  } finally {
    await node.stop("SIGKILL");
    dataDir.remove();
  }
}

async function cluster(): Promise<void> {
  const c = await startCluster({ size: 3, cpuProfDir: values.strace ? undefined : outDir });
  try {
    const leader = await c.leader();
    const follower = c.nodes.find((n) => n.id !== leader.id)!;
    // --follower: the load goes to `follower`; the CPU figures are of the node loaded and of the other one profiled.
    const [target, other] = values.follower ? [follower, leader] : [leader, follower];
    const otherCpu = cpuSeconds(other.pid);
    const writes = { count: 0 };
    const outcome = await load(target, target.pid, values.strace ? () => straceWindow(target, target.pid, writes) : undefined);
    const otherUs = ((cpuSeconds(other.pid) - otherCpu) * 1e6) / outcome.ops;
    const [targetName, otherName] = values.follower ? ["the follower loaded", "the leader"] : ["leader", "a follower"];
    say(`\n## cluster of 3, PUT to ${values.follower ? "a follower" : "the leader"}, ${seconds}s: ${outcome.opsPerSec.toFixed(0)} puts/s, p99 ${outcome.p99Ms.toFixed(1)} ms; CPU per write: ${targetName} ${outcome.cpuUsPerOp.toFixed(1)} µs, ${otherName} ${otherUs.toFixed(1)} µs (from /proc)`);
    const leaderOps = (await served(target)).put;
    await Promise.all(c.nodes.map((n) => n.stop("SIGINT")));
    if (values.strace) {
      say(`\n### syscalls, cluster leader\n`);
      say(straceTable(join(outDir, `strace-${mode}.txt`), writes.count));
    } else {
      summarizeProfile(`cluster ${targetName} (node ${target.id}, ${leaderOps} writes)`, profileIn(join(outDir, `node${target.id}`)), leaderOps);
      summarizeProfile(`cluster ${otherName} (node ${other.id}, the same writes)`, profileIn(join(outDir, `node${other.id}`)), leaderOps);
    }
  } finally {
    await c.stop("SIGKILL");
  }
}

/** archival: a backlog from a batch load (not profiled), then the node restarted with the cold tier on and profiled while it drains. */
async function archival(): Promise<void> {
  const batch = await ingestBacklog({ seconds, warmupSeconds: 0, log: say });
  const s3Dir = memoryTempDir("scribe-profile-s3-");
  say(`s3rver's files on ${s3Dir.where}`);
  const profDir = join(outDir, mode);
  const s3ProfDir = join(outDir, `${mode}-s3`);
  const s3 = await startS3(s3Dir.path, s3ProfDir);
  let archived = 0;
  try {
    const node = await startNode({ dataDir: batch.dataDir.path, env: coldTierEnv(s3.endpoint), cpuProfDir: profDir });
    try {
      const drain = await watchDrain(node.url, node.pid, 300_000, s3.pid);
      archived = ((await nodeMetrics(node.url)).cold as { archived_index: number }).archived_index;
      say(`\n## archival drain, 1 node: ${(drain.entriesPerSec ?? NaN).toFixed(0)} entries/s, ${(drain.cpuUsPerEntry ?? NaN).toFixed(1)} µs CPU per entry (from /proc), ${archived} entries archived${drain.drained ? "" : " (did NOT drain)"}`);
      say(`test S3 server (s3rver, same machine): ${(drain.otherCpuUsPerEntry ?? NaN).toFixed(1)} µs CPU per entry archived (from /proc)`);
      await node.stop("SIGINT");
      summarizeProfile(`archival drain (${archived} entries archived)`, profileIn(profDir), archived);
    } finally {
      await node.stop("SIGKILL");
    }
  } finally {
    await s3.stop();
    s3Dir.remove();
    batch.dataDir.remove();
  }
  // The test S3 server (s3rver under Bun) shares the machine's two cores with the node.
  summarizeProfile(`test S3 server during the same drain (${archived} entries archived)`, profileIn(s3ProfDir), archived);
}

if (mode === "cluster") await cluster();
else if (mode === "archival") await archival();
else await single();
const file = join(outDir, `${mode}${values.strace ? "-strace" : ""}.md`);
writeFileSync(file, `${report.join("\n")}\n`);
console.log(`\nsummary written to ${file}`);
