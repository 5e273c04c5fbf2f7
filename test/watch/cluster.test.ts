/**
 * A watch on a follower of a three-node cluster of real processes while writes flow and the
 * leader is killed with SIGKILL: the follower ends the stream cleanly with a leader_changed line,
 * the verifying client resumes from what it verified (chained to its last checkpoint), and it
 * ends with every entry of the follower's ledger, in order with no gap, every acknowledged write
 * among them at the index its receipt named.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { toHex } from "../../src/lib/index.ts";
import { TestCluster } from "../support/cluster.ts";
import { clusterVerifiers, collectWatch } from "./support.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = new TestCluster({ size: 3 });
  await cluster.startAll();
}, 60_000);
afterAll(() => cluster.stop());

interface Ack {
  key: string;
  index: number;
  leaf_hash: string;
}

/** Writes `count` keys one by one through any running node, moving on when one cannot answer. */
async function writeThroughAny(count: number, acks: Ack[], stopped: () => boolean): Promise<void> {
  for (let i = 0; i < count && !stopped(); i++) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const target = cluster.running()[attempt % cluster.running().length]!;
      try {
        const response = await fetch(`${target.url}/kv/c/${i}`, { method: "PUT", body: `value ${i}`, signal: AbortSignal.timeout(5000) });
        if (response.status === 200) {
          acks.push((await response.json()) as Ack);
          break;
        }
      } catch {
        // that node is gone or slow: try another
      }
      await Bun.sleep(50);
    }
  }
}

test("the leader is killed during a watch on a follower: a clean end, a resume, every entry once and in order", async () => {
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((n) => n.id !== leader)!;
  const acks: Ack[] = [];
  let writing = true;
  const writes = writeThroughAny(400, acks, () => !writing);
  // The watch follows the follower; it stops once it verified everything the follower holds after the writes.
  let target = Number.POSITIVE_INFINITY;
  // Trusting the cluster's member keys, a majority of which sign each checkpoint (the follower's own
  // is not always among them), once the follower lists all three (right after the cluster starts
  // it may know only its own).
  let verifiers = await clusterVerifiers(follower.url);
  for (let attempt = 0; attempt < 300 && verifiers.length < 3; attempt++) {
    await Bun.sleep(50);
    verifiers = await clusterVerifiers(follower.url);
  }
  expect(verifiers).toHaveLength(3);
  const watching = collectWatch({ url: follower.url, from: 0, follow: true, verifiers, stopAt: (c) => (c.checkpoints.at(-1)?.nextIndex ?? 0) >= target });

  while (acks.length < 100) await Bun.sleep(20);
  await cluster.kill(leader, "SIGKILL");
  const next = await cluster.waitForLeader(15_000, [leader]);
  expect(next).not.toBe(leader);
  await writes;
  writing = false;
  // What the follower holds once it applied every acknowledged write.
  const lastAck = Math.max(...acks.map((a) => a.index));
  for (let attempt = 0; attempt < 200; attempt++) {
    const size = ((await (await fetch(`${follower.url}/health`)).json()) as { ledger_size: number }).ledger_size;
    if (size > lastAck) {
      target = size;
      break;
    }
    await Bun.sleep(50);
  }
  expect(target).toBeGreaterThan(lastAck);
  // A last write wakes the stream if it already waits at the head.
  await fetch(`${cluster.node(next).url}/kv/c/last`, { method: "PUT", body: "last" });
  const { entries, checkpoints, ends } = await watching;

  expect(ends.some((end) => end.reason === "leader_changed")).toBe(true);
  const indexes = entries.map((e) => e.entry.index);
  expect(indexes.slice(0, target)).toEqual(Array.from({ length: target }, (_, i) => i));
  for (const ack of acks) {
    expect(entries[ack.index]!.entry.key).toBe(ack.key);
    expect(toHex(entries[ack.index]!.leafHash)).toBe(ack.leaf_hash);
  }
  // Each resumed stream's first checkpoint was proved consistent with the last one before it.
  for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]!.consistentWith).toBe(checkpoints[i - 1]!.checkpoint.size);
}, 120_000);
