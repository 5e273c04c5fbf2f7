/**
 * @module bench/profile-summary. Sums a `bun --cpu-prof` profile (.cpuprofile: nodes, samples,
 * timeDeltas) into self and total time per function, file or folder, as a Markdown table.
 *
 *   bun bench/profile-summary.ts PROFILE.cpuprofile [--by function|file|dir] [--weight samples|time] [--top 30] [--ops N]
 *
 * Bun (JavaScriptCore) samples the JavaScript thread about every `--cpu-prof-interval` µs while
 * it runs JavaScript or native code called from it (a blocking fsync inside a SQLite commit is
 * sampled under the commit); while the thread waits in the event loop, or is descheduled on a
 * busy machine, no samples are taken and the next sample's delta covers the gap. So by default
 * (`--weight samples`) every sample counts one median interval: the shares are of the thread's
 * active time. `--weight time` gives each sample the time until the next one instead, which
 * folds idle gaps into whatever ran just before them.
 * Self time goes to the sampled node's function; total time to every distinct function on its
 * stack. Percentages are of the busy time: every sample except `(idle)` and `(program)`
 * (Bun's profiler marks time spent outside JavaScript, e.g. waiting in the event loop, with these
 * names). A native or built-in frame (`run [native]`, `bun:sqlite`) is named with its nearest
 * caller in the project (`run [native] <- append src/storage/hot.ts:240`), so self time spent in
 * native code points at the line that asked for it; with `--by file` or `--by dir` it is counted
 * in the caller's file or folder. With `--ops N` (operations the process served while profiled) a µs-per-operation
 * column is added. Names: `function file:line` for JavaScript (paths relative to the repository;
 * bun's own modules as `bun:sqlite`, `node:...`), `function [native]` for built-in frames.
 */

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { repoRoot } from "./lib/proc.ts";

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export type Grouping = "function" | "file" | "dir";
/** `samples`: every sample counts one median sampling interval; `time`: the time until the next sample. */
export type Weight = "samples" | "time";

export interface SummaryLine {
  name: string;
  selfMs: number;
  totalMs: number;
}

export interface Summary {
  /** Samples times their weight, ms. */
  sampledMs: number;
  /** Wall time the profile spans, ms. */
  wallMs: number;
  /** Samples outside JavaScript (idle or waiting), ms. */
  idleMs: number;
  busyMs: number;
  lines: SummaryLine[];
}

const idleNames = new Set(["(idle)", "(program)"]);
/**
 * Bun samples its native event loop (polling, HTTP parsing and socket writes, timers) as an
 * unnamed native frame with no JavaScript caller; it is reported under this name.
 */
const nativeLoopName = "(event loop: native I/O, HTTP parsing, polling)";

function relativeUrl(url: string): string {
  if (url === "") return "[native]";
  const path = url.startsWith("file://") ? decodeURIComponent(url.slice("file://".length)) : url;
  return path.startsWith(`${repoRoot}/`) ? path.slice(repoRoot.length + 1) : path;
}

/** The folder a file is grouped under with --by dir: src/<area>, node_modules/<package>, or bun's own. */
function folderOf(file: string): string {
  const parts = file.split("/");
  if (parts[0] === "node_modules") return parts[1]?.startsWith("@") ? parts.slice(0, 3).join("/") : parts.slice(0, 2).join("/");
  if (parts[0] === "src" || parts[0] === "bench" || parts[0] === "test") return parts.length > 2 ? parts.slice(0, 2).join("/") : parts[0]!;
  return file.includes(":") ? file.split("/")[0]! : file;
}

export function frameName(frame: CallFrame, by: Grouping): string {
  if (idleNames.has(frame.functionName) || frame.functionName === "(root)" || frame.functionName === "(garbage collector)") return frame.functionName;
  const file = relativeUrl(frame.url);
  if (by === "file") return file;
  if (by === "dir") return folderOf(file);
  const name = frame.functionName || "(anonymous)";
  return file === "[native]" ? `${name} [native]` : `${name} ${file}:${frame.lineNumber + 1}`;
}

/** True for a frame of the project or its packages (a file under the repository), not bun's own or native code. */
function isProjectFrame(frame: CallFrame): boolean {
  return frame.url.startsWith("file://");
}

