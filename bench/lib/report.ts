/**
 * @module bench/lib/report. The ratio table of issue 12: which figure is compared with which
 * baseline, the target of each ratio, the table printed at the end of `bun run bench`, and
 * bench/results.json (the latest complete run) with a copy in bench/history/ (every complete run).
 *
 * Beside each ratio the table shows the CPU the servers used per operation (from /proc): on a
 * shared 2-core machine it moves much less between runs than throughput does, so it is the
 * better guide to whether a change made the work per operation smaller.
 *
 * With several runs, a row's figures are the medians of the runs' figures and its ratio is the
 * median of the per-run ratios (each ratio pairs two figures measured minutes apart in one run).
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import type { LoadFigure, RunFigures } from "./figures.ts";
import { median, repoRoot } from "./proc.ts";

export interface Target {
  op: ">=" | "<=";
  value: number;
}

interface Pair {
  scribe?: number;
  baseline?: number;
  /** p99 latencies shown beside throughput figures, ms. */
  scribeP99?: number;
  baselineP99?: number;
  /** CPU of the server process(es) per operation, µs: steadier than throughput on a shared machine. */
  scribeCpu?: number;
  baselineCpu?: number;
}

interface RowDef {
  id: string;
  path: string;
  baselineName: string;
  unit: string;
  target: Target | null;
  pick(f: RunFigures): Pair;
}

const throughput = (scribe: LoadFigure | undefined, baseline: LoadFigure | undefined): Pair => ({
  scribe: scribe?.ops_per_sec,
  baseline: baseline?.ops_per_sec,
  scribeP99: scribe?.p99_ms,
  baselineP99: baseline?.p99_ms,
  scribeCpu: scribe?.cpu_us_per_op ?? undefined,
  baselineCpu: baseline?.cpu_us_per_op ?? undefined,
});

export const rowDefs: RowDef[] = [
  {
    id: "single_put_vs_durable",
    path: "1 node, durable PUT, 64 conns, 100 B",
    baselineName: "minimal durable server",
    unit: "puts/s",
    target: { op: ">=", value: 0.8 },
    pick: (f) => throughput(f.single?.put?.scribe, f.single?.put?.durable_baseline),
  },
  {
    id: "single_put_vs_etcd1",
    path: "1 node, durable PUT, 64 conns, 100 B",
    baselineName: "etcd 3.4, 1 member",
    unit: "puts/s",
    target: { op: ">=", value: 2 },
    pick: (f) => throughput(f.single?.put?.scribe, f.single?.put?.etcd_1),
  },
  {
    id: "single_get_vs_bare",
    path: "1 node, cached GET, default consistency, 64 conns",
    baselineName: "bare Bun.serve",
    unit: "gets/s",
    target: { op: ">=", value: 0.8 },
    pick: (f) => throughput(f.single?.get?.scribe, f.single?.get?.bare_bun_serve),
  },
  {
    id: "single_batch_vs_raw_insert",
    path: "1 node, POST /batch 1,000 x 100 B, 2 clients",
    baselineName: "raw bun:sqlite insert, 1,000/txn",
    unit: "entries/s",
    target: { op: ">=", value: 0.5 },
    pick: (f) => ({
      scribe: f.single?.batch?.scribe.ops_per_sec,
      baseline: f.single?.batch?.raw_insert.rows_per_sec,
      scribeP99: f.single?.batch?.scribe.p99_ms,
      scribeCpu: f.single?.batch?.scribe.cpu_us_per_op ?? undefined,
      baselineCpu: f.single?.batch?.raw_insert.cpu_us_per_row,
    }),
  },
  {
    id: "cluster_put_vs_etcd3",
    path: "3 nodes, durable PUT to the leader",
    baselineName: "etcd 3.4, 3 members",
    unit: "puts/s",
    target: { op: ">=", value: 2 },
    pick: (f) => throughput(f.cluster?.leader, f.cluster?.etcd_3),
  },
  {
    id: "cluster_p99_vs_etcd3",
    path: "3 nodes, PUT to the leader: p99 latency",
    baselineName: "etcd 3.4, 3 members",
    unit: "ms",
    target: { op: "<=", value: 1 },
    pick: (f) => ({ scribe: f.cluster?.leader.p99_ms, baseline: f.cluster?.etcd_3?.p99_ms }),
  },
  {
    id: "cluster_follower_vs_leader",
    path: "3 nodes, durable PUT via a follower",
    baselineName: "the same, to the leader",
    unit: "puts/s",
    target: { op: ">=", value: 0.8 },
    pick: (f) => throughput(f.cluster?.follower, f.cluster?.leader),
  },
  {
    id: "archival_vs_ingest",
    path: "archival to S3 (drain, 4 MiB segments)",
    baselineName: "batch ingest rate (row 4)",
    unit: "entries/s",
    target: { op: ">=", value: 1 },
    pick: (f) => ({
      scribe: f.archival?.archival_entries_per_sec ?? undefined,
      baseline: f.archival?.ingest_entries_per_sec,
      scribeCpu: f.archival?.cpu_us_per_entry ?? undefined,
      baselineCpu: f.single?.batch?.scribe.cpu_us_per_op ?? undefined,
    }),
  },
  {
    id: "archival_vs_put_object",
    path: "archival to S3, MB/s of ledger data",
    baselineName: "raw S3 PutObject, 4 MiB objects",
    unit: "MB/s",
    target: null,
    pick: (f) => ({ scribe: f.archival?.archival_mb_per_sec ?? undefined, baseline: f.archival?.raw_put_mb_per_sec ?? undefined }),
  },
  {
    // Not Scribe's figure but the compressor's own, beside what row 8 must keep up with: how much
    // of the ingest rate one core of fflate at level 1 can compress, doing nothing else.
    id: "fflate_alone_vs_ingest",
    path: "fflate gzip level 1 alone, one core",
    baselineName: "batch ingest rate (row 4)",
    unit: "entries/s",
    target: null,
    pick: (f) => ({ scribe: f.archival?.fflate_alone_entries_per_sec ?? undefined, baseline: f.archival?.ingest_entries_per_sec }),
  },
];

