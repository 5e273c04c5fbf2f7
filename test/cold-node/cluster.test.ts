/**
 * The cold tier in a 3-node cluster of real processes: only the leader archives and evicts
 * (followers keep every value hot, and report the cluster's archived index read from the bucket,
 * with no backlog once the leader archived everything); after the leader is killed, the new leader resumes from the
 * bucket's manifest (no conflicting or duplicate object), records the earlier segments, evicts its
 * own copies, and serves every value through read-through.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { bytesEqual } from "../../src/lib/index.ts";
import { TestCluster } from "../support/cluster.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { coldEnv, listStored, makeValues, until } from "./support.ts";

let s3: S3ServerHandle | undefined;
let cluster: TestCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  await s3?.stop();
});

const prefix = "cluster";

async function coldOf(url: string): Promise<Record<string, number | boolean>> {
  return ((await (await fetch(`${url}/metrics`)).json()) as { cold: Record<string, number | boolean> }).cold;
}

async function put(url: string, values: Uint8Array[], offset: number): Promise<void> {
  const ops = values.map((value, i) => ({ op: "put", key: `c${offset + i}`, value_base64: Buffer.from(value).toString("base64") }));
  const response = await fetch(`${url}/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ops }) });
  expect(response.status).toBe(200);
}

test("only the leader archives; a new leader resumes from the manifest and reads evicted values through", async () => {
  s3 = await startS3Server();
  cluster = new TestCluster({ size: 3, env: coldEnv(s3, prefix, { SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS: "1", SCRIBE_STORAGE_MAX_CACHE_SIZE: "0" }) });
  await cluster.startAll();
  const first = cluster.node(await cluster.waitForLeader());
  const values = makeValues(200, 31);
  await put(first.url, values.slice(0, 100), 0);
  await until("the leader archives and evicts", async () => (await coldOf(first.url)).evicted_index === 100);
  for (const follower of cluster.nodes.filter((n) => n.id !== first.id)) {
    // A follower archives nothing, and reports the cluster's progress (read from the bucket), not a backlog of its own.
    await until("the follower reads the cluster's archival state", async () => (await coldOf(follower.url)).archived_index === 100);
    expect(await coldOf(follower.url)).toMatchObject({ archival_role: "follower", archiving: false, uploads: 0, evicted_index: 0, backlog_entries: 0 });
    const exposition = await (await fetch(`${follower.url}/metrics/prometheus`)).text();
    expect(exposition).toContain('scribe_ledger_archival_backlog_entries{role="follower"} 0\n');
    const response = await fetch(`${follower.url}/kv/c7?consistency=stale`);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), values[7]!)).toBe(true);
  }

  await cluster.kill(first.id);
  const second = cluster.node(await cluster.waitForLeader(15_000, [first.id]));
  await put(second.url, values.slice(100), 100);
  await until("the new leader catches up and evicts its own copies", async () => (await coldOf(second.url)).evicted_index === 200, 20_000);
  const cold = await coldOf(second.url);
  expect(cold.archived_index).toBe(200);
  expect(cold.errors).toBe(0);
  const manifest = JSON.parse(readFileSync(s3.objectPath(`${prefix}/manifest.json`), "utf8")) as { segments: { object_key: string; first_index: number; last_index: number }[] };
  expect(listStored(s3, `${prefix}/segments`)).toEqual(manifest.segments.map((s) => s.object_key));
  manifest.segments.forEach((s, i) => expect(s.first_index).toBe(i === 0 ? 0 : manifest.segments[i - 1]!.last_index + 1));
  expect(manifest.segments.at(-1)!.last_index).toBe(199);
  for (let i = 0; i < 200; i++) {
    const response = await fetch(`${second.url}/kv/c${i}`);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), values[i]!)).toBe(true);
  }
  expect(((await coldOf(second.url)).read_through as number) > 0).toBe(true);
}, 60_000);
