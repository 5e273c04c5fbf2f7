/**
 * Single-node durable PUT throughput and latency over HTTP (wrk, 64 connections, 100-byte
 * values), side by side with a single-member etcd 3.4 measured in the same run.
 *   bun bench/http.ts [--seconds 10]
 */

import { spawnNode, tempDir } from "../test/support/node-process.ts";
import { haveEtcd, startEtcd } from "./lib/etcd.ts";
import { etcdPutLua, haveWrk, runWrk, scribePutLua, type WrkResult } from "./lib/wrk.ts";

const seconds = Number(Bun.argv[Bun.argv.indexOf("--seconds") + 1] || 10) || 10;
const connections = 64;
const valueBytes = 100;

function row(name: string, r: WrkResult): string {
  return `${name.padEnd(28)} ${r.requestsPerSec.toFixed(0).padStart(9)} puts/s   p50 ${r.p50Ms.toFixed(2).padStart(6)} ms   p99 ${r.p99Ms.toFixed(2).padStart(6)} ms   errors ${r.non2xx + r.errors}`;
}

export async function benchHttp(): Promise<void> {
  if (!haveWrk()) {
    console.log("bench/http: wrk is not installed (apt-get install -y wrk); skipped");
    return;
  }
  console.log(`\n== single node: durable PUT, ${valueBytes}-byte values, ${connections} connections, ${seconds}s each ==`);
  const dir = tempDir();
  const node = await spawnNode({ dataDir: dir.path, env: { SCRIBE_LOGGING_LEVEL: "warn" } });
  let scribe: WrkResult;
  try {
    scribe = await runWrk({ url: node.url, lua: scribePutLua(valueBytes), connections, seconds });
  } finally {
    await node.kill("SIGKILL");
    dir.remove();
  }
  console.log(row("scribe (1 node, fsync)", scribe));
  if (!haveEtcd()) {
    console.log("etcd is not installed (apt-get install -y etcd-server); no baseline");
    return;
  }
  const etcd = await startEtcd(1, 23790);
  let baseline: WrkResult;
  try {
    baseline = await runWrk({ url: etcd.clientUrls[0]!, lua: etcdPutLua(valueBytes), connections, seconds });
  } finally {
    await etcd.stop();
  }
  console.log(row("etcd 3.4 (1 member)", baseline));
  console.log(`ratio scribe/etcd: ${(scribe.requestsPerSec / baseline.requestsPerSec).toFixed(2)}x puts/s, p99 ${(scribe.p99Ms / baseline.p99Ms).toFixed(2)}x`);
}

if (import.meta.main) await benchHttp();
