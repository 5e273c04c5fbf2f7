/**
 * A network partition of a real 3-node cluster (test/support/partition-net.ts): every process
 * keeps running and keeps answering its clients, but the nodes on either side of the cut cannot
 * reach each other. The leader cut off from both followers must stop acting as the leader: the
 * followers elect another, a write through the old leader is never acknowledged, and a default
 * (linearizable) read on it never returns the value the new leader has replaced; only an
 * explicit `?consistency=stale` read may. After the heal it serves the new value.
 */

import { afterEach, expect, test } from "bun:test";
import type { TestCluster } from "../support/cluster.ts";
import { pairsAcross, partitionableCluster, type PartitionNet } from "../support/partition-net.ts";

let cluster: TestCluster | undefined;
let net: PartitionNet | undefined;
afterEach(async () => {
  net?.heal();
  await cluster?.stop();
  await net?.stop();
  cluster = undefined;
  net = undefined;
});

async function put(url: string, key: string, value: string, timeoutMs = 3000): Promise<number | "no answer"> {
  try {
    return (await fetch(`${url}/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(timeoutMs) })).status;
  } catch {
    return "no answer";
  }
}

async function get(url: string, timeoutMs = 3000): Promise<{ status: number; body: string } | "no answer"> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text() };
  } catch {
    return "no answer";
  }
}

test("a leader cut off by the network, still running, loses its leadership: no write through it is acknowledged and no default read on it is stale", async () => {
  ({ cluster, net } = partitionableCluster({ size: 3, env: { SCRIBE_API_WRITE_TIMEOUT_SECS: "2" } }));
  await net.ready();
  await cluster.startAll();
  const c = cluster;
  const old = await c.waitForLeader();
  const others = c.nodes.map((n) => n.id).filter((id) => id !== old);
  const oldUrl = c.node(old).url;
  expect(await put(oldUrl, "p", "v1")).toBe(200);
  await c.converged(10_000);

  net.cut(pairsAcross([[old], others]));
  expect(net.unidentified).toBe(0);
  const next = await c.waitForLeader(15_000, [old]);
  expect(others).toContain(next);
  expect(await put(c.node(next).url, "p", "v2")).toBe(200);

  // Right away, while the old leader may still believe it leads: a default read through it does
  // not return v1, which v2 replaced (it waits for a read index no majority confirms), and a write
  // through it is not acknowledged (its outcome may be unknown: 504, or no answer in time).
  const read = await get(`${oldUrl}/kv/p`);
  if (read !== "no answer") {
    expect(read.status).not.toBe(200);
    expect(read.body).not.toBe("v1");
  }
  expect(await put(oldUrl, "p", "minority")).not.toBe(200);
  // It still answers its clients, and within a few election timeouts it knows it no longer leads (check-quorum).
  const roleDeadline = Date.now() + 10_000;
  let role = "leader";
  while (role === "leader" && Date.now() < roleDeadline) {
    role = ((await (await fetch(`${oldUrl}/cluster/info`)).json()) as { role: string }).role;
    if (role === "leader") await Bun.sleep(50);
  }
  expect(role).not.toBe("leader");
  // An explicit stale read is served from what it has.
  expect(await get(`${oldUrl}/kv/p?consistency=stale`)).toEqual({ status: 200, body: "v1" });

  net.heal();
  // Healed: the old leader catches up and serves the latest value (the minority write, if it was
  // proposed, was never committed: the new leader's log replaced it).
  const deadline = Date.now() + 15_000;
  let latest = await get(`${oldUrl}/kv/p`);
  while ((latest === "no answer" || latest.body !== "v2") && Date.now() < deadline) {
    await Bun.sleep(100);
    latest = await get(`${oldUrl}/kv/p`);
  }
  expect(latest).toEqual({ status: 200, body: "v2" });
  const ledger = await c.converged(15_000);
  expect(ledger.filter((e) => e.key === "p").length).toBe(2);
}, 90_000);
