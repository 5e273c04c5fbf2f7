/**
 * A full disk is a state, not a crash (issue 16): real scribe-node processes whose data directory
 * is on a small tmpfs, filled by a filler file.
 *  - below the free-space reserve (storage.min_free_bytes) writes are refused 507
 *    insufficient_storage and change nothing, reads work, /health, /metrics and the Prometheus
 *    exposition say so, one alarm is logged; when the filler goes, writes resume by themselves;
 *  - a node restarted below its reserve, or on a disk with no free byte at all, serves reads;
 *  - with the reserve off, SQLite's own SQLITE_FULL does not stop the node: the write in flight is
 *    answered 504 outcome_unknown (and is in the ledger once space returns), later ones 507;
 *  - a follower on a full disk stops acknowledging without crashing, and catches up afterwards.
 * Skipped, with the reason printed, where a tmpfs cannot be mounted (it needs root).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestCluster } from "../support/cluster.ts";
import { spawnNode, type NodeProcess } from "../support/node-process.ts";
import { schemaErrors } from "../support/schemas.ts";
import { mountTmpfs, type Tmpfs } from "../support/tmpfs.ts";

const MiB = 1024 * 1024;
const probe = mountTmpfs(1);
const cannotMount = typeof probe === "string" ? probe : undefined;
if (typeof probe !== "string") probe.remove();
if (cannotMount) console.warn(`skipping the full-disk tests: ${cannotMount}`);

let mounts: Tmpfs[] = [];
let processes: NodeProcess[] = [];
let cluster: TestCluster | undefined;
afterEach(async () => {
  for (const p of processes) await p.kill("SIGKILL");
  processes = [];
  await cluster?.stop();
  cluster = undefined;
  for (const m of mounts) m.remove();
  mounts = [];
});

function mount(sizeMiB: number): Tmpfs {
  const m = mountTmpfs(sizeMiB);
  if (typeof m === "string") throw new Error(m);
  mounts.push(m);
  return m;
}

async function start(dataDir: string, minFreeBytes: number, readyPath = "/health", port?: number): Promise<NodeProcess> {
  const node = await spawnNode({ dataDir, port, readyPath, env: { SCRIBE_STORAGE_MIN_FREE_BYTES: String(minFreeBytes), SCRIBE_LOGGING_LEVEL: "info", SCRIBE_API_WRITE_TIMEOUT_SECS: "5" } });
  processes.push(node);
  return node;
}

async function call(url: string, method = "GET", body?: string): Promise<{ status: number; json: Record<string, unknown>; text: string; headers: Headers }> {
  const response = await fetch(url, { method, body, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // a raw value
  }
  return { status: response.status, json, text, headers: response.headers };
}

/** Retries `attempt` until it returns true (writes resume within a few hundred ms; bounded wait). */
async function eventually(attempt: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await attempt()) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

