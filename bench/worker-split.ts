/**
 * @module bench/worker-split. Would a durable PUT go faster with its commit on a second thread?
 * Scribe's event loop thread is the bound of a PUT load (about 90% busy) while the machine keeps
 * a third or more of its two cores idle, and Scribe's Ready cycle (Raft, the state machine, the
 * rows, the Merkle tree, the commit) is about 15 µs of that thread's CPU per write. This measures
 * the idea on the minimal durable server (bench/baselines/durable-server.ts), with Scribe's extra
 * work per write stood in by a busy wait of a known cost:
 *
 * - `baseline`: the minimal durable server as the ratio table measures it;
 * - `inline`: the same with `--http-us` µs of busy waiting in the request handler and
 *   `--commit-us` µs per write in the commit, all on the event loop thread (Scribe's shape);
 * - `worker`: the same busy waits, with the commit (rows, busy wait, fsync) in a Worker, each
 *   batch sent as one transferred buffer, at most `--inflight` batches in flight.
 *
 * The three servers take turns in wrk slices (durable PUT of 100 B to a new key, 64 connections);
 * for each it prints the rate, p99, the CPU per write of the process, of its event loop thread
 * and of its Worker, and how idle the machine was meanwhile. docs/PERFORMANCE.md section 12
 * quotes its output.
 *
 *   bun bench/worker-split.ts [--http-us 8] [--commit-us 8] [--inflight 2] [--rounds 4] [--seconds 6] [--out FILE]
 */

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { cpuSeconds, machineCpuTicks, mainThreadCpuSeconds, median, tempDir, threadCpuSeconds } from "./lib/proc.ts";
import { startBaseline, type BaselineServer } from "./lib/servers.ts";
import { haveWrk, putScript, runWrk } from "./lib/wrk.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    "http-us": { type: "string", default: "8" },
    "commit-us": { type: "string", default: "8" },
    inflight: { type: "string", default: "2" },
    rounds: { type: "string", default: "4" },
    seconds: { type: "string", default: "6" },
    out: { type: "string" },
  },
});
if (!haveWrk()) {
  console.error("bench/worker-split needs wrk (apt-get install -y wrk); not run");
  process.exit(2);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const busy = ["--busy-http-us", values["http-us"]!, "--busy-commit-us", values["commit-us"]!];
const variants = {
  baseline: [] as string[],
  inline: busy,
  worker: [...busy, "--commit-in-worker", "--inflight", values.inflight!],
};
type Variant = keyof typeof variants;
const names = Object.keys(variants) as Variant[];

interface Slice {
  writes: number;
  seconds: number;
  p99Ms: number;
  cpu: number;
  main: number;
  worker: number;
  idleShare: number;
}

/** One wrk slice against `server`, with its CPU (all, event loop thread, Worker) and the machine's idle share. */
async function slice(server: BaselineServer, prefix: string): Promise<Slice> {
  const before = { cpu: cpuSeconds(server.pid), main: mainThreadCpuSeconds(server.pid), worker: threadCpuSeconds(server.pid, "Worker"), ticks: machineCpuTicks() };
  const result = await runWrk({ url: server.url, script: putScript(100, prefix), connections: 64, seconds });
  const ticks = machineCpuTicks();
  return {
    writes: result.okPerSec * result.seconds,
    seconds: result.seconds,
    p99Ms: result.p99Ms,
    cpu: cpuSeconds(server.pid) - before.cpu,
    main: mainThreadCpuSeconds(server.pid) - before.main,
    worker: threadCpuSeconds(server.pid, "Worker") - before.worker,
    idleShare: (ticks.idle - before.ticks.idle) / (ticks.total - before.ticks.total),
  };
}

const dirs = names.map(() => tempDir("scribe-worker-split-"));
const servers = {} as Record<Variant, BaselineServer>;
const slices = Object.fromEntries(names.map((n) => [n, [] as Slice[]])) as Record<Variant, Slice[]>;
try {
  for (const [i, name] of names.entries()) servers[name] = await startBaseline("durable-server.ts", ["--dir", dirs[i]!.path, ...variants[name]]);
  for (const name of names) await runWrk({ url: servers[name].url, script: putScript(100, "warm/"), connections: 64, seconds: 2 });
  for (let round = 0; round < rounds; round++) {
    for (const name of names) slices[name].push(await slice(servers[name], `r${round}/`));
  }
} finally {
  for (const server of Object.values(servers)) await server.stop();
  for (const dir of dirs) dir.remove();
}

const us = (cpu: number, writes: number) => ((cpu * 1e6) / writes).toFixed(1);
const rate = (s: readonly Slice[]) => s.reduce((n, x) => n + x.writes, 0) / s.reduce((n, x) => n + x.seconds, 0);
const sum = (s: readonly Slice[], f: (x: Slice) => number) => s.reduce((n, x) => n + f(x), 0);
console.log(`busy wait per write: ${values["http-us"]} µs in the handler, ${values["commit-us"]} µs in the commit; ${rounds} rounds of ${seconds} s, 64 connections, 100 B`);
console.log("| server | writes/s | vs baseline | p99 ms | CPU µs/write: process | event loop thread | Worker | machine idle |");
console.log("|---|---|---|---|---|---|---|---|");
const figures: Record<string, unknown> = {};
for (const name of names) {
  const s = slices[name];
  const writes = sum(s, (x) => x.writes);
  const row = {
    writes_per_sec: rate(s),
    vs_baseline: rate(s) / rate(slices.baseline),
    p99_ms: median(s.map((x) => x.p99Ms)),
    cpu_us_per_write: Number(us(sum(s, (x) => x.cpu), writes)),
    main_thread_us_per_write: Number(us(sum(s, (x) => x.main), writes)),
    worker_us_per_write: Number(us(sum(s, (x) => x.worker), writes)),
    machine_idle: median(s.map((x) => x.idleShare)),
  };
  figures[name] = row;
  console.log(
    `| ${name} | ${row.writes_per_sec.toFixed(0)} | ${row.vs_baseline.toFixed(2)}x | ${row.p99_ms.toFixed(2)} | ${row.cpu_us_per_write} | ${row.main_thread_us_per_write} | ${row.worker_us_per_write} | ${(row.machine_idle * 100).toFixed(0)}% |`,
  );
}
const perRound = slices.worker.map((w, i) => w.writes / w.seconds / (slices.inline[i]!.writes / slices.inline[i]!.seconds));
console.log(`worker vs inline, per round: ${perRound.map((r) => r.toFixed(2)).join(", ")} (median ${median(perRound).toFixed(2)}x)`);
if (values.out) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), options: values, figures, worker_vs_inline_per_round: perRound }, null, 2));
