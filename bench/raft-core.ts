/**
 * @module bench/raft-core. Proposals committed per second by the pure Raft core alone: a 3-node
 * cluster in one process, in-memory storage, messages handed over directly (and, in the
 * "+codec" rows, through encodeMessage/decodeMessage as the TCP transport would). One sample =
 * the leader proposes a batch, and the cluster runs persist/send/apply/advance until every node
 * has applied it. The baseline is batch size 1 measured in the same run; rows print their ratio.
 *
 *   bun bench/raft-core.ts
 */

import { measure } from "mitata";
import { SeededRandom } from "../src/lib/index.ts";
import { MemoryStorage, RawNode, decodeMessage, encodeMessage, type Message } from "../src/raft/index.ts";

const valueBytes = 100;
const batchSizes = [1, 16, 256, 4096];
/** Keeps the in-memory logs bounded across millions of proposals. */
const compactEveryEntries = 50_000;

interface Cluster {
  nodes: RawNode[];
  storages: MemoryStorage[];
  applied: number[];
}

function makeCluster(): Cluster {
  const membership = { voters: [1, 2, 3], learners: [], index: 0 };
  const storages = [1, 2, 3].map(() => new MemoryStorage(membership));
  const nodes = [1, 2, 3].map(
    (id, i) =>
      new RawNode({ id, storage: storages[i]!, random: new SeededRandom(id), inflightMessagesMax: 256, messageBytesMax: 1 << 20 }),
  );
  const cluster = { nodes, storages, applied: [0, 0, 0] };
  nodes[0]!.campaign();
  drive(cluster, false);
  if (nodes[0]!.raft.role !== "leader") throw new Error("bench: node 1 did not become leader");
  return cluster;
}

/** Runs Ready loops and message delivery until nothing is left to do. */
function drive(cluster: Cluster, viaCodec: boolean): void {
  let queue: Message[] = [];
  for (let round = 0; round < 1000; round++) {
    for (let i = 0; i < 3; i++) {
      const node = cluster.nodes[i]!;
      if (!node.hasReady()) continue;
      const rd = node.ready();
      cluster.storages[i]!.applyReady(rd);
      for (const m of rd.messages) queue.push(viaCodec ? decodeMessage(encodeMessage(m)) : m);
      if (rd.committedEntries.length > 0) cluster.applied[i] = rd.committedEntries[rd.committedEntries.length - 1]!.index;
      node.advance(rd);
    }
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    for (const m of batch) cluster.nodes[m.to - 1]!.step(m);
  }
  throw new Error("bench: cluster did not quiesce");
}

function compact(cluster: Cluster): void {
  const applied = Math.min(...cluster.applied);
  for (const s of cluster.storages) if (applied - s.firstIndex() > compactEveryEntries) s.compact(applied - 1000);
}

const payload = new Uint8Array(valueBytes).fill(7);

async function measureBatch(batch: number, viaCodec: boolean): Promise<number> {
  const cluster = makeCluster();
  const data = Array.from({ length: batch }, () => payload);
  const leader = cluster.nodes[0]!;
  const stats = await measure(() => {
    const r = leader.propose(data);
    if (!r.ok) throw new Error(`bench: proposal refused: ${r.reason}`);
    drive(cluster, viaCodec);
    if (cluster.applied.some((a) => a < r.lastIndex)) throw new Error("bench: batch not applied everywhere");
    compact(cluster);
  }, { min_cpu_time: 1e9 }); // 1 s of samples per row: warms the JIT past its first tiers
  return stats.avg; // nanoseconds per batch
}

const rows: { name: string; perSecond: number }[] = [];
for (const viaCodec of [false, true]) {
  for (const batch of batchSizes) {
    const nsPerBatch = await measureBatch(batch, viaCodec);
    rows.push({ name: `batch ${String(batch).padStart(4)}${viaCodec ? " +codec" : ""}`, perSecond: (batch / nsPerBatch) * 1e9 });
  }
}
const baseline = rows[0]!.perSecond;
console.log(`raft core, 3 nodes in memory, ${valueBytes}-byte proposals: committed and applied on all nodes`);
for (const row of rows) {
  const rate = Math.round(row.perSecond).toLocaleString("en-US").padStart(12);
  console.log(`${row.name.padEnd(20)} ${rate} proposals/s   ${(row.perSecond / baseline).toFixed(1).padStart(6)}x batch 1`);
}
