/**
 * An answer never lies about the outcome (issue 16), checked on a 3-node cluster of real
 * processes while its leader is killed (SIGKILL) again and again under load: writes go to every
 * node (a follower forwards them to the leader, which may die mid-request), each with its own
 * Idempotency-Key.
 *  - every write refused at its first answer (a code other than outcome_unknown) is absent from
 *    the ledger: a refusal changed nothing;
 *  - every write whose outcome was unknown (504 outcome_unknown, or a connection lost after
 *    sending) is retried with the same key until it is answered 200, and then is in the ledger
 *    exactly once, like every write answered 200 at once;
 *  - the history, recorded the same way (src/check), is linearizable.
 * And a follower that catches up by ledger range ends with the same idempotency records.
 */
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { checkKvHistory, recordWriteAnswer, type PendingOperation } from "../../src/check/index.ts";
import { toHex, utf8 } from "../../src/lib/index.ts";
import { TestCluster } from "../support/cluster.ts";
import { newRecorder } from "../support/history.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

type Answer = { kind: "ok" | "unknown" | "failed"; status: number; code?: string };

/** One keyed PUT on a fresh connection; an answer, or unknown when none came after sending. */
async function put(url: string, key: string, value: string, idempotencyKey: string, op?: PendingOperation): Promise<Answer> {
  try {
    const response = await fetch(`${url}/kv/${key}`, { method: "PUT", body: value, headers: { "idempotency-key": idempotencyKey }, signal: AbortSignal.timeout(8000), keepalive: false });
    const body = (await response.json().catch(() => ({}))) as { code?: string };
    const kind = op ? recordWriteAnswer(op, response.status, body.code) : response.status === 200 ? "ok" : body.code === "outcome_unknown" ? "unknown" : "failed";
    return { kind, status: response.status, code: body.code };
  } catch (error) {
    // A refused connect on a fresh connection sent nothing; anything else may have been delivered.
    const refused = (error as { code?: string }).code === "ECONNREFUSED";
    if (refused) op?.failed();
    else op?.unknown();
    return { kind: refused ? "failed" : "unknown", status: 0, code: refused ? "ECONNREFUSED" : (error as Error).name };
  }
}

const sha256 = (text: string) => toHex(Bun.SHA256.hash(utf8(text)) as Uint8Array);

test("kill -9 of the leader under load: refused writes are not in the ledger, unknown ones retried with their key are in it once", async () => {
  cluster = new TestCluster({ size: 3, env: { SCRIBE_API_WRITE_TIMEOUT_SECS: "4" } });
  await cluster.startAll();
  const c = cluster;
  const recorder = newRecorder();
  const acked: string[] = [];
  const refused: { value: string; status: number; code?: string }[] = [];
  const unknown: string[] = [];
  const unresolved: string[] = [];
  let stop = false;

  const client = async (id: number) => {
    for (let seq = 0; !stop; seq++) {
      const targets = c.running();
      if (targets.length === 0) {
        await Bun.sleep(20);
        continue;
      }
      const key = `o${id % 6}`;
      const value = `c${id}-s${seq}`;
      const idempotencyKey = `idem-${value}`;
      const op = recorder.history.begin({ clientId: id, key, kind: "put", value });
      const first = await put(targets[(id + seq) % targets.length]!.url, key, value, idempotencyKey, op);
      if (first.kind === "ok") acked.push(value);
      else if (first.kind === "failed") refused.push({ value, status: first.status, code: first.code });
      else {
        unknown.push(value);
        // The same request with the same key until it is answered: it cannot be appended twice.
        let resolved = false;
        for (let attempt = 0; attempt < 100 && !resolved; attempt++) {
          const nodes = c.running();
          if (nodes.length > 0) resolved = (await put(nodes[attempt % nodes.length]!.url, key, value, idempotencyKey)).kind === "ok";
          if (!resolved) await Bun.sleep(100);
        }
        if (resolved) acked.push(value);
        else unresolved.push(value);
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, i) => client(i)));
  for (let round = 0; round < 3; round++) {
    await Bun.sleep(1200);
    const leader = await c.waitForLeader();
    await c.kill(leader);
    await c.waitForLeader(10_000);
    await c.start(leader, []);
  }
  await Bun.sleep(1000);
  stop = true;
  await load;

  // Converged ledgers, then the values in them by hash.
  const deadline = Date.now() + 15_000;
  let ledger = await c.ledger(1);
  for (;;) {
    const all = await Promise.all(c.running().map((n) => c.ledger(n.id)));
    if (all.every((l) => JSON.stringify(l) === JSON.stringify(all[0]))) {
      ledger = all[0]!;
      break;
    }
    if (Date.now() > deadline) throw new Error("ledgers did not converge");
    await Bun.sleep(200);
  }
  const entries = (await Promise.all(
    Array.from({ length: Math.ceil(ledger.length / 10_000) }, async (_, page) => ((await (await fetch(`${c.node(1).url}/entries?from=${page * 10_000}&limit=10000`)).json()) as { entries: { value_hash: string }[] }).entries),
  )).flat();
  const copies = new Map<string, number>();
  for (const e of entries) copies.set(e.value_hash, (copies.get(e.value_hash) ?? 0) + 1);

  console.log(`outcomes: ${acked.length} acknowledged (${unknown.length} after an unknown outcome and a keyed retry), ${refused.length} refused (${[...new Set(refused.map((r) => r.code))].join(", ")}), ${unresolved.length} unresolved`);
  expect(acked.length).toBeGreaterThan(100);
  expect(unresolved).toEqual([]);
  for (const value of acked) expect({ value, copies: copies.get(sha256(value)) ?? 0 }).toEqual({ value, copies: 1 });
  const appliedRefusals = refused.filter((r) => copies.has(sha256(r.value)));
  expect(appliedRefusals).toEqual([]);
  expect(entries.length).toBe(acked.length);
  const result = checkKvHistory(recorder.ops);
  expect(result.result).toBe("ok");
}, 120_000);

