/**
 * @module bench/cluster. A 3-node Scribe cluster on loopback (three `bun src/main.ts --config
 * nodeN.toml --bootstrap` processes, configured like scripts/cluster/), durable PUT with wrk (64
 * connections, 100-byte values, a new key per request) through the leader and through a
 * follower, side by side with a 3-member etcd 3.4 on loopback loaded through its leader in the
 * same run. Reports throughput, p50/p99 and the CPU each process used per write.
 *
 *   bun bench/cluster.ts [--seconds 10]
 */

import { haveEtcd } from "./lib/etcd.ts";
import type { ClusterFigures, LoadFigure } from "./lib/figures.ts";
import { flagValue } from "./lib/proc.ts";
import { startCluster } from "./lib/scribe.ts";
import { haveWrk, scribePutLua } from "./lib/wrk.ts";
import { connections, describeLoad, etcdPut, valueBytes, wrkFigure, type SectionOptions } from "./single.ts";

function describeCpu(f: LoadFigure): string {
  return Object.entries(f.cpu_us_per_op_by_process ?? {})
    .map(([name, us]) => `${name} ${us.toFixed(0)}`)
    .join(", ");
}

export async function benchCluster(options: SectionOptions): Promise<ClusterFigures> {
  const log = options.log;
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install -y wrk): the cluster loads need it");
  log(`\n== 3-node cluster: durable PUT, ${valueBytes}-byte values, ${connections} connections, ${options.warmupSeconds}s warm-up + ${options.seconds}s each ==`);
  const cluster = await startCluster({ size: 3 });
  let leader: LoadFigure;
  let follower: LoadFigure;
  try {
    const leaderNode = await cluster.leader();
    const followerNode = cluster.nodes.find((n) => n.id !== leaderNode.id)!;
    const pids = cluster.nodes.map((n) => n.pid);
    const role = (entry: number) => cluster.nodes.map((n) => `node${n.id}_${n.id === leaderNode.id ? "leader" : "follower"}${n.id === entry ? "_entry" : ""}`);
    leader = await wrkFigure(leaderNode.url, pids, scribePutLua(valueBytes, "leader/"), scribePutLua(valueBytes, "warm-leader/"), options, role(leaderNode.id));
    log(describeLoad("scribe 3 nodes, to the leader", leader, "puts/s"));
    log(`  cpu us per write: ${describeCpu(leader)}`);
    if ((await cluster.leader()).id !== leaderNode.id) log("  note: leadership moved during the leader run");
    follower = await wrkFigure(followerNode.url, pids, scribePutLua(valueBytes, "follower/"), scribePutLua(valueBytes, "warm-follower/"), options, role(followerNode.id));
    log(describeLoad("scribe 3 nodes, via a follower", follower, "puts/s"));
    log(`  cpu us per write: ${describeCpu(follower)}`);
  } finally {
    await cluster.stop("SIGKILL");
  }
  if (!haveEtcd()) {
    log("etcd is not installed (apt-get install -y etcd-server): no etcd baseline");
    return { leader, follower };
  }
  const etcd3 = await etcdPut(3, options);
  log(describeLoad("etcd 3.4, 3 members, via its leader", etcd3, "puts/s"));
  log("  (cpu us/op: all three processes together, per acknowledged write)");
  return { leader, follower, etcd_3: etcd3 };
}

if (import.meta.main) {
  const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
  console.log(JSON.stringify(await benchCluster({ seconds, warmupSeconds: Math.min(3, Math.ceil(seconds / 3)), log: console.log }), null, 2));
}
