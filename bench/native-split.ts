/**
 * @module bench/native-split. Where the JavaScript thread of a Scribe node and of its baseline
 * spends its CPU per operation under the same load, by kind of code: JavaScript compiled by the
 * JIT, Bun's native code (runtime, interpreter, HTTP server, SQLite), the kernel by system call,
 * libc, the vDSO. `perf record` samples the thread (its TID is the process's PID) while wrk loads
 * it; the servers take turns (Scribe, baseline, baseline, Scribe, …) so both see the same machine.
 * The JavaScript profiler (bench/profile.ts) cannot show this: it counts Bun's native HTTP work
 * and the kernel as idle. docs/PERFORMANCE.md section 12 quotes its tables.
 *
 *   bun bench/native-split.ts put|get [--seconds 8] [--warmup 3] [--rounds 2] [--out DIR]
 *
 * put: durable PUT /kv/<new key> of 100 B, 64 connections, against the minimal durable server
 * (bench/baselines/durable-server.ts). get: cached GET of 1,000 preloaded keys, against bare
 * Bun.serve (bench/baselines/bare-server.ts). Needs `perf` (Debian: linux-perf) and wrk; run as
 * root or with kernel.perf_event_paranoid <= 1.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { splitPerOp, parsePerfScript, type PerfSample } from "./lib/native-split.ts";
import { runToEnd, spawnChild, tempDir } from "./lib/proc.ts";
import { preload, startNode } from "./lib/scribe.ts";
import { startBaseline } from "./lib/servers.ts";
import { getScript, haveWrk, putScript, runWrk } from "./lib/wrk.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { seconds: { type: "string", default: "8" }, warmup: { type: "string", default: "3" }, rounds: { type: "string", default: "2" }, out: { type: "string" } },
  allowPositionals: true,
});
const mode = positionals[0];
if (mode !== "put" && mode !== "get") {
  console.error("usage: bun bench/native-split.ts put|get [--seconds 8] [--warmup 3] [--rounds 2] [--out DIR]");
  process.exit(2);
}
if (Bun.spawnSync(["sh", "-c", "command -v perf"]).exitCode !== 0 || !haveWrk()) {
  console.error("bench/native-split needs perf and wrk (apt-get install -y linux-perf wrk); not run");
  process.exit(2);
}
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const outDir = values.out ?? tempDir("scribe-native-split-").path;
mkdirSync(outDir, { recursive: true });
const connections = 64;
const valueBytes = 100;

interface Server {
  name: string;
  url: string;
  pid: number;
  samples: PerfSample[];
  ops: number;
  seconds: number;
}

const scribeDir = tempDir();
const baselineDir = tempDir();
const node = await startNode({ dataDir: scribeDir.path });
const baseline = mode === "put" ? await startBaseline("durable-server.ts", ["--dir", baselineDir.path]) : await startBaseline("bare-server.ts");
try {
  if (mode === "get") await preload(node.url, "g/", 1000, valueBytes);
  const script = (round: number) => (mode === "get" ? getScript(1000, "g/") : putScript(valueBytes, `r${round}/`));
  const servers: Server[] = [
    { name: "Scribe", url: node.url, pid: node.pid, samples: [], ops: 0, seconds: 0 },
    { name: mode === "put" ? "minimal durable server" : "bare Bun.serve", url: baseline.url, pid: baseline.pid, samples: [], ops: 0, seconds: 0 },
  ];
  for (const server of servers) await runWrk({ url: server.url, script: script(-1), connections, seconds: Number(values.warmup) });
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const file = join(outDir, `${server.name.replaceAll(" ", "-")}-${round}.perf.data`);
      const perf = spawnChild({ cmd: ["perf", "record", "-F", "999", "-g", "-t", String(server.pid), "-o", file, "--", "sleep", String(seconds)] });
      const load = await runWrk({ url: server.url, script: script(round), connections, seconds });
      if ((await perf.exited) !== 0) throw new Error(`perf record failed:\n${perf.output()}`);
      server.ops += load.okPerSec * load.seconds;
      server.seconds += load.seconds;
      server.samples.push(...parsePerfScript(await runToEnd({ cmd: ["perf", "script", "-i", file, "-F", "tid,period,ip,sym,dso"] })));
    }
  }
  const unit = mode === "put" ? "write" : "read";
  const splits = servers.map((s) => splitPerOp(s.samples, s.ops));
  const kinds = [...new Set(splits.flatMap((split) => split.map((row) => row.kind)))];
  const usOf = (i: number, kind: string) => splits[i]!.find((row) => row.kind === kind)?.usPerOp ?? 0;
  kinds.sort((a, b) => usOf(0, b) + usOf(1, b) - usOf(0, a) - usOf(1, a));
  const total = (i: number) => splits[i]!.reduce((n, row) => n + row.usPerOp, 0);
  const lines = [
    `# ${mode}: the JavaScript thread's CPU per ${unit}, by kind of code (perf, ${rounds} x ${seconds} s each, taking turns)`,
    "",
    ...servers.map((s, i) => `- ${s.name}: ${(s.ops / s.seconds).toFixed(0)} ${unit}s/s under perf, ${total(i).toFixed(1)} µs of the thread's CPU per ${unit} (${s.samples.length} samples)`),
    "",
    `| kind of code | ${servers[0]!.name}, µs/${unit} | ${servers[1]!.name}, µs/${unit} | difference |`,
    "|---|---|---|---|",
    ...kinds.map((kind) => `| ${kind} | ${usOf(0, kind).toFixed(2)} | ${usOf(1, kind).toFixed(2)} | ${(usOf(0, kind) - usOf(1, kind)).toFixed(2)} |`),
    `| **total** | **${total(0).toFixed(1)}** | **${total(1).toFixed(1)}** | **${(total(0) - total(1)).toFixed(1)}** |`,
  ];
  const report = lines.join("\n");
  console.log(report);
  const file = join(outDir, `native-split-${mode}.md`);
  writeFileSync(file, `${report}\n`);
  console.log(`\nwritten to ${file} (perf data beside it)`);
} finally {
  await node.stop("SIGKILL");
  await baseline.stop();
  scribeDir.remove();
  baselineDir.remove();
}
