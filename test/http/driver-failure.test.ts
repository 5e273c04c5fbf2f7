/**
 * A node whose Raft driver failed (here: its database broken under it by another process) stops
 * serving writes and reports unhealthy, without exiting the process: the owner decides that.
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { makeApp } from "../support/app.ts";

test("after a driver failure, writes answer 503 and /health reports the node unavailable", async () => {
  const t = await makeApp();
  try {
    expect((await t.call("PUT", "/kv/before", { body: "x" })).status).toBe(200);
    expect((await t.call("GET", "/health")).status).toBe(200);
    const db = new Database(`${t.config.node.data_dir}/scribe.db`);
    db.exec("DROP TABLE raft_state");
    db.close();
    const failed = await t.call("PUT", "/kv/after", { body: "y" });
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as { code: string }).code).toBe("timeout"); // proposed when it failed: outcome unknown
    const refused = await t.call("PUT", "/kv/later", { body: "z" });
    expect(refused.status).toBe(503);
    expect((await refused.json()) as { code: string; error: string }).toMatchObject({ code: "unavailable", error: expect.stringContaining("Raft driver failed") });
    const health = await t.call("GET", "/health");
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe("unavailable");
    expect((await t.call("GET", "/kv/before?consistency=stale")).status).toBe(200);
  } finally {
    await t.close();
  }
});
