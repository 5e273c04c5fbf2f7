/**
 * @module bench/cluster-ab. Measures one change to the 3-node cluster: a cluster of an older
 * commit (A) and one of this working tree (B) run at the same time, and wrk PUT slices (64
 * connections, 100-byte values, new keys) go to A's and B's leader (or a follower) in alternating
 * order (A B, B A, A B, ...), so both meet the same load from the machine's other work. Reports
 * per process the CPU per write (from /proc) and the rate of each slice, their medians, and the
 * median of the per-slice B/A ratios: on a shared 2-core machine a slice's figures swing with
 * everything else that runs, a pair of neighbouring slices much less.
 *
 *   bun bench/cluster-ab.ts REF [--slices 16] [--seconds 3] [--follower] [--env-b KEY=VALUE ...]
 *
 * --env-b: environment of B's three nodes only (with REF = HEAD: a runtime setting measured alone).
 *
 * REF is any git commit-ish; its tree is extracted (bench/lib/proc.ts extractCommit), and its own
 * bench/lib starts its cluster.
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds, envPairs, extractCommit, median, repoRoot } from "./lib/proc.ts";
import type { ScribeCluster, ScribeNode } from "./lib/scribe.ts";
import { putScript, runWrk } from "./lib/wrk.ts";

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { slices: { type: "string", default: "16" }, seconds: { type: "string", default: "3" }, follower: { type: "boolean", default: false }, "env-b": { type: "string", multiple: true, default: [] } },
  allowPositionals: true,
});
const ref = positionals[0];
if (!ref) {
  console.error("usage: bun bench/cluster-ab.ts REF [--slices 16] [--seconds 3] [--follower]");
  process.exit(2);
}
const slices = Number(values.slices);
const sliceSeconds = Number(values.seconds);
const connections = 64;
const envB = envPairs(values["env-b"] as string[]);
const valueBytes = 100;

interface Side {
  name: string;
  cluster: ScribeCluster;
  target: ScribeNode;
  /** Leader first, then the two followers. */
  pids: number[];
  slices: { rate: number; p99Ms: number; leaderUs: number; followerUs: number; totalUs: number }[];
}

async function side(name: string, root: string, env?: Record<string, string>): Promise<Side> {
  const { startCluster } = (await import(join(root, "bench", "lib", "scribe.ts"))) as typeof import("./lib/scribe.ts");
  const cluster = await startCluster({ size: 3, env });
  const leader = await cluster.leader();
  const followers = cluster.nodes.filter((n) => n.id !== leader.id);
  return { name, cluster, target: values.follower ? followers[0]! : leader, pids: [leader.pid, ...followers.map((f) => f.pid)], slices: [] };
}

async function slice(s: Side, round: number): Promise<void> {
  const before = s.pids.map(cpuSeconds);
  const r = await runWrk({ url: s.target.url, script: putScript(valueBytes, `${s.name}${round}/`), connections, seconds: sliceSeconds });
  const writes = r.okPerSec * r.seconds;
  const us = s.pids.map((pid, i) => ((cpuSeconds(pid) - before[i]!) * 1e6) / writes);
  s.slices.push({ rate: r.okPerSec, p99Ms: r.p99Ms, leaderUs: us[0]!, followerUs: (us[1]! + us[2]!) / 2, totalUs: us[0]! + us[1]! + us[2]! });
}

const old = await extractCommit(ref);
const sides: Side[] = [];
try {
  // One at a time: a side that fails to start must not leave the one before it running.
  sides.push(await side("a", old.path));
  sides.push(await side("b", repoRoot, envB));
  const [a, b] = sides as [Side, Side];
  for (const s of sides) await runWrk({ url: s.target.url, script: putScript(valueBytes, `warm-${s.name}/`), connections, seconds: 3 });
  for (let round = 0; round < slices; round++) {
    for (const s of round % 2 === 0 ? [a, b] : [b, a]) await slice(s, round);
    const [x, y] = [a.slices[round]!, b.slices[round]!];
    console.log(`slice ${round}: A ${x.rate.toFixed(0)}/s, CPU µs/write leader ${x.leaderUs.toFixed(0)} follower ${x.followerUs.toFixed(0)} total ${x.totalUs.toFixed(0)} | B ${y.rate.toFixed(0)}/s, leader ${y.leaderUs.toFixed(0)} follower ${y.followerUs.toFixed(0)} total ${y.totalUs.toFixed(0)}`);
  }
  console.log(`\n${slices} slices of ${sliceSeconds} s each, PUT to ${values.follower ? "a follower" : "the leader"}, load average ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]}`);
  for (const [s, label] of [
    [a, ref],
    [b, "working tree"],
  ] as const) {
    const m = (f: (x: Side["slices"][number]) => number) => median(s.slices.map(f));
    console.log(`${s.name.toUpperCase()} ${label.padEnd(14)} ${m((x) => x.rate).toFixed(0)} puts/s, p99 ${m((x) => x.p99Ms).toFixed(1)} ms; CPU µs/write leader ${m((x) => x.leaderUs).toFixed(1)}, follower ${m((x) => x.followerUs).toFixed(1)}, total ${m((x) => x.totalUs).toFixed(1)} (medians)`);
  }
  const ratio = (f: (x: Side["slices"][number]) => number) => median(a.slices.map((x, i) => f(b.slices[i]!) / f(x))).toFixed(3);
  console.log(`B/A, median of the per-slice ratios: CPU per write total ${ratio((x) => x.totalUs)}, leader ${ratio((x) => x.leaderUs)}, follower ${ratio((x) => x.followerUs)}; rate ${ratio((x) => x.rate)}`);
} finally {
  await Promise.all(sides.map((s) => s.cluster.stop("SIGKILL")));
  old.remove();
}