export function summarize(profile: CpuProfile, by: Grouping, weight: Weight = "samples"): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /** A native or built-in leaf is named with its nearest project caller: `run [native] <- append src/storage/hot.ts:240`. */
  const leafName = (leafId: number): string => {
    const frame = byId.get(leafId)!.callFrame;
    const name = frameName(frame, by);
    if (isProjectFrame(frame) || /^\([a-z ]+\)$/.test(name)) return name;
    for (let id = parent.get(leafId); id !== undefined; id = parent.get(id)) {
      const caller = byId.get(id)!.callFrame;
      if (!isProjectFrame(caller)) continue;
      // By function: the native frame and its caller; by file or folder: the caller's, native time included.
      return by === "function" ? `${name} <- ${frameName(caller, by)}` : frameName(caller, by);
    }
    return frame.functionName === "" && frame.url === "" ? nativeLoopName : name;
  };
  const deltas = profile.timeDeltas;
  const sortedDeltas = [...deltas].sort((a, b) => a - b);
  const medianDelta = sortedDeltas[Math.floor(sortedDeltas.length / 2)] ?? 0;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampledUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = weight === "samples" ? medianDelta : Math.max(0, i + 1 < deltas.length ? deltas[i + 1]! : medianDelta);
    sampledUs += us;
    const leaf = byId.get(profile.samples[i]!);
    if (!leaf) continue;
    if (idleNames.has(leaf.callFrame.functionName)) {
      idleUs += us;
      continue;
    }
    const selfName = leafName(leaf.id);
    self.set(selfName, (self.get(selfName) ?? 0) + us);
    const seen = new Set<string>([selfName]);
    total.set(selfName, (total.get(selfName) ?? 0) + us);
    for (let id = parent.get(leaf.id); id !== undefined; id = parent.get(id)) {
      const name = frameName(byId.get(id)!.callFrame, by);
      if (name === "(root)" || seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + us);
    }
  }
  const lines = [...total.keys()].map((name) => ({ name, selfMs: (self.get(name) ?? 0) / 1000, totalMs: total.get(name)! / 1000 }));
  lines.sort((a, b) => b.selfMs - a.selfMs || b.totalMs - a.totalMs);
  return { sampledMs: sampledUs / 1000, wallMs: (profile.endTime - profile.startTime) / 1000, idleMs: idleUs / 1000, busyMs: (sampledUs - idleUs) / 1000, lines };
}

export function formatSummary(summary: Summary, options: { top: number; ops?: number; by: Grouping }): string {
  const perOp = options.ops !== undefined && options.ops > 0;
  const out = [
    `profile spans ${(summary.wallMs / 1000).toFixed(2)} s; the JavaScript thread was sampled active for ${(summary.busyMs / 1000).toFixed(2)} s` +
      (summary.idleMs >= 5 ? ` (plus ${(summary.idleMs / 1000).toFixed(2)} s marked idle)` : "") +
      (perOp ? `; ${options.ops} operations: ${((summary.busyMs * 1000) / options.ops!).toFixed(1)} µs active per operation` : ""),
    "",
    `| # | self % | self ms | total % |${perOp ? " self µs/op |" : ""} ${options.by} |`,
    `|---|---|---|---|${perOp ? "---|" : ""}---|`,
  ];
  summary.lines.slice(0, options.top).forEach((line, i) => {
    const pct = (ms: number) => ((100 * ms) / summary.busyMs).toFixed(1);
    out.push(`| ${i + 1} | ${pct(line.selfMs)} | ${line.selfMs.toFixed(0)} | ${pct(line.totalMs)} |${perOp ? ` ${((line.selfMs * 1000) / options.ops!).toFixed(2)} |` : ""} \`${line.name.replaceAll("|", "\\|")}\` |`);
  });
  return out.join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Bun.argv.slice(2),
    options: { by: { type: "string", default: "function" }, weight: { type: "string", default: "samples" }, top: { type: "string", default: "30" }, ops: { type: "string" } },
    allowPositionals: true,
  });
  const by = values.by as Grouping;
  const weight = values.weight as Weight;
  if (positionals.length !== 1 || !["function", "file", "dir"].includes(by) || !["samples", "time"].includes(weight)) {
    console.error("usage: bun bench/profile-summary.ts PROFILE.cpuprofile [--by function|file|dir] [--weight samples|time] [--top 30] [--ops N]");
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as CpuProfile;
  console.log(formatSummary(summarize(profile, by, weight), { top: Number(values.top), ops: values.ops === undefined ? undefined : Number(values.ops), by }));
}
