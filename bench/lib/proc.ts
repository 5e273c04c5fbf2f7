/**
 * @module bench/lib/proc. Child processes for the benchmarks: free ports, temporary directories,
 * spawning with a bounded output buffer, stopping by PID, and the CPU time a process has used
 * (from /proc, so a server's CPU per operation can be reported beside its throughput).
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "..", "..");

/** Bytes of a child's output kept for error messages: the tail is what explains a failure. */
const outputBytesMax = 64 * 1024;

/**
 * Environment every process the benchmarks start gets, under its own: the allocator setting the
 * node gives itself (src/allocator.ts, MIMALLOC_PURGE_DELAY=-1), so the Bun baselines run with
 * what the node runs with (it measured 0.99x CPU per operation for them: docs/PERFORMANCE.md).
 * Not imported from src/allocator.ts, which re-executes the process that loads it.
 */
export const benchEnv: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: "-1" };

/**
 * A port that was free a moment ago, below the kernel's ephemeral range (wrk's 64 connections and
 * the nodes' to each other take their local ports from that range; etcd once failed to start with
 * "address already in use" on a port found free there). The tests' harness, shared.
 */
export { freePort } from "../../test/support/node-process.ts";

export interface TempDir {
  path: string;
  remove(): void;
}

/** A fresh directory under the system temp dir (on this machine: the same ext4 disk as /work). */
export function tempDir(prefix = "scribe-bench-", parent = tmpdir()): TempDir {
  const path = mkdtempSync(join(parent, prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A fresh directory in memory (/dev/shm, when it is a tmpfs), else under the system temp dir;
 * `where` says which. For the test S3 server's files: it stands in for an S3 service on other
 * machines, and on this machine's ext4 each file it creates can cost 0.2-0.6 ms of kernel CPU,
 * depending on how many files were deleted nearby just before (docs/PERFORMANCE.md section 3).
 */
export function memoryTempDir(prefix: string): TempDir & { where: string } {
  let mounts = "";
  try {
    mounts = readFileSync("/proc/mounts", "utf8");
  } catch {
    // not Linux: no /dev/shm to check
  }
  if (/^\S+ \/dev\/shm tmpfs /m.test(mounts)) {
    try {
      return { ...tempDir(prefix, "/dev/shm"), where: "tmpfs /dev/shm" };
    } catch (error) {
      return { ...tempDir(prefix), where: `disk (${tmpdir()}; /dev/shm: ${(error as Error).message})` };
    }
  }
  return { ...tempDir(prefix), where: `disk (${tmpdir()}; no tmpfs at /dev/shm)` };
}

export interface Child {
  pid: number;
  proc: ReturnType<typeof Bun.spawn>;
  /** The last `outputBytesMax` bytes the process wrote to stdout and stderr. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number>;
  running(): boolean;
  /** Sends `signal`; if the process is still alive after `graceMs`, SIGKILL. Resolves on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number>;
}

/** `bun`, under `--cpu-prof` writing into `cpuProfDir` when given (the profile is written on a clean exit). */
export function bunCommand(cpuProfDir?: string): string[] {
  return cpuProfDir ? ["bun", "--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : ["bun"];
}

export interface SpawnOptions {
  cmd: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export function spawnChild(options: SpawnOptions): Child {
  const proc = Bun.spawn(options.cmd, {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...benchEnv, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      if (text.length > outputBytesMax * 2) text = text.slice(-outputBytesMax);
    }
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  const running = () => proc.exitCode === null && proc.signalCode === null;
  return {
    pid: proc.pid,
    proc,
    output: () => text.slice(-outputBytesMax),
    exited: proc.exited,
    running,
    stop: async (signal = "SIGTERM", graceMs = 10_000) => {
      if (running()) process.kill(proc.pid, signal);
      const timer = setTimeout(() => {
        if (running()) process.kill(proc.pid, "SIGKILL");
      }, graceMs);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs a command to completion and returns its stdout; throws with its output if it fails. */
export async function runToEnd(options: SpawnOptions): Promise<string> {
  const proc = Bun.spawn(options.cmd, { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...benchEnv, ...options.env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${options.cmd.join(" ")} exited with ${code}:\n${stdout}\n${stderr}`);
  return stdout;
}

/** Polls `probe` every `intervalMs` until it returns true; throws `what` after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}

let clockTicksPerSecond: number | undefined;

/** User + system CPU seconds in a /proc `stat` file (of a process or one of its threads); 0 if it is gone. */
function statCpuSeconds(path: string): number {
  clockTicksPerSecond ??= Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  try {
    const stat = readFileSync(path, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system, all threads) a process has used so far; 0 if it is gone. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * CPU seconds used so far by those threads of a process whose name (`/proc/PID/task/TID/comm`)
 * is `name`, live ones only (Bun names a Worker's thread "Worker").
 */
export function threadCpuSeconds(pid: number, name: string): number {
  let sum = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (comm === name) sum += statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
  }
  return sum;
}

/** CPU seconds used so far by a process's main thread (its JavaScript thread: the TID that is its PID). */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/** The machine's CPU time so far, all cores: total and idle (idle + iowait) jiffies from /proc/stat. */
export function machineCpuTicks(): { total: number; idle: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3]! + fields[4]! };
}

/** Sum of cpuSeconds over several processes. */
export function cpuSecondsOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `KEY=VALUE` arguments (an `--env` flag's values) as an environment object; the value may hold "=". */
export function envPairs(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

/** The value of `--name VALUE` in `args`, or undefined. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Extracts `commit`'s tree into a temporary directory that can run `src/main.ts` and its bench/ (bench/ab.ts, bench/cluster-ab.ts). */
export async function extractCommit(commit: string): Promise<TempDir> {
  const dir = tempDir("scribe-ab-");
  await runToEnd({ cmd: ["sh", "-c", `git -C "${repoRoot}" archive "${commit}" | tar -x -C "${dir.path}"`] });
  symlinkSync(join(repoRoot, "node_modules"), join(dir.path, "node_modules"));
  return dir;
}
