/**
 * @module bench/get-pair. One change to the cached GET path, measured as finely as this shared
 * machine allows: the node of an older commit (A) and the node of this working tree (B) run in
 * ONE process (each tree's modules imported from its own root), and rounds of 64 concurrent
 * cached GETs (`app.handle`, no sockets, as bench/write-path.ts) go to A and B in alternating
 * slices of a few milliseconds (A B, B A, …). The process's CPU over each slice is charged to
 * its side, so both sides see the same background load at the same moments; the median of the
 * per-slice-pair ratios is the figure. An A/A run (the same commit on both sides) stays within
 * about ±2% at a load average of 12 on the 2-core machine, where `bench/ab.ts --inproc` moves
 * by ±15% between runs.
 *
 *   bun bench/get-pair.ts REF [--seconds 20] [--rounds 20]
 *
 * It leaves out Bun's HTTP work (parsing, the request's URL and headers built from the socket,
 * writing the response), which `bun bench/ab.ts REF get` includes.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { extractCommit, median, repoRoot } from "./lib/proc.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { seconds: { type: "string", default: "20" }, rounds: { type: "string", default: "20" } },
  allowPositionals: true,
});
const ref = positionals[0];
if (!ref) {
  console.error("usage: bun bench/get-pair.ts REF [--seconds 20] [--rounds 20]");
  process.exit(2);
}
/** Concurrent GETs per round, as bench/write-path.ts. */
const concurrency = 64;
/** Keys preloaded and read, as the wrk GET load. */
const keys = 1000;
const value = "v".repeat(100);
const base = "http://127.0.0.1";

interface Side {
  name: string;
  app: { handle(request: Request): Promise<Response> };
  stop(): Promise<void>;
  dir: string;
  /** CPU µs per GET of each measured slice. */
  slices: number[];
}

/** Starts a node from the tree at `root` (its own modules) with `keys` preloaded keys. */
async function startSide(name: string, root: string): Promise<Side> {
  const { loadConfig } = await import(join(root, "src/config/index.ts"));
  const { createLogger } = await import(join(root, "src/cluster/logger.ts"));
  const { startServer } = await import(join(root, "src/cluster/server.ts"));
  const dir = mkdtempSync(join(tmpdir(), "scribe-get-pair-"));
  const config = loadConfig({ overrides: { "node.data_dir": dir, "network.client_port": 0, "network.raft_port": 0, "logging.level": "warn" } });
  const running = await startServer(config, createLogger({ ...config.logging, level: "silent" }));
  for (let first = 0; first < keys; first += 500) {
    const ops = Array.from({ length: 500 }, (_, i) => `{"op":"put","key":"g/${first + i}","value":"${value}"}`);
    const r = await running.app.handle(new Request(`${base}/batch`, { method: "POST", body: `{"ops":[${ops.join(",")}]}` }));
    if (r.status !== 200) throw new Error(`${name}: the preload answered ${r.status}`);
  }
  return { name, app: running.app, stop: () => running.stop(), dir, slices: [] };
}

let serial = 0;

async function round(side: Side): Promise<void> {
  const requests: Promise<Response>[] = [];
  for (let i = 0; i < concurrency; i++) requests.push(Promise.resolve(side.app.handle(new Request(`${base}/kv/g/${(serial++ * 7919) % keys}`))));
  for (const r of await Promise.all(requests)) {
    if (r.status !== 200) throw new Error(`${side.name}: a GET answered ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  }
}

async function slice(side: Side, rounds: number, measured: boolean): Promise<void> {
  const before = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await round(side);
  const used = process.cpuUsage(before);
  if (measured) side.slices.push((used.user + used.system) / (rounds * concurrency));
}

const old = await extractCommit(ref);
const sides: Side[] = [];
try {
  sides.push(await startSide(`A ${ref}`, old.path));
  sides.push(await startSide("B working tree", repoRoot));
  const rounds = Math.max(1, Number(values.rounds));
  // Warm-up: both sides' code compiled by the JIT before anything is measured.
  for (let i = 0; i < 30; i++) for (const side of sides) await slice(side, rounds, false);
  const started = performance.now();
  for (let i = 0; performance.now() - started < Number(values.seconds) * 1000; i++) {
    for (const side of i % 2 === 0 ? sides : [...sides].reverse()) await slice(side, rounds, true);
  }
  const [a, b] = sides as [Side, Side];
  const ratios = a.slices.map((cpu, i) => b.slices[i]! / cpu);
  console.log(`cached GET in one process, ${a.slices.length} slice pairs of ${rounds} x ${concurrency} GETs, load average ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]}`);
  for (const side of sides) console.log(`${side.name.padEnd(28)} cpu ${median(side.slices).toFixed(2).padStart(6)} us/op (median slice)`);
  console.log(`B/A: cpu per op ${median(ratios).toFixed(3)}x (median of the per-pair ratios)`);
} finally {
  for (const side of sides) {
    await side.stop();
    rmSync(side.dir, { recursive: true, force: true });
  }
  old.remove();
}
process.exit(0);