/** A node's idempotency log and live window, read from its stopped database. */
function idempotencyTables(dataDir: string): { log: unknown[]; live: unknown[] } {
  const db = new Database(join(dataDir, "scribe.db"), { readonly: true });
  try {
    const log = db.query<Record<string, unknown>, []>("SELECT * FROM idempotency_log ORDER BY first_idx").all().map((r) => ({ ...r, fingerprint: toHex(r.fingerprint as Uint8Array) }));
    const last = log.at(-1) as { recorded_ms: number; seq: number } | undefined;
    const live = db
      .query<{ idem_key: string; seq: number; first_idx: number; last_idx: number; expires_ms: number; expires_seq: number }, []>("SELECT idem_key, seq, first_idx, last_idx, expires_ms, expires_seq FROM idempotency ORDER BY seq")
      .all()
      .filter((r) => last !== undefined && last.recorded_ms < r.expires_ms && last.seq < r.expires_seq);
    return { log, live };
  } finally {
    db.close();
  }
}

test("a follower that catches up by ledger range ends with the leader's idempotency records", async () => {
  cluster = new TestCluster({ size: 3, compactionThreshold: 10 });
  await cluster.startAll();
  const c = cluster;
  let leader = c.node(await c.waitForLeader());
  const lagging = c.nodes.find((n) => n.id !== leader.id)!;
  const keyedPut = async (i: number, url = leader.url) => (await put(url, `k${i % 7}`, `v${i}`, `key-${i}`)).kind;
  for (let i = 0; i < 20; i++) expect(await keyedPut(i)).toBe("ok");
  await c.kill(lagging.id);
  for (let i = 20; i < 80; i++) expect(await keyedPut(i)).toBe("ok");
  for (let i = 0; i < 80; i += 9) expect(await keyedPut(i)).toBe("ok"); // replays: nothing appended
  await c.start(lagging.id, []);
  const deadline = Date.now() + 20_000;
  while (((await (await fetch(`${lagging.url}/health`)).json()) as { ledger_size: number }).ledger_size < 80) {
    if (Date.now() > deadline) throw new Error("the follower did not catch up");
    await Bun.sleep(100);
  }
  const metrics = (await (await fetch(`${lagging.url}/metrics`)).json()) as { raft: { catchups: number }; idempotency: { records: number } };
  expect(metrics.raft.catchups).toBeGreaterThan(0); // by ledger range: the leader's log was compacted
  expect(metrics.idempotency.records).toBe(80);
  // A write with a key made while it was down, retried through it, is still not appended twice.
  leader = c.node(await c.waitForLeader());
  expect(await keyedPut(50, lagging.url)).toBe("ok");
  expect(((await (await fetch(`${lagging.url}/health`)).json()) as { ledger_size: number }).ledger_size).toBe(80);
  for (const node of c.nodes) await c.kill(node.id);
  const tables = c.nodes.map((n) => idempotencyTables(n.dataDir));
  expect(tables[0]!.log).toHaveLength(80);
  for (const t of tables.slice(1)) expect(t).toEqual(tables[0]!);
}, 90_000);
