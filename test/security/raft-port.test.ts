/**
 * Regression test (issue 10): idle connections to the Raft port used to lock real peers out
 * (`too_many_handshakes`). Here a stranger on another source address (127.0.0.2) keeps 100 idle
 * connections open to a running node's Raft port (opening new ones as the node times them out),
 * and a real second node (another process, from 127.0.0.1) still joins, catches up and
 * replicates new writes.
 */

import { afterAll, expect, test } from "bun:test";
import { TestCluster } from "../support/cluster.ts";
import { canConnectFrom, idleConnection, type IdleConnection } from "../transport/helpers.ts";

const strangerAddress = "127.0.0.2";
/** Idle connections the stranger keeps open: far more than the old global limit of 64. */
const strangerConnections = 100;
const secondSource = await canConnectFrom(strangerAddress);
if (!secondSource) console.log(`skipping the Raft port flood test: cannot connect from ${strangerAddress} here`);

/** Keeps `count` idle connections open to `port` from `from`, replacing those the node closes. */
function holdIdleConnections(port: number, from: string, count: number): { opened: () => number; stop: () => void } {
  const open: IdleConnection[] = [];
  let opened = 0;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      for (let i = open.length - 1; i >= 0; i--) if (open[i]!.closed()) open.splice(i, 1);
      while (!stopped && open.length < count) {
        try {
          open.push(await idleConnection(port, from));
          opened++;
        } catch {
          break; // refused at the TCP level: try again on the next round
        }
      }
      await Bun.sleep(20);
    }
    for (const connection of open) connection.destroy();
  };
  void loop();
  return { opened: () => opened, stop: () => (stopped = true) };
}

const cluster = new TestCluster({ size: 1 });
let stranger: ReturnType<typeof holdIdleConnections> | undefined;
afterAll(async () => {
  stranger?.stop();
  await cluster.stop();
});

test.skipIf(!secondSource)(
  "a peer joins and replicates while a stranger holds 100 idle connections to the Raft port",
  async () => {
    await cluster.startAll();
    const first = cluster.node(1);
    for (let i = 0; i < 20; i++) expect((await fetch(`${first.url}/kv/before-${i}`, { method: "PUT", body: `v${i}` })).status).toBe(200);

    stranger = holdIdleConnections(first.raftPort, strangerAddress, strangerConnections);
    const deadline = Date.now() + 10_000;
    while (stranger.opened() < strangerConnections && Date.now() < deadline) await Bun.sleep(20);
    expect(stranger.opened()).toBeGreaterThanOrEqual(strangerConnections);

    const fresh = cluster.addHandle();
    await cluster.start(fresh.id, ["--join", `127.0.0.1:${first.port}`]);
    let role = "";
    const joinDeadline = Date.now() + 30_000;
    while (Date.now() < joinDeadline) {
      const info = (await (await fetch(`${first.url}/cluster/nodes`)).json()) as { nodes: { id: number; role: string }[] };
      role = info.nodes.find((n) => n.id === fresh.id)?.role ?? "";
      if (role === "voter") break;
      await Bun.sleep(100);
    }
    expect(role).toBe("voter");
    // A write after the join is committed by both voters (a quorum of two) and readable on the new one.
    expect((await fetch(`${first.url}/kv/after-join`, { method: "PUT", body: "replicated" })).status).toBe(200);
    expect(await (await fetch(`${fresh.url}/kv/after-join?consistency=linearizable`)).text()).toBe("replicated");
    expect(await (await fetch(`${fresh.url}/kv/before-7?consistency=linearizable`)).text()).toBe("v7");
    // The stranger was really there the whole time: the node kept refusing and timing it out.
    const log = cluster.node(1).process!.output();
    expect(log).toContain("too_many_source_handshakes");
    expect(stranger.opened()).toBeGreaterThan(strangerConnections);
  },
  90_000,
);
