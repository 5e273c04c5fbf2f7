/**
 * @module bench/ab. Measures one change: the node of an older commit (A) and the node of this
 * working tree (B), side by side in the same run, loaded in alternating slices (A B B A A B …,
 * so neither always goes first) with the same load as `bun run bench` — what each commit message
 * of an optimisation quotes. Throughput moves with the machine's other work; the CPU per
 * operation (from /proc, all threads of the node) moves much less and is the better guide.
 *
 *   bun bench/ab.ts REF put|get|batch [--seconds 20] [--slice 2] [--warmup 3] [--connections 64]
 *   bun bench/ab.ts REF put|get|batch --inproc [--runs 6] [--seconds 6]
 *   bun bench/ab.ts HEAD put --env-b MIMALLOC_PURGE_DELAY=100   (the same code, B with more env; also --env-a)
 *
 * --inproc: no sockets; bench/write-path.ts (copied into REF's tree) runs in fresh processes for
 * A and B in turn (A B B A …, `--runs` each, `--seconds` each), each with a fixed number of
 * concurrent requests per group commit, and the medians of their CPU per operation and rate are
 * compared: the steadiest measure of the node's own work per operation on a busy machine.
 *
 * REF is any git commit-ish; its tree is extracted (`git archive`) into a temporary directory
 * with this repository's node_modules linked in, and removed at the end.
 */

import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { alternate, combine, withCpu, wrkSlice, type Slice } from "./lib/alternate.ts";
import { runBatchLoad } from "./lib/batch-load.ts";
import { envPairs, extractCommit, repoRoot, runToEnd, tempDir } from "./lib/proc.ts";
import { preload, startNode, type ScribeNode } from "./lib/scribe.ts";
import { getScript, putScript, runWrk } from "./lib/wrk.ts";

const modes = ["put", "get", "batch"] as const;
type Mode = (typeof modes)[number];

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { inproc: { type: "boolean", default: false }, runs: { type: "string", default: "6" }, seconds: { type: "string", default: "20" }, slice: { type: "string", default: "2" }, warmup: { type: "string", default: "3" }, connections: { type: "string", default: "64" }, "env-a": { type: "string", multiple: true, default: [] }, "env-b": { type: "string", multiple: true, default: [] } },
  allowPositionals: true,
});
const [ref, mode] = positionals as [string, Mode];
if (!ref || !modes.includes(mode)) {
  console.error("usage: bun bench/ab.ts REF put|get|batch [--seconds 20] [--slice 2] [--warmup 3] [--connections 64]");
  process.exit(2);
}
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const connections = Number(values.connections);
const valueBytes = 100;
/** Seconds per slice: short slices interleave the two nodes finely (wrk's -d takes whole seconds). */
/** --env-a / --env-b KEY=VALUE (repeatable): environment of A's or B's node only, to measure a runtime setting. */
const envA = envPairs(values["env-a"] as string[]);
const envB = envPairs(values["env-b"] as string[]);
const sliceSeconds = Math.max(1, Math.round(Number(values.slice)));
const slices = Math.max(1, Math.round(seconds / sliceSeconds));

