/**
 * @module bench/lib/wrk. Runs wrk (Debian's package) against a URL with a Lua script and parses
 * its throughput and latency percentiles. Benchmarks only: wrk is not needed by the tests.
 *
 * `okPerSec` counts only 2xx/3xx answers: wrk's own Requests/sec includes errors, and a server
 * that answers 503 fast must not look fast.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

export interface WrkOptions {
  url: string;
  lua: string;
  connections: number;
  /** Whole seconds: wrk's -d takes no fractions. */
  seconds: number;
  threads?: number;
}

async function wrkOnce(url: string, lua: string, connections: number, seconds: number, threads: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "scribe-wrk-"));
  try {
    const script = join(dir, "script.lua");
    writeFileSync(script, lua);
    // --timeout above the servers' own write timeouts would hide nothing: wrk counts a timeout as an error.
    const proc = Bun.spawn(["wrk", `-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe" });
    const [text, errText] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if ((await proc.exited) !== 0) throw new Error(`wrk -d${seconds}s exited with ${proc.exitCode}: ${errText}${text}`);
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  return parseWrk(await wrkOnce(options.url, options.lua, options.connections, options.seconds, options.threads ?? 1));
}

/** A Lua script sending PUT /kv/<prefix><n> (n = 1, 2, ...: a new key each) with a `valueBytes`-byte body. */
export function scribePutLua(valueBytes: number, prefix = "bench/"): string {
  return `
local body = string.rep("v", ${valueBytes})
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/kv/${prefix}" .. counter, { ["Content-Type"] = "application/octet-stream" }, body)
end
`;
}

/** A Lua script sending GET /kv/<prefix><n> for n drawn uniformly from [0, keys). */
export function getLua(keys: number, prefix: string, query = ""): string {
  return `
math.randomseed(7)
request = function()
  return wrk.format("GET", "/kv/${prefix}" .. math.random(0, ${keys - 1}) .. "${query}")
end
`;
}

/** etcd keys per script: rotating through this many distinct keys keeps the script small. */
const etcdKeysInScript = 4096;

/**
 * A Lua script sending etcd v3 JSON-gateway puts (POST /v3/kv/put, base64 key and value) of
 * `valueBytes`-byte values, rotating through `etcdKeysInScript` distinct keys.
 */
export function etcdPutLua(valueBytes: number, prefix = "bench/"): string {
  const value = Buffer.from("v".repeat(valueBytes)).toString("base64");
  const bodies = Array.from({ length: etcdKeysInScript }, (_, i) => `'{"key":"${Buffer.from(`${prefix}${i}`).toString("base64")}","value":"${value}"}'`);
  return `
local bodies = { ${bodies.join(",\n")} }
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, bodies[(counter % ${etcdKeysInScript}) + 1])
end
`;
}