function prometheusValue(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

const alarms = (node: NodeProcess) => node.output().split("\n").filter((l) => l.includes("ALARM insufficient_storage")).length;

describe.skipIf(cannotMount !== undefined)("a full disk (tmpfs)", () => {
  test("below the reserve: 507 and nothing changes, reads work, health and metrics say so, writes resume when space returns", async () => {
    const disk = mount(48);
    const node = await start(join(disk.path, "data"), 8 * MiB);
    for (let i = 0; i < 20; i++) expect((await call(`${node.url}/kv/k${i}`, "PUT", `value ${i}`)).status).toBe(200);
    disk.fill(4 * MiB);

    const refused = await call(`${node.url}/kv/refused`, "PUT", "x");
    expect(refused.status).toBe(507);
    expect(refused.json.code).toBe("insufficient_storage");
    expect(refused.json.error).toContain("storage.min_free_bytes");
    expect(refused.headers.get("retry-after")).not.toBeNull();
    for (let i = 0; i < 5; i++) expect((await call(`${node.url}/kv/refused-${i}`, "PUT", "x")).status).toBe(507);
    const batch = await call(`${node.url}/batch`, "POST", JSON.stringify({ ops: [{ op: "put", key: "b", value: "1" }] }));
    expect(batch.status).toBe(507);

    // Reads keep working, linearizable ones included.
    expect((await call(`${node.url}/kv/k3`)).text).toBe("value 3");
    expect((await call(`${node.url}/kv/refused`)).status).toBe(404);
    const health = await call(`${node.url}/health`);
    // The answers of a full disk are the ones the OpenAPI document describes (checked first:
    // Bun's toMatchObject puts its asymmetric matchers in place of the values it matched).
    expect(schemaErrors(["Health"], health.json), JSON.stringify(health.json)).toEqual([]);
    expect(schemaErrors(["Error"], refused.json)).toEqual([]);
    expect(health.status).toBe(200); // alive and leading; writes are refused for storage
    expect(health.json.ledger_size).toBe(20);
    expect(health.json.storage).toMatchObject({ writable: false, reason: expect.stringContaining("below its reserve"), min_free_bytes: 8 * MiB });
    expect((health.json.storage as { free_bytes: number }).free_bytes).toBeLessThan(8 * MiB);
    const ready = await call(`${node.url}/ready`);
    expect(ready.status).toBe(503);
    expect(schemaErrors(["Ready"], ready.json), JSON.stringify(ready.json)).toEqual([]);
    expect(ready.json.checks).toMatchObject({ storage: { ok: false, writable: false, code: "insufficient_storage" } });
    const metrics = await call(`${node.url}/metrics`);
    expect(schemaErrors(["Metrics"], metrics.json), JSON.stringify(metrics.json).slice(0, 300)).toEqual([]);
    expect(metrics.json.storage).toBeDefined();
    expect(metrics.json.disk).toMatchObject({ insufficient: true, writable: false });
    expect((metrics.json.disk as { refused_writes: number }).refused_writes).toBeGreaterThanOrEqual(7);
    const prometheus = (await call(`${node.url}/metrics/prometheus`)).text;
    expect(prometheusValue(prometheus, "scribe_ledger_storage_insufficient")).toBe(1);
    expect(prometheusValue(prometheus, "scribe_ledger_storage_refused_writes_total")).toBeGreaterThanOrEqual(7);
    expect(prometheusValue(prometheus, "scribe_ledger_storage_free_bytes")).toBeLessThan(8 * MiB);
    expect(alarms(node)).toBe(1); // once per transition, not per refused write

    disk.drain();
    await eventually(async () => (await call(`${node.url}/kv/after`, "PUT", "resumed")).status === 200, "a write after space returned");
    expect((await call(`${node.url}/kv/after`)).text).toBe("resumed");
    expect((await call(`${node.url}/health`)).json.storage).toMatchObject({ writable: true });
    expect(prometheusValue((await call(`${node.url}/metrics/prometheus`)).text, "scribe_ledger_storage_insufficient")).toBe(0);
    expect(node.output()).toContain("storage writable again");
    expect(node.proc.exitCode).toBeNull();
  }, 60_000);

  test("a node restarted on a full disk serves reads: below its reserve, and with no free byte at all", async () => {
    const disk = mount(48);
    const dataDir = join(disk.path, "data");
    let node = await start(dataDir, 8 * MiB);
    for (let i = 0; i < 10; i++) expect((await call(`${node.url}/kv/r${i}`, "PUT", `kept ${i}`)).status).toBe(200);
    const port = node.port;
    disk.fill(4 * MiB);
    await node.kill("SIGKILL");

    // Below the reserve: it elects itself (the reserve has room for that) and serves every read.
    node = await start(dataDir, 8 * MiB, "/health", port);
    expect((await call(`${node.url}/kv/r7`)).text).toBe("kept 7");
    expect((await call(`${node.url}/kv/new`, "PUT", "x")).status).toBe(507);
    await node.kill("SIGKILL");

    // Not one byte free: it cannot even record a vote, so it has no leader; it does not exit,
    // and serves the reads that need no leader.
    disk.fill(0);
    expect(disk.freeBytes()).toBeLessThan(4096);
    node = await start(dataDir, 8 * MiB, "/cluster/info", port);
    expect((await call(`${node.url}/kv/r2?consistency=stale`)).text).toBe("kept 2");
    expect((await call(`${node.url}/history/r2?consistency=stale`)).status).toBe(200);
    expect((await call(`${node.url}/health`)).json.storage).toMatchObject({ writable: false });
    const write = await call(`${node.url}/kv/new`, "PUT", "x");
    expect([503, 507]).toContain(write.status); // no leader, or refused for storage: never applied
    expect(node.proc.exitCode).toBeNull();

    disk.drain();
    await eventually(async () => (await call(`${node.url}/kv/new`, "PUT", "after")).status === 200, "a write after space returned");
    expect((await call(`${node.url}/kv/r9`)).text).toBe("kept 9");
    expect(node.proc.exitCode).toBeNull();
  }, 90_000);

  test("with the reserve off, SQLITE_FULL stops nothing: 504 for the write in flight (applied once space returns), 507 after, reads work", async () => {
    const disk = mount(32);
    const node = await start(join(disk.path, "data"), 0);
    expect((await call(`${node.url}/kv/before`, "PUT", "ok")).status).toBe(200);
    disk.fill(0);
    const inflight = await call(`${node.url}/kv/inflight`, "PUT", "x".repeat(64 * 1024));
    expect(inflight.status).toBe(504);
    expect(inflight.json.code).toBe("outcome_unknown");
    const later = await call(`${node.url}/kv/later`, "PUT", "y");
    expect(later.status).toBe(507);
    expect(later.json.code).toBe("insufficient_storage");
    expect((await call(`${node.url}/kv/before?consistency=stale`)).text).toBe("ok");
    const linearizable = await call(`${node.url}/kv/before`);
    expect(linearizable.status).toBe(503); // it cannot apply while its disk is full: a stale read, or another node
    expect(linearizable.json.code).toBe("unavailable");
    const disk1 = (await call(`${node.url}/metrics`)).json.disk as { full_errors: number; stalled: boolean };
    expect(disk1.full_errors).toBeGreaterThan(0);
    expect(disk1.stalled).toBe(true);
    expect(node.proc.exitCode).toBeNull();

    disk.drain();
    await eventually(async () => (await call(`${node.url}/kv/later`, "PUT", "y")).status === 200, "a write after space returned");
    // The write answered 504 was in the step that waited for the disk: it was applied after all.
    expect((await call(`${node.url}/kv/inflight`)).text).toBe("x".repeat(64 * 1024));
    expect(node.output()).not.toContain("Raft driver failed");
    expect(node.proc.exitCode).toBeNull();
  }, 60_000);

  test("a follower on a full disk stops acknowledging, does not crash, and catches up when space returns", async () => {
    const disk = mount(48);
    cluster = new TestCluster({ size: 3, env: { SCRIBE_STORAGE_MIN_FREE_BYTES: String(8 * MiB) } });
    const c = cluster;
    // Node 3 keeps its data on the tmpfs.
    const three = c.node(3);
    three.dataDir = join(disk.path, "node3");
    writeFileSync(three.configPath, readFileSync(three.configPath, "utf8").replace(/data_dir = ".*"/, `data_dir = "${three.dataDir}"`));
    await c.startAll();
    // It must follow: while it leads, pause it so the others elect one of them.
    while ((await c.waitForLeader()) === 3) {
      three.process!.proc.kill("SIGSTOP");
      await c.waitForLeader(10_000, [3]);
      three.process!.proc.kill("SIGCONT");
      await Bun.sleep(200);
    }
    const leader = c.node(await c.waitForLeader());
    disk.fill(4 * MiB);
    for (let i = 0; i < 30; i++) expect((await call(`${leader.url}/kv/f${i}`, "PUT", `v${i}`)).status).toBe(200);
    // A write sent to the full follower is forwarded to the leader and succeeds.
    expect((await call(`${three.url}/kv/via-three`, "PUT", "forwarded")).status).toBe(200);
    const behind = await call(`${three.url}/health`);
    expect(behind.json.storage).toMatchObject({ writable: false });
    expect(behind.json.ledger_size as number).toBeLessThan(31);
    expect(three.process!.proc.exitCode).toBeNull();

    disk.drain();
    await eventually(async () => (await call(`${three.url}/health`)).json.ledger_size === 31, "the follower caught up");
    const ledgers = await Promise.all([1, 2, 3].map((id) => c.ledger(id)));
    expect(ledgers[2]).toEqual(ledgers[0]!);
    expect(ledgers[1]).toEqual(ledgers[0]!);
    expect((await call(`${three.url}/health`)).json.storage).toMatchObject({ writable: true });
  }, 90_000);
});
