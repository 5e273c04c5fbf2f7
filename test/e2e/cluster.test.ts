/**
 * A real 3-node cluster of processes: failover under load (kill -9), partitions (SIGSTOP),
 * membership changes with catch-up by ledger range after compaction. Every client history is
 * checked with the linearizability checker.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { checkKvHistory } from "../../src/check/index.ts";
import { scribe } from "../cli/support.ts";
import { TestCluster } from "../support/cluster.ts";
import { newRecorder, recordedPut, runClients, type Recorder } from "../support/history.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function expectLinearizable(recorder: Recorder): void {
  const result = checkKvHistory(recorder.ops);
  if (!result.ok) {
    const key = result.result === "violation" ? result.violatingKey : result.timedOutKey;
    const ops = recorder.ops.filter((o) => o.key === key).sort((a, b) => a.callMs - b.callMs);
    console.error(JSON.stringify(result.result), key, `${ops.length} operations:`);
    for (const o of ops) console.error(`  c${o.clientId} ${o.kind} ${o.value ?? JSON.stringify(o.output)} [${o.callMs.toFixed(1)}, ${o.unknown ? "unknown" : o.returnMs.toFixed(1)}]`);
    console.error("refused writes of this key:", JSON.stringify(recorder.refused.filter((r) => r.key === key)));
  }
  expect(result.result).toBe("ok");
}

function expectAckedPresent(recorder: Recorder, ledger: { index: number; key: string }[]): void {
  for (const ack of recorder.acked) expect(ledger[ack.index]?.key).toBe(ack.key);
}

describe("a 3-node cluster of real processes", () => {
  test("writes through any node, identical ledgers, kill -9 of the leader under load, restart and catch-up", async () => {
    cluster = new TestCluster({ size: 3 });
    await cluster.startAll();
    const c = cluster;
    const recorder = newRecorder();
    let stop = false;
    const load = runClients(recorder, 8, () => c.running().map((n) => n.url), () => stop);
    await Bun.sleep(1500);
    const oldLeader = await c.waitForLeader();
    const killedAt = Date.now();
    await c.kill(oldLeader);
    const newLeader = await c.waitForLeader(10_000);
    const failoverMs = Date.now() - killedAt;
    expect(newLeader).not.toBe(oldLeader);
    expect(failoverMs).toBeLessThan(8000);
    const ackedBefore = recorder.acked.length;
    await Bun.sleep(1500);
    expect(recorder.acked.length).toBeGreaterThan(ackedBefore); // writes resumed
    await c.start(oldLeader, []);
    await Bun.sleep(1000);
    stop = true;
    await load;
    const ledger = await c.converged();
    expect(recorder.acked.length).toBeGreaterThan(50);
    expectAckedPresent(recorder, ledger);
    expectLinearizable(recorder);
  }, 90_000);

  test("partitions: a leader cut off from both followers cannot commit; a majority without the leader continues", async () => {
    cluster = new TestCluster({ size: 3, env: { SCRIBE_API_WRITE_TIMEOUT_SECS: "1" } });
    await cluster.startAll();
    const c = cluster;
    const recorder = newRecorder();
    const leader = await c.waitForLeader();
    const followers = c.nodes.filter((n) => n.id !== leader);
    expect(await recordedPut(recorder, c.node(leader).url, 0, "p", "before")).toBe(true);

    // Minority: the leader alone. Its writes cannot commit.
    for (const f of followers) f.process!.proc.kill("SIGSTOP");
    const sizeBefore = ((await (await fetch(`${c.node(leader).url}/health`)).json()) as { ledger_size: number }).ledger_size;
    expect(await recordedPut(recorder, c.node(leader).url, 1, "p", "minority", 2500)).toBe(false);
    // Without recording (its outcome is unknown): the server gives up by itself, with 504
    // outcome_unknown once the write was proposed (it is in the old leader's log), or a refusal.
    const stuck = await fetch(`${c.node(leader).url}/kv/p2`, { method: "PUT", body: "minority", signal: AbortSignal.timeout(10_000) });
    const stuckCode = ((await stuck.json()) as { code: string }).code;
    expect(stuckCode === "outcome_unknown" ? stuck.status === 504 : stuck.status === 503 && ["timeout", "not_leader", "no_leader"].includes(stuckCode)).toBe(true);
    expect(stuck.headers.get("retry-after")).not.toBeNull();
    const info = (await (await fetch(`${c.node(leader).url}/cluster/info`)).json()) as { ledger_size: number; role: string };
    expect(info.ledger_size).toBe(sizeBefore);
    for (const f of followers) f.process!.proc.kill("SIGCONT");
    await c.waitForLeader(10_000);

    // Majority without the leader: a new leader is elected and writes continue.
    const current = await c.waitForLeader();
    c.node(current).process!.proc.kill("SIGSTOP");
    const others = c.nodes.filter((n) => n.id !== current);
    const majorityLeader = await c.waitForLeader(10_000, [current]);
    expect(others.map((n) => n.id)).toContain(majorityLeader);
    let acked = 0;
    for (let i = 0; i < 20; i++) if (await recordedPut(recorder, others[i % 2]!.url, 2, "p", `majority-${i}`)) acked++;
    expect(acked).toBe(20);
    c.node(current).process!.proc.kill("SIGCONT");
    const stopAt = Date.now() + 1500;
    await runClients(recorder, 4, () => c.running().map((n) => n.url), () => Date.now() > stopAt);
    const ledger = await c.converged();
    expectAckedPresent(recorder, ledger);
    expect(ledger.some((e) => e.key === "p")).toBe(true);
    expectLinearizable(recorder);
  }, 90_000);

  test("a follower's key reads (GET, /keys, /history, /verify) are linearizable by default, and proofs and tiles at a size it has not applied yet wait for it: cut off from the others they refuse, stale ones answer", async () => {
    cluster = new TestCluster({ size: 3, env: { SCRIBE_API_READ_TIMEOUT_SECS: "1" } });
    await cluster.startAll();
    const c = cluster;
    const leader = await c.waitForLeader();
    const follower = c.nodes.find((n) => n.id !== leader)!;
    const reads = ["/kv/h", "/keys?prefix=h", "/history/h", "/verify/h"];
    // Written through the follower, read back there at once: each read sees the write.
    for (let i = 1; i <= 5; i++) {
      const put = await fetch(`${follower.url}/kv/h`, { method: "PUT", body: `v${i}` });
      expect(put.status).toBe(200);
      const { index } = (await put.json()) as { index: number };
      expect(await (await fetch(`${follower.url}/kv/h`)).text()).toBe(`v${i}`);
      const history = (await (await fetch(`${follower.url}/history/h`)).json()) as { versions: { index: number }[] };
      expect(history.versions.at(-1)?.index).toBe(index);
      const verify = (await (await fetch(`${follower.url}/verify/h`)).json()) as { verified: boolean; entry: { index: number } };
      expect([verify.verified, verify.entry.index]).toEqual([true, index]);
    }
    // A proof at a size the leader acknowledged, asked of the follower before it has applied it:
    // answered once it caught up, not refused as out of range.
    follower.process!.proc.kill("SIGSTOP");
    let size = 0;
    try {
      for (let i = 0; i < 5; i++) {
        const put = await fetch(`${c.node(leader).url}/kv/p${i}`, { method: "PUT", body: "x" });
        expect(put.status).toBe(200);
        size = ((await put.json()) as { tree_size: number }).tree_size;
      }
    } finally {
      follower.process!.proc.kill("SIGCONT");
    }
    const partial = await fetch(`${follower.url}/tile/0/000.p/${size}`);
    expect([partial.status, (await partial.arrayBuffer()).byteLength]).toEqual([200, size * 32]);
    const inclusion = await fetch(`${follower.url}/proof/inclusion?index=${size - 1}&tree_size=${size}`);
    expect([inclusion.status, ((await inclusion.json()) as { tree_size: number }).tree_size]).toEqual([200, size]);
    const consistency = await fetch(`${follower.url}/proof/consistency?from=1&to=${size}`);
    expect(consistency.status).toBe(200);
    const beyond = await fetch(`${follower.url}/proof/consistency?from=1&to=${size + 1000}`);
    expect([beyond.status, ((await beyond.json()) as { code: string }).code]).toEqual([400, "invalid_range"]);

    // Alone (the others paused), the follower cannot confirm that it is current.
    for (const n of c.nodes) if (n.id !== follower.id) n.process!.proc.kill("SIGSTOP");
    try {
      for (const path of reads) {
        const linearizable = await fetch(`${follower.url}${path}`, { signal: AbortSignal.timeout(10_000) });
        expect([path, linearizable.status]).toEqual([path, 503]);
        expect(linearizable.headers.get("retry-after")).not.toBeNull();
        const stale = await fetch(`${follower.url}${path}${path.includes("?") ? "&" : "?"}consistency=stale`);
        expect([path, stale.status]).toEqual([path, 200]);
      }
      const verify = (await (await fetch(`${follower.url}/verify/h?consistency=stale`)).json()) as { verified: boolean };
      expect(verify.verified).toBe(true);
      // The CLI's key reads take the same choice.
      const server = ["--server", follower.url];
      for (const args of [["history", "h"], ["verify", "h"], ["get", "h", "--verify"]]) {
        const stale = await scribe([...args, "--consistency", "stale", ...server]);
        expect([args, stale.exitCode, stale.stderr]).toEqual([args, 0, expect.any(String)]);
      }
      expect((await scribe(["history", "h", "--consistency", "eventual", ...server])).exitCode).toBe(2);
      const unconfirmed = await fetch(`${follower.url}/proof/consistency?from=1&to=${size + 1000}`);
      expect(unconfirmed.status).toBe(503);
      const bad = await fetch(`${follower.url}/history/h?consistency=eventual`);
      expect([bad.status, ((await bad.json()) as { code: string }).code]).toEqual([400, "invalid_request"]);
    } finally {
      for (const n of c.nodes) if (n.id !== follower.id) n.process!.proc.kill("SIGCONT");
    }
  }, 60_000);

  test("membership: remove a node, add a new one that catches up by ledger range after compaction", async () => {
    cluster = new TestCluster({ size: 3, compactionThreshold: 10 });
    await cluster.startAll();
    const c = cluster;
    const leader = await c.waitForLeader();
    const batch = (i: number) => JSON.stringify({ ops: Array.from({ length: 20 }, (_, j) => ({ op: "put", key: `m${i}-${j}`, value: `v${i}-${j}` })) });
    for (let i = 0; i < 40; i++) expect((await fetch(`${c.node(leader).url}/batch`, { method: "POST", body: batch(i) })).status).toBe(200);

    const victim = c.nodes.find((n) => n.id !== leader)!.id;
    const removed = await fetch(`${c.node(leader).url}/cluster/nodes/remove`, { method: "POST", body: JSON.stringify({ node_id: victim }) });
    expect(removed.status).toBe(200);
    await c.kill(victim);
    const nodes = (await (await fetch(`${c.node(leader).url}/cluster/nodes`)).json()) as { nodes: { id: number }[] };
    expect(nodes.nodes.map((n) => n.id)).not.toContain(victim);

    const fresh = c.addHandle();
    await c.start(fresh.id, ["--join", `127.0.0.1:${c.node(leader).port}`]);
    const deadline = Date.now() + 20_000;
    let role = "";
    while (Date.now() < deadline) {
      const info = (await (await fetch(`${c.node(leader).url}/cluster/nodes`)).json()) as { nodes: { id: number; role: string }[] };
      role = info.nodes.find((n) => n.id === fresh.id)?.role ?? "";
      if (role === "voter") break;
      await Bun.sleep(100);
    }
    expect(role).toBe("voter");
    expect((await fetch(`${fresh.url}/kv/m0-0?consistency=linearizable`).then((r) => r.text()))).toBe("v0-0");
    const ledger = await c.converged();
    expect(ledger.length).toBe(800);
    const metrics = (await (await fetch(`${fresh.url}/metrics`)).json()) as { raft: { catchups: number } };
    expect(metrics.raft.catchups).toBeGreaterThan(0);
    // The new voter counts: with it, the cluster survives losing one more node.
    const other = c.running().find((n) => n.id !== leader && n.id !== fresh.id)!;
    await c.kill(other.id);
    expect((await fetch(`${c.node(leader).url}/kv/after-removal`, { method: "PUT", body: "ok", signal: AbortSignal.timeout(5000) })).status).toBe(200);
  }, 90_000);

  test("a single node grows into a cluster: the new member catches up by ledger range (a sole voter keeps no Raft log of its commands)", async () => {
    cluster = new TestCluster({ size: 1 });
    await cluster.startAll();
    const c = cluster;
    const first = await c.waitForLeader();
    const batch = (i: number) => JSON.stringify({ ops: Array.from({ length: 25 }, (_, j) => ({ op: "put", key: `g${i}-${j}`, value: `v${i}-${j}` })) });
    for (let i = 0; i < 8; i++) expect((await fetch(`${c.node(first).url}/batch`, { method: "POST", body: batch(i) })).status).toBe(200);
    const before = (await (await fetch(`${c.node(first).url}/metrics`)).json()) as { raft: { first_index: number; last_index: number } };
    expect(before.raft.first_index).toBe(before.raft.last_index + 1); // nothing stored: compacted through the last entry

    const fresh = c.addHandle();
    await c.start(fresh.id, ["--join", `127.0.0.1:${c.node(first).port}`]);
    const deadline = Date.now() + 20_000;
    let role = "";
    while (Date.now() < deadline) {
      const info = (await (await fetch(`${c.node(first).url}/cluster/nodes`)).json()) as { nodes: { id: number; role: string }[] };
      role = info.nodes.find((n) => n.id === fresh.id)?.role ?? "";
      if (role === "voter") break;
      await Bun.sleep(100);
    }
    expect(role).toBe("voter");
    const metrics = (await (await fetch(`${fresh.url}/metrics`)).json()) as { raft: { catchups: number } };
    expect(metrics.raft.catchups).toBeGreaterThan(0);
    // Two voters now: writes through either node replicate, and both ledgers are the same.
    expect((await fetch(`${fresh.url}/kv/after-join`, { method: "PUT", body: "ok", signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    expect(await fetch(`${fresh.url}/kv/g0-0?consistency=linearizable`).then((r) => r.text())).toBe("v0-0");
    const ledger = await c.converged();
    expect(ledger.length).toBe(201);
  }, 90_000);
});
