/**
 * One log identity per cluster, its checkpoints cosigned by a majority of the voters (issue 13):
 * real node processes on loopback, checked with the client library's policy verification.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseVerifierKey, splitNote, verifyCheckpointPolicy, followKeyHistory } from "../../src/merkle/index.ts";
import { TestCluster } from "../support/cluster.ts";

async function text(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  const body = await response.text();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${body}`);
  return body;
}

async function put(url: string, key: string, value: string): Promise<{ index: number }> {
  const response = await fetch(`${url}/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(20_000) });
  if (!response.ok) throw new Error(`PUT ${key}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { index: number };
}

async function keysOf(url: string): Promise<string[]> {
  return (await text(`${url}/checkpoint/keys`)).split("\n").filter((line) => line !== "");
}

/** Polls until `fn` returns a value (or throws the last error after the deadline). */
async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(50);
  }
  throw last ?? new Error("timed out");
}

describe("a 3-node cluster", () => {
  const cluster = new TestCluster({ size: 3 });
  beforeAll(async () => {
    await cluster.startAll();
  }, 60_000);
  afterAll(() => cluster.stop());

  test("every member serves a checkpoint under one origin signed by a majority of the listed member keys", async () => {
    const leader = cluster.node(await cluster.waitForLeader());
    for (let i = 0; i < 5; i++) await put(leader.url, `k${i}`, `v${i}`);
    const keys = await eventually(async () => {
      const listed = await keysOf(leader.url);
      return listed.length === 3 ? listed : undefined;
    });
    const members = await Promise.all(keys.map(parseVerifierKey));
    const origins = new Set<string>();
    for (const node of cluster.nodes) {
      expect((await keysOf(node.url)).sort()).toEqual([...keys].sort());
      const verdict = await eventually(async () => {
        const v = await verifyCheckpointPolicy(await text(`${node.url}/checkpoint`), { members });
        return v.checkpoint.size >= 5 ? v : undefined;
      });
      expect(verdict.members.length).toBeGreaterThanOrEqual(2);
      origins.add(verdict.checkpoint.origin);
    }
    expect(origins.size).toBe(1);
    expect([...origins][0]).toMatch(/^scribe-ledger\/[0-9a-f]{16}$/);
    // One of the listed keys alone is not a majority.
    const note = await text(`${leader.url}/checkpoint`);
    await expect(verifyCheckpointPolicy(note, { members, membersRequired: "all" }).then((v) => (v.members.length === 3 ? "ok" : "short"))).resolves.toBeDefined();
    const only = splitNote(note).signatures[0]!;
    const lone = `${note.slice(0, note.lastIndexOf("\n\n") + 2)}\u2014 ${only.name} ${Buffer.from([...only.keyHash, ...only.signature]).toString("base64")}\n`;
    await expect(verifyCheckpointPolicy(lone, { members })).rejects.toThrow("the policy wants 2");
  }, 60_000);

  test("PUT then an immediate GET /verify works on the leader and on the followers", async () => {
    for (const node of cluster.nodes) {
      const receipt = await put(node.url, `now-${node.id}`, "x");
      const answer = (await (await fetch(`${node.url}/verify/now-${node.id}`)).json()) as { verified: boolean; proof: { tree_size: number }; checkpoint: string };
      expect(answer.verified).toBe(true);
      expect(answer.proof.tree_size).toBeGreaterThan(receipt.index);
      const members = await Promise.all((await keysOf(node.url)).map(parseVerifierKey));
      await verifyCheckpointPolicy(answer.checkpoint, { members });
    }
  }, 60_000);

  test("the key history verifies from epoch 0 to the current key set", async () => {
    const history = (await (await fetch(`${cluster.nodes[1]!.url}/checkpoint/keys/history`)).json()) as { origin: string; epochs: { epoch: number; keys: string[]; note: string }[] };
    expect(history.epochs.length).toBeGreaterThanOrEqual(1);
    const first = history.epochs[0]!;
    const reached = await followKeyHistory(history.epochs.map((e) => e.note), first.keys, parseVerifierKey, history.origin);
    expect([...reached.keys].sort()).toEqual((await keysOf(cluster.nodes[0]!.url)).sort());
  }, 30_000);
});
