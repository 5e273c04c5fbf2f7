/**
 * @module bench/lib/servers. Starts the baseline servers of bench/baselines/ as child processes
 * and waits until they print `listening <port>`.
 */

import { join } from "node:path";
import { freePort, repoRoot, runToEnd, spawnChild, waitUntil, type Child } from "./proc.ts";
import type { DiskFigure, RawInsertFigure } from "./figures.ts";

export interface BaselineServer {
  url: string;
  pid: number;
  child: Child;
  stop(): Promise<number>;
}

/** Starts `bench/baselines/<script>` with `--port` and `args`; resolves once it listens. */
export async function startBaseline(script: string, args: string[] = []): Promise<BaselineServer> {
  const port = freePort();
  const child = spawnChild({ cmd: ["bun", join(repoRoot, "bench/baselines", script), "--port", String(port), ...args] });
  try {
    await waitUntil(
      () => {
        if (!child.running()) throw new Error(`${script} exited at start:\n${child.output()}`);
        return child.output().includes("listening");
      },
      15_000,
      `${script} to listen`,
    );
  } catch (error) {
    await child.stop("SIGKILL");
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child, stop: () => child.stop("SIGTERM") };
}

/** Runs the raw bun:sqlite insert baseline for `seconds` in `dir`. */
export async function runRawInsert(dir: string, seconds: number): Promise<RawInsertFigure> {
  const out = await runToEnd({ cmd: ["bun", join(repoRoot, "bench/baselines/raw-insert.ts"), "--dir", dir, "--seconds", String(seconds)] });
  const r = JSON.parse(out.trim().split("\n").at(-1)!) as { rows: number; transactions: number; seconds: number; rows_per_sec: number; cpu_seconds: number };
  return { rows_per_sec: r.rows_per_sec, rows: r.rows, transactions: r.transactions, seconds: r.seconds, cpu_us_per_row: (r.cpu_seconds * 1e6) / r.rows };
}

/** Measures fdatasync and small WAL FULL transactions in `dir` (bench/baselines/fsync.ts). */
export async function runFsyncProbe(dir: string): Promise<DiskFigure> {
  const out = await runToEnd({ cmd: ["bun", join(repoRoot, "bench/baselines/fsync.ts"), "--dir", dir] });
  return JSON.parse(out.trim().split("\n").at(-1)!) as DiskFigure;
}
