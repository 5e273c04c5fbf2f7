/**
 * Liveness and readiness on real processes: in a 3-node cluster whose other two members are
 * paused (SIGSTOP), the remaining node is alive — GET /health answers 200 with its role and term
 * — but not ready: GET /ready answers 503 with Retry-After and names the missing leader. When the
 * others come back (SIGCONT) it is ready again. Neither route needs a key or is rate limited.
 */
import { afterEach, expect, test } from "bun:test";
import { TestCluster } from "../support/cluster.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

interface Readiness {
  ready: boolean;
  reasons?: string[];
  checks: Record<string, { ok: boolean; detail?: string } & Record<string, unknown>>;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

test("a node cut off from its quorum is alive but not ready, with the reason; ready again once the others are back", async () => {
  // Rate limits on, with a burst of 1: probes must never be limited.
  cluster = new TestCluster({ size: 3, extraToml: "\n[security]\nrate_limit_per_sec = 1\nrate_limit_burst = 1\n" });
  await cluster.startAll();
  const c = cluster;
  const leader = await c.waitForLeader();
  const survivor = c.nodes.find((n) => n.id !== leader)!;
  const ready = await fetch(`${survivor.url}/ready`);
  expect(ready.status).toBe(200);
  const body = (await ready.json()) as Readiness;
  expect(body.ready).toBe(true);
  expect(Object.keys(body.checks).sort()).toEqual(["caught_up", "leader", "running", "s3", "storage"]);
  expect(body.checks.leader).toMatchObject({ ok: true, leader_id: leader });
  expect(body.checks.caught_up).toMatchObject({ ok: true, lag_entries_max: 10000 });
  expect(body.checks.s3).toEqual({ ok: true, configured: false });

  for (const n of c.nodes) if (n.id !== survivor.id) n.process!.proc.kill("SIGSTOP");
  const notReady = await until("/ready says no leader", async () => {
    const response = await fetch(`${survivor.url}/ready`);
    if (response.status !== 503) return undefined;
    return { response, body: (await response.json()) as Readiness };
  });
  expect(notReady.response.headers.get("retry-after")).toBe("1");
  expect(notReady.body.ready).toBe(false);
  expect(notReady.body.checks.leader).toMatchObject({ ok: false, leader_id: null });
  expect(notReady.body.reasons!.some((r) => r.startsWith("leader: no leader is known"))).toBe(true);
  expect(notReady.body.checks.storage!.ok).toBe(true);
  // Alive all along: liveness does not depend on a leader (a restart would not bring one back).
  for (let i = 0; i < 5; i++) {
    const health = await fetch(`${survivor.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", node_id: survivor.id, leader_id: null });
  }

  for (const n of c.nodes) if (n.id !== survivor.id) n.process!.proc.kill("SIGCONT");
  await until("/ready again", async () => ((await fetch(`${survivor.url}/ready`)).status === 200 ? true : undefined));
}, 90_000);