export interface Row {
  id: string;
  path: string;
  unit: string;
  baseline_name: string;
  scribe: number | null;
  baseline: number | null;
  scribe_p99_ms: number | null;
  baseline_p99_ms: number | null;
  scribe_cpu_us_per_op: number | null;
  baseline_cpu_us_per_op: number | null;
  /** Median of the per-run ratios scribe / baseline. */
  ratio: number | null;
  ratios: number[];
  target: string | null;
  /** null when not measured or when the row has no target (information only). */
  met: boolean | null;
}

function medianOrNull(values: (number | undefined)[]): number | null {
  const present = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return present.length > 0 ? median(present) : null;
}

export function buildRows(runs: readonly RunFigures[]): Row[] {
  return rowDefs.map((def) => {
    const pairs = runs.map((f) => def.pick(f));
    const ratios = pairs.filter((p) => p.scribe !== undefined && p.baseline !== undefined && p.baseline > 0).map((p) => p.scribe! / p.baseline!);
    const ratio = ratios.length > 0 ? median(ratios) : null;
    const met = ratio === null || def.target === null ? null : def.target.op === ">=" ? ratio >= def.target.value : ratio <= def.target.value;
    return {
      id: def.id,
      path: def.path,
      unit: def.unit,
      baseline_name: def.baselineName,
      scribe: medianOrNull(pairs.map((p) => p.scribe)),
      baseline: medianOrNull(pairs.map((p) => p.baseline)),
      scribe_p99_ms: medianOrNull(pairs.map((p) => p.scribeP99)),
      baseline_p99_ms: medianOrNull(pairs.map((p) => p.baselineP99)),
      scribe_cpu_us_per_op: medianOrNull(pairs.map((p) => p.scribeCpu)),
      baseline_cpu_us_per_op: medianOrNull(pairs.map((p) => p.baselineCpu)),
      ratio,
      ratios,
      target: def.target ? `${def.target.op} ${def.target.value}x` : null,
      met,
    };
  });
}

