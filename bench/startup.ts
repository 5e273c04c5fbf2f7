/**
 * @module bench/startup. How long a node takes to start, and what its start costs: the node of an
 * older commit (A) and the node of this working tree (B) are started in turn (A B B A …), each
 * on a fresh data directory with the embedded default configuration (SQLite, no S3), and timed
 * from the spawn until `GET /ready` answers 200 (polled every 2 ms). Then its CPU so far (all
 * threads, /proc) and its resident memory are read and the process is killed with SIGKILL.
 *
 *   bun bench/startup.ts REF [--runs 12]
 *
 * REF is extracted as bench/ab.ts does. Medians of each side are printed, with B/A.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds, extractCommit, freePort, median, repoRoot, spawnChild, tempDir } from "./lib/proc.ts";

const { values, positionals } = parseArgs({ args: Bun.argv.slice(2), options: { runs: { type: "string", default: "12" } }, allowPositionals: true });
const ref = positionals[0];
if (!ref) {
  console.error("usage: bun bench/startup.ts REF [--runs 12]");
  process.exit(2);
}
const runs = Math.max(1, Number(values.runs));
const startTimeoutMs = 30_000;

interface Start {
  readyMs: number;
  cpuMs: number;
  rssMiB: number;
}

async function startOnce(root: string): Promise<Start> {
  const dir = tempDir("scribe-startup-");
  const port = freePort();
  const started = performance.now();
  const child = spawnChild({
    cmd: ["bun", join(root, "src/main.ts"), "--data-dir", dir.path, "--port", String(port), "--raft-port", String(freePort())],
    env: { SCRIBE_LOGGING_LEVEL: "warn", SCRIBE_LOGGING_FORMAT: "json" },
  });
  try {
    for (;;) {
      if (!child.running()) throw new Error(`scribe-node exited with ${child.proc.exitCode} before it was ready:\n${child.output()}`);
      if (performance.now() - started > startTimeoutMs) throw new Error(`scribe-node not ready after ${startTimeoutMs} ms`);
      const ready = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.status === 200, () => false);
      if (ready) break;
      await Bun.sleep(2);
    }
    const readyMs = performance.now() - started;
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]);
    return { readyMs, cpuMs: cpuSeconds(child.pid) * 1000, rssMiB: rssKiB / 1024 };
  } finally {
    await child.stop("SIGKILL");
    dir.remove();
  }
}

const old = await extractCommit(ref);
try {
  const results: Start[][] = [[], []];
  for (let i = 0; i < runs * 2; i++) {
    const which = [0, 1, 1, 0][i % 4]!;
    results[which]!.push(await startOnce(which === 0 ? old.path : repoRoot));
  }
  const [a, b] = results.map((rs) => ({ readyMs: median(rs.map((r) => r.readyMs)), cpuMs: median(rs.map((r) => r.cpuMs)), rssMiB: median(rs.map((r) => r.rssMiB)) }));
  console.log(`node start, embedded default, ${runs} starts each, load average ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
  for (const [name, s] of [[`A ${ref}`, a!], ["B working tree", b!]] as const) {
    console.log(`${name.padEnd(28)} ready ${s.readyMs.toFixed(0).padStart(5)} ms   CPU ${s.cpuMs.toFixed(0).padStart(5)} ms   RSS ${s.rssMiB.toFixed(1).padStart(6)} MiB`);
  }
  console.log(`B/A: ready ${(b!.readyMs / a!.readyMs).toFixed(2)}x, CPU ${(b!.cpuMs / a!.cpuMs).toFixed(2)}x, RSS ${(b!.rssMiB / a!.rssMiB).toFixed(2)}x`);
} finally {
  old.remove();
}
