/**
 * Idempotency keys through the HTTP API of an in-process node over a real SQLite file: a retry
 * with the same key and request answers the original receipts (Idempotent-Replayed: true) and
 * appends nothing; another request under a live key is refused 422; the window is measured in
 * the leader's command timestamps (the node's clock here is the test's) and bounded in keys; the
 * records survive a restart. Writes without a key leave no record.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { tempDir } from "../support/node-process.ts";
import { makeApp } from "../support/app.ts";

type App = Awaited<ReturnType<typeof makeApp>>;
let open: App[] = [];
afterEach(async () => {
  for (const app of open) await app.close();
  open = [];
});

async function start(overrides: Record<string, unknown> = {}, now?: () => number): Promise<App> {
  const app = await makeApp(overrides, { now });
  open.push(app);
  return app;
}

async function answer(response: Response): Promise<{ status: number; body: Record<string, unknown>; replayed: string | null }> {
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, replayed: response.headers.get("idempotent-replayed") };
}

const size = async (t: App) => ((await (await t.call("GET", "/health")).json()) as { ledger_size: number }).ledger_size;
const idempotency = async (t: App) => ((await (await t.call("GET", "/metrics")).json()) as { idempotency: { window_rows: number; records: number } }).idempotency;

describe("Idempotency-Key", () => {
  test("a retry answers the original receipt and appends nothing; another request under the key is refused 422", async () => {
    const t = await start();
    const first = await answer(await t.call("PUT", "/kv/acct", { body: "100", headers: { "idempotency-key": "pay-1" } }));
    expect(first.status).toBe(200);
    expect(first.replayed).toBeNull();
    const retry = await answer(await t.call("PUT", "/kv/acct", { body: "100", headers: { "idempotency-key": "pay-1" } }));
    expect(retry).toEqual({ status: 200, body: first.body, replayed: "true" });
    expect(await size(t)).toBe(1);
    // The same request through the one-segment route is the same request.
    expect(await answer(await t.call("PUT", "/acct", { body: "100", headers: { "idempotency-key": "pay-1" } }))).toEqual({ status: 200, body: first.body, replayed: "true" });

    for (const [method, path, body] of [["PUT", "/kv/acct", "200"], ["PUT", "/kv/other", "100"], ["DELETE", "/kv/acct", undefined]] as const) {
      const reused = await answer(await t.call(method, path, { body, headers: { "idempotency-key": "pay-1" } }));
      expect(reused.status).toBe(422);
      expect(reused.body).toMatchObject({ code: "idempotency_key_reused", first_index: 0, last_index: 0 });
    }
    expect(await size(t)).toBe(1);
    const history = (await (await t.call("GET", "/history/acct")).json()) as { versions: unknown[] };
    expect(history.versions).toHaveLength(1);

    // A delete is keyed the same way.
    const del = await answer(await t.call("DELETE", "/kv/acct", { headers: { "idempotency-key": "del-1" } }));
    expect(del.status).toBe(200);
    expect(await answer(await t.call("DELETE", "/kv/acct", { headers: { "idempotency-key": "del-1" } }))).toEqual({ status: 200, body: del.body, replayed: "true" });
    expect(await size(t)).toBe(2);
  });

  test("batches: the key in the body or the header (equal when both), replayed whole", async () => {
    const t = await start();
    const ops = [
      { op: "put", key: "b1", value: "1" },
      { op: "put", key: "b2", value: "2" },
    ];
    const first = await answer(await t.call("POST", "/batch", { body: JSON.stringify({ ops, idempotency_key: "batch-1" }) }));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ first_index: 0, last_index: 1, tree_size: 2 });
    const byHeader = await answer(await t.call("POST", "/batch", { body: JSON.stringify({ ops }), headers: { "idempotency-key": "batch-1" } }));
    expect(byHeader).toEqual({ status: 200, body: first.body, replayed: "true" });
    const both = await answer(await t.call("POST", "/batch", { body: JSON.stringify({ ops, idempotency_key: "batch-1" }), headers: { "idempotency-key": "batch-1" } }));
    expect(both.replayed).toBe("true");
    const mismatch = await answer(await t.call("POST", "/batch", { body: JSON.stringify({ ops, idempotency_key: "batch-1" }), headers: { "idempotency-key": "batch-2" } }));
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toContain("differ");
    const reordered = await answer(await t.call("POST", "/batch", { body: JSON.stringify({ ops: [ops[1], ops[0]], idempotency_key: "batch-1" }) }));
    expect(reordered.status).toBe(422);
    expect(await size(t)).toBe(2);
  });

  test("malformed keys are refused 400 invalid_request and change nothing", async () => {
    const t = await start();
    for (const key of ["", "x".repeat(256), "a\u0001b"]) {
      const refused = await answer(await t.call("PUT", "/kv/k", { body: "v", headers: { "idempotency-key": key } }));
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe("invalid_request");
    }
    for (const body of [{ ops: [{ op: "put", key: "k", value: "v" }], idempotency_key: 7 }, { ops: [{ op: "put", key: "k", value: "v" }], idempotency_key: "" }, { ops: [{ op: "put", key: "k", value: "v" }], extra: 1 }]) {
      const refused = await answer(await t.call("POST", "/batch", { body: JSON.stringify(body) }));
      expect(refused.status).toBe(400);
    }
    // UTF-8 in the header is a key like any other (HTTP hands the bytes over one per character).
    const utf8Key = String.fromCharCode(...new TextEncoder().encode("clé-1"));
    const ok = await answer(await t.call("PUT", "/kv/k", { body: "v", headers: { "idempotency-key": utf8Key } }));
    expect(ok.status).toBe(200);
    const batch = await answer(await t.call("POST", "/batch", { body: JSON.stringify({ ops: [{ op: "put", key: "k", value: "v" }], idempotency_key: "clé-1" }) }));
    expect(batch.status).toBe(422); // the same key ("clé-1"), a different request
    expect(await size(t)).toBe(1);
  });

  test("a refused write records nothing: its retry is judged again", async () => {
    const t = await start();
    const refused = await t.call("PUT", "/kv/cond", { body: "v", headers: { "idempotency-key": "c1", "if-match": "1" } });
    expect(refused.status).toBe(412);
    expect((await t.call("PUT", "/kv/cond", { body: "v0" })).status).toBe(200);
    const retried = await answer(await t.call("PUT", "/kv/cond", { body: "v", headers: { "idempotency-key": "c1", "if-match": "1" } }));
    expect(retried.status).toBe(200);
    expect(retried.replayed).toBeNull();
    expect(retried.body).toMatchObject({ index: 1, version: 2 });
  });

  test("concurrent retries of one write append it once and all get its receipt", async () => {
    const t = await start();
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.call("PUT", "/kv/race", { body: "once", headers: { "idempotency-key": "race-1" } }).then(answer)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers.filter((a) => a.replayed === null)).toHaveLength(1);
    expect(await size(t)).toBe(1);
  });

  test("the window is measured in command timestamps, and at most keys_max keys are remembered", async () => {
    const clock = { now: 1_700_000_000_000 };
    const t = await start({ "api.idempotency_window_secs": 60, "api.idempotency_keys_max": 3 }, () => clock.now);
    const put = (key: string) => t.call("PUT", "/kv/w", { body: "v", headers: { "idempotency-key": key } }).then(answer);
    const first = await put("w1");
    clock.now += 59_000;
    expect((await put("w1")).replayed).toBe("true");
    clock.now += 1_000; // 60 s after the write: forgotten
    const again = await put("w1");
    expect(again.replayed).toBeNull();
    expect(again.body.index).toBe((first.body.index as number) + 1);

    // By count: the fourth key pushes the oldest out.
    for (const key of ["w2", "w3", "w4"]) expect((await put(key)).status).toBe(200);
    expect((await put("w4")).replayed).toBe("true");
    expect((await put("w2")).replayed).toBe("true");
    const sizeBefore = await size(t);
    expect((await put("w1")).replayed).toBeNull(); // the again-record of w1 was the oldest of four
    expect(await size(t)).toBe(sizeBefore + 1);
    const stats = await idempotency(t);
    expect(stats.window_rows).toBeLessThanOrEqual(3); // pruned as records die
    expect(stats.records).toBe(6);
  });

  test("records survive a restart; writes without a key leave none", async () => {
    const dir = tempDir();
    try {
      const t1 = await makeApp({ "node.data_dir": dir.path });
      expect((await t1.call("PUT", "/kv/plain", { body: "v" })).status).toBe(200);
      expect(await idempotency(t1)).toMatchObject({ records: 0, window_rows: 0 });
      const first = await answer(await t1.call("PUT", "/kv/kept", { body: "v", headers: { "idempotency-key": "restart-1" } }));
      await t1.close();
      const t2 = await makeApp({ "node.data_dir": dir.path });
      open.push(t2);
      expect(await answer(await t2.call("PUT", "/kv/kept", { body: "v", headers: { "idempotency-key": "restart-1" } }))).toEqual({ status: 200, body: first.body, replayed: "true" });
      expect(await idempotency(t2)).toMatchObject({ records: 1, window_rows: 1 });
    } finally {
      await Promise.all(open.map((a) => a.close()));
      open = [];
      dir.remove();
    }
  });
});