function formatValue(value: number | null, unit: string): string {
  if (value === null) return "not measured";
  if (unit === "ms" || unit === "MB/s") return `${value.toFixed(1)} ${unit}`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)}k ${unit}`;
  return `${Math.round(value).toLocaleString("en-US")} ${unit}`;
}

function withP99(text: string, p99: number | null): string {
  return p99 === null ? text : `${text}, p99 ${p99 < 10 ? p99.toFixed(1) : p99.toFixed(0)} ms`;
}

function formatCpu(r: Row): string {
  if (r.scribe_cpu_us_per_op === null || r.baseline_cpu_us_per_op === null) return "-";
  const us = (v: number) => (v < 10 ? v.toFixed(1) : v.toFixed(0));
  return `${us(r.scribe_cpu_us_per_op)} vs ${us(r.baseline_cpu_us_per_op)} (${(r.scribe_cpu_us_per_op / r.baseline_cpu_us_per_op).toFixed(1)}x)`;
}

/**
 * A ratio with two decimals, or more when two would round it onto its target (1.998 missing
 * ">= 2x" is printed 1.998x, never 2.00x beside MISSED).
 */
export function formatRatio(ratio: number, target: string | null): string {
  const goal = target === null ? undefined : Number(target.replace(/^[<>]= /, "").replace(/x$/, ""));
  let text = ratio.toFixed(2);
  for (let decimals = 3; decimals <= 6 && goal !== undefined && ratio !== goal && Number(text) === goal; decimals++) text = ratio.toFixed(decimals);
  return text;
}

/** The ratio table as Markdown (readable on a terminal, pasteable into docs). */
export function formatTable(rows: readonly Row[]): string {
  const lines = ["| # | path | Scribe | baseline, same run | ratio | target | | CPU µs/op, Scribe vs baseline |", "|---|---|---|---|---|---|---|---|"];
  rows.forEach((r, i) => {
    const status = r.ratio === null ? "not measured" : r.met === null ? "info" : r.met ? "met" : "MISSED";
    const spread = r.ratios.length > 1 ? ` (${Math.min(...r.ratios).toFixed(2)}-${Math.max(...r.ratios).toFixed(2)})` : "";
    lines.push(
      `| ${i + 1} | ${r.path} | ${withP99(formatValue(r.scribe, r.unit), r.scribe_p99_ms)} | ${r.baseline_name}: ${withP99(formatValue(r.baseline, r.unit), r.baseline_p99_ms)} | ${r.ratio === null ? "-" : `${formatRatio(r.ratio, r.target)}x${spread}`} | ${r.target ?? "-"} | ${status} | ${formatCpu(r)} |`,
    );
  });
  return lines.join("\n");
}

export interface Machine {
  cpus: number;
  model: string;
  memory_bytes: number;
  kernel: string;
  bun: string;
  /** 1-minute load average when the run started: a hint of how busy the shared machine was. */
  loadavg_at_start: number;
}

/** The machine's CPU time so far, from the "cpu" line of /proc/stat (all CPUs, in clock ticks). */
export interface CpuTicks {
  total: number;
  /** Time the hypervisor gave to other guests while this one had work to run ("steal"). */
  steal: number;
}

/**
 * The "cpu" line of a /proc/stat text: user, nice, system, idle, iowait, irq, softirq and steal
 * summed as the total (guest time is already inside user and nice). Undefined when the text has
 * no such line (not Linux, or a kernel without a steal column).
 */
export function parseCpuTicks(procStat: string): CpuTicks | undefined {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  const fields = line?.trim().split(/\s+/).slice(1, 9).map(Number);
  if (!fields || fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
}

/** The machine's CPU ticks now, or undefined where /proc/stat cannot tell them. */
export function cpuTicks(): CpuTicks | undefined {
  return existsSync("/proc/stat") ? parseCpuTicks(readFileSync("/proc/stat", "utf8")) : undefined;
}

/**
 * The share of the machine's CPU time the hypervisor took for other guests between two samples
 * (0..1), or null when it cannot be told. On the shared development VM it is what the load
 * average does not show: other tenants' work, which slows every process of a run alike.
 */
export function stolenShare(from: CpuTicks | undefined, to: CpuTicks | undefined): number | null {
  if (!from || !to || to.total <= from.total) return null;
  return (to.steal - from.steal) / (to.total - from.total);
}

/** A stolen CPU share as printed: a percentage, or "unknown" where /proc/stat could not tell it. */
export function formatStolenShare(share: number | null | undefined): string {
  return typeof share === "number" ? `${(share * 100).toFixed(1)}%` : "unknown";
}

export function machineInfo(): Machine {
  const list = cpus();
  return { cpus: list.length, model: list[0]?.model ?? "unknown", memory_bytes: totalmem(), kernel: release(), bun: Bun.version, loadavg_at_start: loadavg()[0]! };
}

export interface GitInfo {
  commit: string;
  /** The last commit that changed src/: the code measured (bench-only commits leave it alone). */
  src_commit: string;
  branch: string;
  /** True when the work tree had uncommitted changes (the figures are then of commit + changes). */
  dirty: boolean;
}

export function gitInfo(): GitInfo {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: repoRoot }).stdout.toString().trim();
  return { commit: git("rev-parse", "HEAD"), src_commit: git("log", "-1", "--format=%H", "--", "src"), branch: git("rev-parse", "--abbrev-ref", "HEAD"), dirty: git("status", "--porcelain", "--untracked-files=no") !== "" };
}

export interface Results {
  format: 1;
  date: string;
  git: GitInfo;
  machine: Machine;
  options: { seconds: number; warmup_seconds: number; runs: number };
  rows: Row[];
  /** The share of the machine's CPU the hypervisor gave to other guests over all the runs (null: unknown; absent in files saved before it was measured). */
  stolen_cpu_share?: number | null;
  /** Each run's figures, and the CPU share stolen from the machine during it. */
  runs: { started: string; figures: RunFigures; stolen_cpu_share?: number | null }[];
}

/** Writes bench/results.json (the latest) and bench/history/<date>-<commit>.json (kept). */
export function saveResults(results: Results): string[] {
  const latest = join(repoRoot, "bench", "results.json");
  const historyDir = join(repoRoot, "bench", "history");
  mkdirSync(historyDir, { recursive: true });
  const stamp = results.date.replace(/[:]/g, "").replace(/\.\d+Z$/, "Z");
  const kept = join(historyDir, `${stamp}-${results.git.commit.slice(0, 7)}.json`);
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(latest, text);
  writeFileSync(kept, text);
  return [latest, kept];
}
