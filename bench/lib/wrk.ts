/**
 * @module bench/lib/wrk. Runs wrk (Debian's package) against a URL with one of the Lua scripts in
 * bench/lua/ (each runnable by hand, see its header) and parses its throughput and latency
 * percentiles. Benchmarks only: wrk is not needed by the tests.
 *
 * `okPerSec` counts only 2xx/3xx answers: wrk's own Requests/sec includes errors, and a server
 * that answers 503 fast must not look fast.
 */

import { join } from "node:path";

export interface WrkResult {
  /** wrk's Requests/sec (every answer, errors included). */
  requestsPerSec: number;
  /** Answers with a 2xx or 3xx status per second. */
  okPerSec: number;
  requests: number;
  seconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

export function haveWrk(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n;
}

function percentile(text: string, p: number): number {
  const match = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(text);
  return match ? toMs(match[1]!, match[2]!) : NaN;
}

export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (!rps || !total) throw new Error(`cannot parse wrk output:\n${text}`);
  const requests = Number(total[1]);
  const seconds = toMs(total[2]!, total[3]!) / 1000;
  const bad = non2xx ? Number(non2xx[1]) : 0;
  return {
    requestsPerSec: Number(rps[1]),
    okPerSec: (requests - bad) / seconds,
    requests,
    seconds,
    p50Ms: percentile(text, 50),
    p90Ms: percentile(text, 90),
    p99Ms: percentile(text, 99),
    non2xx: bad,
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** A Lua script of bench/lua/ and the arguments wrk passes to its init(). */
export interface WrkScript {
  file: string;
  args: string[];
}

export interface WrkOptions {
  url: string;
  script: WrkScript;
  connections: number;
  /** Whole seconds: wrk's -d takes no fractions. */
  seconds: number;
  threads?: number;
}

const luaDir = join(import.meta.dir, "..", "lua");

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const cmd = ["wrk", `-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.seconds}s`, "--timeout", "10s", "--latency", "-s", join(luaDir, options.script.file), options.url, "--", ...options.script.args];
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [text, errText] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(" ")} exited with ${proc.exitCode}: ${errText}${text}`);
  return parseWrk(text);
}

/** PUT /kv/<prefix><thread>-<n> with `valueBytes`-byte bodies: a new key per request (bench/lua/put.lua). */
export function putScript(valueBytes: number, prefix = "bench/"): WrkScript {
  return { file: "put.lua", args: [prefix, String(valueBytes)] };
}

/** GET /kv/<prefix><n><query> for n drawn uniformly from [0, keys) (bench/lua/get.lua). */
export function getScript(keys: number, prefix: string, query = ""): WrkScript {
  return { file: "get.lua", args: [prefix, String(keys), ...(query ? [query] : [])] };
}

/** etcd v3 JSON-gateway puts of `valueBytes`-byte values over 4096 rotating keys (bench/lua/etcd-put.lua). */
export function etcdPutScript(valueBytes: number, prefix = "bench/"): WrkScript {
  return { file: "etcd-put.lua", args: [prefix, String(valueBytes)] };
}
