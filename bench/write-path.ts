/**
 * @module bench/write-path. The node's own work per operation, without sockets and without wrk:
 * a node started as `scribe-node` starts it (startServer) serves requests through
 * `app.handle(new Request(...))` in rounds of a fixed number of concurrent requests, so every
 * group commit holds the same number of writes whatever else the machine does. It prints the
 * process's CPU per operation (process.cpuUsage) and the rate, as one JSON line: steadier than
 * a wrk load on a shared machine, though it leaves out Bun's native HTTP parsing and writing.
 * bench/ab.ts --inproc runs it for two commits side by side.
 *
 *   bun bench/write-path.ts put|get|batch [--seconds 8] [--warmup 2] [--concurrency 64] [--ops 1000]
 *
 * put: rounds of `concurrency` PUT /kv/<new key> of 100 B. get: rounds of `concurrency` GET of
 * 1,000 preloaded keys (default consistency). batch: rounds of 2 POST /batch of `ops` new keys.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/index.ts";
import { createLogger } from "../src/cluster/logger.ts";
import { startServer } from "../src/cluster/server.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { seconds: { type: "string", default: "8" }, warmup: { type: "string", default: "2" }, concurrency: { type: "string", default: "64" }, ops: { type: "string", default: "1000" } },
  allowPositionals: true,
});
const mode = positionals[0];
if (mode !== "put" && mode !== "get" && mode !== "batch") {
  console.error("usage: bun bench/write-path.ts put|get|batch [--seconds 8] [--warmup 2] [--concurrency 64] [--ops 1000]");
  process.exit(2);
}
const concurrency = mode === "batch" ? 2 : Number(values.concurrency);
const batchOps = Number(values.ops);
const value = "v".repeat(100);

const dir = mkdtempSync(join(tmpdir(), "scribe-write-path-"));
const config = loadConfig({ overrides: { "node.data_dir": dir, "network.client_port": 0, "network.raft_port": 0, "logging.level": "warn" } });
const running = await startServer(config, createLogger({ ...config.logging, level: "silent" }));
const base = "http://127.0.0.1";
let serial = 0;

function batchBody(): string {
  const ops: string[] = [];
  for (let i = 0; i < batchOps; i++) ops.push(`{"op":"put","key":"b/${serial++}","value":"${value}"}`);
  return `{"ops":[${ops.join(",")}]}`;
}

/** One round: `concurrency` requests at once; returns the operations done. */
async function round(): Promise<number> {
  const requests: Promise<Response>[] = [];
  for (let i = 0; i < concurrency; i++) {
    let request: Request;
    // Bodies carry their content-length, as wrk's and every HTTP/1.1 client's do.
    if (mode === "put") request = new Request(`${base}/kv/p/${serial++}`, { method: "PUT", body: value, headers: { "content-type": "application/octet-stream", "content-length": String(value.length) } });
    else if (mode === "get") request = new Request(`${base}/kv/g/${(serial++ * 7919) % 1000}`);
    else {
      const body = batchBody();
      request = new Request(`${base}/batch`, { method: "POST", body, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) } });
    }
    requests.push(Promise.resolve(running.app.handle(request)));
  }
  const responses = await Promise.all(requests);
  for (const r of responses) {
    if (r.status !== 200) throw new Error(`${mode} answered ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  }
  return mode === "batch" ? concurrency * batchOps : concurrency;
}

async function run(seconds: number): Promise<{ ops: number; seconds: number; cpuSeconds: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let ops = 0;
  while (performance.now() - started < seconds * 1000) ops += await round();
  const used = process.cpuUsage(cpu);
  return { ops, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

try {
  if (mode === "get") {
    for (let first = 0; first < 1000; first += 500) {
      const ops = Array.from({ length: 500 }, (_, i) => `{"op":"put","key":"g/${first + i}","value":"${value}"}`);
      const r = await running.app.handle(new Request(`${base}/batch`, { method: "POST", body: `{"ops":[${ops.join(",")}]}` }));
      if (r.status !== 200) throw new Error(`preload answered ${r.status}`);
    }
  }
  await run(Number(values.warmup));
  const measured = await run(Number(values.seconds));
  console.log(JSON.stringify({ mode, concurrency, ops: measured.ops, ops_per_sec: measured.ops / measured.seconds, cpu_us_per_op: (measured.cpuSeconds * 1e6) / measured.ops }));
} finally {
  await running.stop();
  rmSync(dir, { recursive: true, force: true });
}