/** --inproc: bench/write-path.ts for A and B in turn; medians of CPU per op and rate. */
async function inproc(oldRoot: string): Promise<void> {
  const script = join(oldRoot, "bench", "write-path.ts");
  if (!existsSync(script)) copyFileSync(join(repoRoot, "bench", "write-path.ts"), script);
  const runs = Math.max(1, Number(values.runs));
  const results: { cpu: number; rate: number }[][] = [[], []];
  for (let i = 0; i < runs * 2; i++) {
    const which = [0, 1, 1, 0][i % 4]!;
    const root = which === 0 ? oldRoot : repoRoot;
    const out = await runToEnd({ cmd: ["bun", join(root, "bench", "write-path.ts"), mode, "--seconds", String(seconds), "--warmup", String(warmupSeconds)], cwd: root });
    const r = JSON.parse(out.trim().split("\n").at(-1)!) as { cpu_us_per_op: number; ops_per_sec: number };
    results[which]!.push({ cpu: r.cpu_us_per_op, rate: r.ops_per_sec });
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [a, b] = results.map((rs) => ({ cpu: med(rs.map((r) => r.cpu)), rate: med(rs.map((r) => r.rate)), cpus: rs.map((r) => r.cpu.toFixed(1)).join(" ") }));
  console.log(`${mode} in process, ${runs} runs each of ${seconds} s, load average ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]}`);
  console.log(`A ${ref.padEnd(26)} cpu ${a!.cpu.toFixed(1).padStart(6)} us/op (runs: ${a!.cpus})   ${a!.rate.toFixed(0)} ops/s`);
  console.log(`B ${"working tree".padEnd(26)} cpu ${b!.cpu.toFixed(1).padStart(6)} us/op (runs: ${b!.cpus})   ${b!.rate.toFixed(0)} ops/s`);
  console.log(`B/A: cpu per op ${(b!.cpu / a!.cpu).toFixed(2)}x, rate ${(b!.rate / a!.rate).toFixed(2)}x`);
}

async function slice(node: ScribeNode, round: number): Promise<Slice> {
  if (mode === "batch") {
    const { result, cpuSeconds } = await withCpu([node.pid], () => runBatchLoad({ url: node.url, clients: 2, ops: 1000, valueBytes, seconds: sliceSeconds, warmupSeconds: 0, prefix: `b${round}` }));
    return { ok: result.entries, seconds: result.seconds, p50Ms: result.p50_ms, p99Ms: result.p99_ms, errors: result.failures, cpuSeconds };
  }
  const script = mode === "get" ? getScript(1000, "g/") : putScript(valueBytes, `m${round}/`);
  return wrkSlice(node.url, [node.pid], script, connections, sliceSeconds);
}

async function warm(node: ScribeNode): Promise<void> {
  if (mode === "get") await preload(node.url, "g/", 1000, valueBytes);
  if (warmupSeconds <= 0) return;
  if (mode === "batch") await runBatchLoad({ url: node.url, clients: 2, ops: 1000, valueBytes, seconds: warmupSeconds, warmupSeconds: 0, prefix: "bw" });
  else await runWrk({ url: node.url, script: mode === "get" ? getScript(1000, "g/") : putScript(valueBytes, "w/"), connections, seconds: warmupSeconds });
}

const old = await extractCommit(ref);
if (values.inproc) {
  try {
    await inproc(old.path);
  } finally {
    old.remove();
  }
  process.exit(0);
}
const dirs = [tempDir(), tempDir()];
const nodes: ScribeNode[] = [];
try {
  nodes.push(await startNode({ dataDir: dirs[0]!.path, root: old.path, env: envA }));
  nodes.push(await startNode({ dataDir: dirs[1]!.path, env: envB }));
  for (const node of nodes) await warm(node);
  // A B, then B A, ...: each node goes first in half of the rounds.
  const measured = await alternate(slices, {
    first: (round) => slice(nodes[round % 2]!, round),
    second: (round) => slice(nodes[(round + 1) % 2]!, round),
  });
  const a: Slice[] = [];
  const b: Slice[] = [];
  measured.first.forEach((s, round) => (round % 2 === 0 ? a : b).push(s));
  measured.second.forEach((s, round) => (round % 2 === 0 ? b : a).push(s));
  const fa = combine(a);
  const fb = combine(b);
  const line = (name: string, f: ReturnType<typeof combine>) =>
    `${name.padEnd(28)} ${f.ops_per_sec.toFixed(0).padStart(8)} ops/s   p99 ${f.p99_ms.toFixed(1).padStart(7)} ms   cpu ${(f.cpu_us_per_op ?? NaN).toFixed(1).padStart(6)} us/op   errors ${f.errors}`;
  console.log(`${mode}, ${slices} alternating slices each, load average ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]}`);
  console.log(line(`A ${ref}`, fa));
  console.log(line("B working tree", fb));
  console.log(`B/A: throughput ${(fb.ops_per_sec / fa.ops_per_sec).toFixed(2)}x, cpu per op ${((fb.cpu_us_per_op ?? NaN) / (fa.cpu_us_per_op ?? NaN)).toFixed(2)}x`);
} finally {
  await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
  for (const d of dirs) d.remove();
  old.remove();
}
