/**
 * @module bench/lib/batch-load. The load wrk cannot express: `clients` concurrent loops, each
 * sending POST /batch of `ops` puts of `valueBytes`-byte values with new keys, the next request
 * as soon as the previous one answered, for `seconds` (after `warmupSeconds` not counted).
 * Runs in its own process (`runBatchLoad` spawns it) so its JSON building does not share the
 * orchestrator's event loop.
 *
 *   bun bench/lib/batch-load.ts --url URL [--clients 2] [--ops 1000] [--value-bytes 100] [--seconds 10] [--warmup 2] [--prefix b]
 *
 * Prints one JSON line (BatchLoadResult).
 */

import { flagValue, median, repoRoot, runToEnd } from "./proc.ts";

export interface BatchLoadOptions {
  url: string;
  clients: number;
  ops: number;
  valueBytes: number;
  seconds: number;
  warmupSeconds: number;
  /** Key prefix; every key is `<prefix>/<client>/<n>`, new for every op. */
  prefix: string;
}

export interface BatchLoadResult {
  requests: number;
  entries: number;
  failures: number;
  seconds: number;
  entries_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  /** The first failure's status and body, if any. */
  first_failure?: string;
}

/** Runs the batch load in a child process and returns its result. */
export async function runBatchLoad(options: BatchLoadOptions): Promise<BatchLoadResult> {
  const stdout = await runToEnd({
    cmd: ["bun", `${repoRoot}/bench/lib/batch-load.ts`, "--url", options.url, "--clients", String(options.clients), "--ops", String(options.ops), "--value-bytes", String(options.valueBytes), "--seconds", String(options.seconds), "--warmup", String(options.warmupSeconds), "--prefix", options.prefix],
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as BatchLoadResult;
}

/** Distinct values the client rotates through: enough that segments compress like real records. */
const valuePoolSize = 1024;

/**
 * JSON-document-like values of exactly `valueBytes` ASCII bytes (shared field names, varying
 * numbers and words), each already a JSON string literal: compressible about as much as the
 * NDJSON records of the shared MEASURED.md, unlike a run of one repeated byte.
 */
export function valuePool(valueBytes: number): string[] {
  const words = ["alpha", "beta", "gamma", "delta", "order", "user", "payment", "status", "created", "shipped", "EUR", "USD"];
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  return Array.from({ length: valuePoolSize }, (_, i) => {
    let text = `{"id":${i},"user":"u${next(100_000)}","amount":${next(1_000_000)},"status":"${words[next(words.length)]}"`;
    while (text.length < valueBytes) text += `,"${words[next(words.length)]}":"${next(1e9).toString(36)}"`;
    return JSON.stringify(text.slice(0, valueBytes));
  });
}

function batchBody(prefix: string, client: number, first: number, ops: number, values: readonly string[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ops; i++) parts.push(`{"op":"put","key":"${prefix}/${client}/${first + i}","value":${values[(first + i) % values.length]}}`);
  return `{"ops":[${parts.join(",")}]}`;
}

async function load(options: BatchLoadOptions): Promise<BatchLoadResult> {
  const values = valuePool(options.valueBytes);
  const latenciesMs: number[] = [];
  let requests = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const warmupEnd = performance.now() + options.warmupSeconds * 1000;
  let deadline = 0;
  const loop = async (client: number, measured: boolean) => {
    let n = measured ? 1_000_000_000 : 0;
    const until = measured ? deadline : warmupEnd;
    while (performance.now() < until) {
      const body = batchBody(options.prefix, client, n, options.ops, values);
      n += options.ops;
      const started = performance.now();
      const response = await fetch(`${options.url}/batch`, { method: "POST", body, headers: { "content-type": "application/json" } });
      const text = await response.text();
      if (!measured) continue;
      if (response.status === 200) {
        requests++;
        latenciesMs.push(performance.now() - started);
      } else {
        failures++;
        firstFailure ??= `${response.status} ${text.slice(0, 300)}`;
      }
    }
  };
  const clients = Array.from({ length: options.clients }, (_, i) => i);
  if (options.warmupSeconds > 0) await Promise.all(clients.map((c) => loop(c, false)));
  const measureStart = performance.now();
  deadline = measureStart + options.seconds * 1000;
  await Promise.all(clients.map((c) => loop(c, true)));
  const seconds = (performance.now() - measureStart) / 1000;
  latenciesMs.sort((a, b) => a - b);
  return {
    requests,
    entries: requests * options.ops,
    failures,
    seconds,
    entries_per_sec: (requests * options.ops) / seconds,
    p50_ms: median(latenciesMs),
    p99_ms: latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * 0.99))] ?? NaN,
    ...(firstFailure ? { first_failure: firstFailure } : {}),
  };
}

if (import.meta.main) {
  const url = flagValue(Bun.argv, "url");
  if (!url) {
    console.error("usage: bun bench/lib/batch-load.ts --url URL [--clients 2] [--ops 1000] [--value-bytes 100] [--seconds 10] [--warmup 2] [--prefix b]");
    process.exit(2);
  }
  const result = await load({
    url,
    clients: Number(flagValue(Bun.argv, "clients") ?? 2),
    ops: Number(flagValue(Bun.argv, "ops") ?? 1000),
    valueBytes: Number(flagValue(Bun.argv, "value-bytes") ?? 100),
    seconds: Number(flagValue(Bun.argv, "seconds") ?? 10),
    warmupSeconds: Number(flagValue(Bun.argv, "warmup") ?? 2),
    prefix: flagValue(Bun.argv, "prefix") ?? "b",
  });
  console.log(JSON.stringify(result));
}
