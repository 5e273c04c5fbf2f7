/**
 * A node whose Raft driver failed (here: its database broken under it by another process) stops
 * serving writes and reports it, without exiting the process: the owner decides that. Liveness
 * (/health) fails only then — the node must be restarted — and readiness (/ready) names why.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { makeApp } from "../support/app.ts";
import { schemaErrors } from "../support/schemas.ts";

test("after a driver failure, a write in flight answers 504 outcome_unknown, later writes 503, /health reports the node failed and /ready says why", async () => {
  const t = await makeApp();
  try {
    expect((await t.call("PUT", "/kv/before", { body: "x" })).status).toBe(200);
    expect((await t.call("GET", "/health")).status).toBe(200);
    expect((await t.call("GET", "/ready")).status).toBe(200);
    const db = new Database(`${t.config.node.data_dir}/scribe.db`);
    db.exec("DROP TABLE raft_state");
    db.close();
    const failed = await t.call("PUT", "/kv/after", { body: "y" });
    expect(failed.status).toBe(504);
    expect(((await failed.json()) as { code: string }).code).toBe("outcome_unknown"); // proposed when it failed: outcome unknown
    const refused = await t.call("PUT", "/kv/later", { body: "z" });
    expect(refused.status).toBe(503);
    expect((await refused.json()) as { code: string; error: string }).toMatchObject({ code: "unavailable", error: expect.stringContaining("Raft driver failed") });
    const health = await t.call("GET", "/health");
    expect(health.status).toBe(503);
    expect(health.headers.get("retry-after")).toBe("1");
    const failedHealth = (await health.json()) as { status: string };
    expect(failedHealth.status).toBe("failed");
    // The answers of a failed node are the ones the OpenAPI document describes.
    expect(schemaErrors(["Health"], failedHealth)).toEqual([]);
    const info = (await (await t.call("GET", "/cluster/info")).json()) as { failed: string | null };
    expect(info.failed).toEqual(expect.any(String));
    expect(schemaErrors(["NodeStatus"], info)).toEqual([]);
    const ready = await t.call("GET", "/ready");
    expect(ready.status).toBe(503);
    const readiness = (await ready.json()) as { ready: boolean; reasons: string[]; checks: Record<string, { ok: boolean; code?: string }> };
    expect(schemaErrors(["Ready"], readiness)).toEqual([]);
    expect(readiness.ready).toBe(false);
    expect(readiness.checks.storage).toMatchObject({ ok: false, code: "driver_failed" });
    expect(readiness.checks.running!.ok).toBe(false);
    expect(readiness.reasons.some((r) => r.startsWith("storage: ") && r.includes("Raft driver failed"))).toBe(true);
    expect((await t.call("GET", "/kv/before?consistency=stale")).status).toBe(200);
  } finally {
    await t.close();
  }
});
