/**
 * 3-node cluster durable PUT throughput and latency (wrk, 64 connections, 100-byte values),
 * side by side with a 3-member etcd 3.4 on loopback measured in the same run.
 *   bun bench/cluster.ts [--seconds 10]
 */

import { TestCluster } from "../test/support/cluster.ts";
import { haveEtcd, startEtcd } from "./lib/etcd.ts";
import { etcdPutLua, haveWrk, runWrk, scribePutLua, type WrkResult } from "./lib/wrk.ts";

const seconds = Number(Bun.argv[Bun.argv.indexOf("--seconds") + 1] || 10) || 10;
const connections = 64;
const valueBytes = 100;

function row(name: string, r: WrkResult): string {
  return `${name.padEnd(34)} ${r.requestsPerSec.toFixed(0).padStart(9)} puts/s   p50 ${r.p50Ms.toFixed(2).padStart(6)} ms   p99 ${r.p99Ms.toFixed(2).padStart(6)} ms   errors ${r.non2xx + r.errors}`;
}

if (!haveWrk()) {
  console.log("bench/cluster: wrk is not installed (apt-get install -y wrk); skipped");
  process.exit(0);
}
console.log(`\n== 3-node cluster: durable PUT, ${valueBytes}-byte values, ${connections} connections, ${seconds}s each ==`);
const cluster = new TestCluster({ size: 3, tickMs: 50, electionMinMs: 1000, env: { SCRIBE_LOGGING_LEVEL: "warn" } });
let leaderRun: WrkResult;
let followerRun: WrkResult;
try {
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((n) => n.id !== leader)!;
  leaderRun = await runWrk({ url: cluster.node(leader).url, lua: scribePutLua(valueBytes, "leader/"), connections, seconds });
  followerRun = await runWrk({ url: follower.url, lua: scribePutLua(valueBytes, "follower/"), connections, seconds });
} finally {
  await cluster.stop();
}
console.log(row("scribe 3 nodes, to the leader", leaderRun));
console.log(row("scribe 3 nodes, via a follower", followerRun));
if (!haveEtcd()) {
  console.log("etcd is not installed (apt-get install -y etcd-server); no baseline");
  process.exit(0);
}
const etcd = await startEtcd(3, 23800);
let baseline: WrkResult;
try {
  baseline = await runWrk({ url: etcd.clientUrls[0]!, lua: etcdPutLua(valueBytes), connections, seconds });
} finally {
  await etcd.stop();
}
console.log(row("etcd 3.4, 3 members", baseline));
console.log(`ratio scribe(leader)/etcd: ${(leaderRun.requestsPerSec / baseline.requestsPerSec).toFixed(2)}x puts/s, p99 ${(leaderRun.p99Ms / baseline.p99Ms).toFixed(2)}x`);
console.log(`ratio scribe(follower)/etcd: ${(followerRun.requestsPerSec / baseline.requestsPerSec).toFixed(2)}x puts/s, p99 ${(followerRun.p99Ms / baseline.p99Ms).toFixed(2)}x`);
