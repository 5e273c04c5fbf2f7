/**
 * @module bench/cluster. A 3-node Scribe cluster on loopback (three `bun src/main.ts --config
 * nodeN.toml --bootstrap` processes, configured like scripts/cluster/), durable PUT with wrk (64
 * connections, 100-byte values, a new key per request) through the leader and through a
 * follower, side by side with a 3-member etcd 3.4 on loopback loaded through its leader. Both
 * clusters run at once and are loaded in alternating slices (bench/lib/alternate.ts). Reports
 * throughput, p50/p99 and the CPU each process used per write.
 *
 *   bun bench/cluster.ts [--seconds 10]
 */

import { alternate, combine, slicesFor, wrkSlice, type Slice } from "./lib/alternate.ts";
import { haveEtcd, startEtcd, type EtcdCluster } from "./lib/etcd.ts";
import type { ClusterFigures, LoadFigure } from "./lib/figures.ts";
import { flagValue } from "./lib/proc.ts";
import { startCluster } from "./lib/scribe.ts";
import { etcdPutScript, haveWrk, putScript } from "./lib/wrk.ts";
import { connections, describeLoad, valueBytes, warmUp, type SectionOptions } from "./single.ts";

function describeCpu(f: LoadFigure): string {
  return Object.entries(f.cpu_us_per_op_by_process ?? {})
    .map(([name, us]) => `${name} ${us.toFixed(0)}`)
    .join(", ");
}

export async function benchCluster(options: SectionOptions): Promise<ClusterFigures> {
  const log = options.log;
  if (!haveWrk()) throw new Error("wrk is not installed (apt-get install -y wrk): the cluster loads need it");
  const { slices, sliceSeconds } = slicesFor(options.seconds);
  log(`\n== 3-node cluster: durable PUT, ${valueBytes}-byte values, ${connections} connections; ${options.warmupSeconds}s warm-up, then ${slices * sliceSeconds}s each in ${slices} alternating slices ==`);
  const cluster = await startCluster({ size: 3 });
  let etcd: EtcdCluster | undefined;
  try {
    if (haveEtcd()) etcd = await startEtcd(3);
    else log("etcd is not installed (apt-get install -y etcd-server): no etcd baseline");
    const etcdUrl = etcd ? await etcd.leaderUrl() : "";
    const leaderNode = await cluster.leader();
    const followerNode = cluster.nodes.find((n) => n.id !== leaderNode.id)!;
    const pids = cluster.nodes.map((n) => n.pid);
    const names = (entry: number) => cluster.nodes.map((n) => `node${n.id}_${n.id === leaderNode.id ? "leader" : "follower"}${n.id === entry ? "_entry" : ""}`);
    await warmUp(leaderNode.url, putScript(valueBytes, "warm-leader/"), options);
    await warmUp(followerNode.url, putScript(valueBytes, "warm-follower/"), options);
    if (etcd) await warmUp(etcdUrl, etcdPutScript(valueBytes, "w/"), options);
    const loads: Record<string, (round: number) => Promise<Slice>> = {
      leader: (round) => wrkSlice(leaderNode.url, pids, putScript(valueBytes, `leader${round}/`), connections, sliceSeconds),
      follower: (round) => wrkSlice(followerNode.url, pids, putScript(valueBytes, `follower${round}/`), connections, sliceSeconds),
    };
    if (etcd) loads.etcd = (round) => wrkSlice(etcdUrl, etcd!.pids, etcdPutScript(valueBytes, `m${round}/`), connections, sliceSeconds);
    const measured = await alternate(slices, loads);
    if ((await cluster.leader()).id !== leaderNode.id) log("  note: Scribe's leadership moved during the run");
    const leader = combine(measured.leader!, names(leaderNode.id));
    const follower = combine(measured.follower!, names(followerNode.id));
    log(describeLoad("scribe 3 nodes, to the leader", leader, "puts/s"));
    log(`  cpu us per write: ${describeCpu(leader)}`);
    log(describeLoad("scribe 3 nodes, via a follower", follower, "puts/s"));
    log(`  cpu us per write: ${describeCpu(follower)}`);
    if (!etcd) return { leader, follower };
    const etcd3 = combine(measured.etcd!);
    log(describeLoad("etcd 3.4, 3 members, via its leader", etcd3, "puts/s"));
    log("  (cpu us/op: all three processes together, per acknowledged write)");
    return { leader, follower, etcd_3: etcd3 };
  } finally {
    await cluster.stop("SIGKILL");
    await etcd?.stop();
  }
}

if (import.meta.main) {
  const seconds = Number(flagValue(Bun.argv, "seconds") ?? 10);
  console.log(JSON.stringify(await benchCluster({ seconds, warmupSeconds: Math.min(3, Math.ceil(seconds / 3)), log: console.log }), null, 2));
}
