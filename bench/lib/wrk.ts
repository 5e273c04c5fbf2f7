/**
 * @module wrk. Runs wrk (Debian's package) against a URL with a Lua script and parses its
 * throughput and latency percentiles. Benchmarks only: wrk is not needed by the tests.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

export function haveWrk(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(text);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (!rps || !p50 || !p99) throw new Error(`cannot parse wrk output:\n${text}`);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

export interface WrkOptions {
  url: string;
  lua: string;
  connections: number;
  seconds: number;
  threads?: number;
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "scribe-wrk-"));
  const script = join(dir, "script.lua");
  writeFileSync(script, options.lua);
  const proc = Bun.spawn(["wrk", `-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.seconds}s`, "--latency", "-s", script, options.url], { stdout: "pipe", stderr: "pipe" });
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  return parseWrk(text);
}

/** A Lua script sending PUT /kv/<prefix><n> with a fixed body of `valueBytes` bytes. */
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

/** A Lua script sending etcd v3 JSON-gateway puts of `valueBytes` bytes (base64 in JSON). */
export function etcdPutLua(valueBytes: number): string {
  const value = Buffer.from("v".repeat(valueBytes)).toString("base64");
  const key = Buffer.from("bench/key").toString("base64");
  return `
wrk.method = "POST"
wrk.path = "/v3/kv/put"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"key":"${key}","value":"${value}"}'
`;
}
