/**
 * Bytes are checked on the way out. A node's SQLite file is changed while the node is closed (a
 * value byte, an entries field in the leaf, a version, a missing row), the node is reopened on it,
 * and every read path is asked: GET latest, ?version, ?at, /kv/ and /:key, /entries?values=true,
 * /verify. A mismatch is never served: 500 {error, code: corrupt_value | corrupt_entry}, counted
 * in /metrics and the Prometheus exposition, with one alarm log line per index; everything else,
 * cached or not, is still served right.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import pino from "pino";
import { batchOpsMax, loadConfig } from "../../src/config/index.ts";
import { ClusterNode } from "../../src/cluster/cluster-node.ts";
import { createApp } from "../../src/http/index.ts";
import { fromBase64 } from "../../src/lib/index.ts";
import { tempDir } from "../support/node-process.ts";

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const dir of dirs) dir.remove();
});

/** A node and its app over `dir`, with a logger that keeps every line. */
async function openAt(dir: string) {
  const config = loadConfig({ overrides: { "node.data_dir": dir } });
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
  const node = await ClusterNode.open({ config, logger });
  const app = createApp({
    service: node,
    cluster: node,
    limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
  });
  const call = (method: string, path: string, body?: string) => app.handle(new Request(`http://scribe.test${path}`, { method, ...(body === undefined ? {} : { body, headers: { "content-type": "text/plain" } }) }));
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const metrics = async () => (await (await call("GET", "/metrics")).json()) as { corruption: { values: { hot: number; cold: number }; entries: number }; cache: { values: { hits: number; size: number } } };
  return { node, call, logs, metrics };
}

/**
 * The ledger every case starts from: a v1 = 0, b = 1, a v2 = 2, c = 3, a v3 = 4, c deleted = 5.
 * Then the node is closed, `tamper` changes its file, and it is opened again.
 */
async function tamperedNode(tamper: (db: Database) => void) {
  const dir = tempDir("scribe-corrupt-");
  dirs.push(dir);
  const first = await openAt(dir.path);
  for (const [key, value] of [["a", "alpha one"], ["b", "bravo"], ["a", "alpha two"], ["c", "charlie"], ["a", "alpha three"]]) {
    expect((await first.call("PUT", `/kv/${key}`, value)).status).toBe(200);
  }
  expect((await first.call("DELETE", "/kv/c")).status).toBe(200);
  await first.node.close();
  const db = new Database(join(dir.path, "scribe.db"));
  tamper(db);
  db.close();
  return openAt(dir.path);
}

/** Flips one bit of the value stored at `index` (same length: only the hash can tell). */
function flipValueBit(db: Database, index: number): void {
  const row = db.query<{ value: Uint8Array }, [number]>("SELECT value FROM vals WHERE idx = ?").get(index)!;
  const value = new Uint8Array(row.value);
  value[1]! ^= 0x01;
  expect(db.run("UPDATE vals SET value = ? WHERE idx = ?", [value, index]).changes).toBe(1);
}

async function expectRefused(response: Response, code: string, index: number): Promise<void> {
  expect(response.status).toBe(500);
  expect(response.headers.get("content-type")).toContain("application/json");
  const body = (await response.json()) as { error: string; code: string; index: number };
  expect(body.code).toBe(code);
  expect(body.error).toContain(`entry ${index}`);
  expect(body.index).toBe(index);
}

async function expectValue(response: Response, text: string): Promise<void> {
  expect(response.status).toBe(200);
  expect(await response.text()).toBe(text);
}

function alarms(logs: Record<string, unknown>[]): Record<string, unknown>[] {
  return logs.filter((line) => line.level === 50 && typeof line.alarm === "string");
}

describe("a value byte changed in the file", () => {
  test("is refused on every read path, never cached, counted and alarmed once; other values are served right", async () => {
    const n = await tamperedNode((db) => flipValueBit(db, 2)); // a, version 2
    await expectValue(await n.call("GET", "/kv/b"), "bravo");
    const hitsBefore = (await n.metrics()).cache.values.hits;
    await expectValue(await n.call("GET", "/b"), "bravo"); // served from the cache, checked once
    expect((await n.metrics()).cache.values.hits).toBe(hitsBefore + 1);
    await expectValue(await n.call("GET", "/kv/a"), "alpha three");
    await expectValue(await n.call("GET", "/a?version=1"), "alpha one");

    await expectRefused(await n.call("GET", "/kv/a?version=2"), "corrupt_value", 2);
    await expectRefused(await n.call("GET", "/a?version=2"), "corrupt_value", 2); // not cached after the first refusal
    await expectRefused(await n.call("GET", "/kv/a?at=2"), "corrupt_value", 2);
    await expectRefused(await n.call("GET", "/a?at=3"), "corrupt_value", 2);
    await expectValue(await n.call("GET", "/kv/a?at=4"), "alpha three");

    const page = (await (await n.call("GET", "/entries?from=0&limit=10&values=true")).json()) as { entries: { index: number; value_base64: string | null; value_error?: string }[] };
    expect(page.entries.map((e) => e.value_error ?? null)).toEqual([null, null, "corrupt_value", null, null, null]);
    expect(page.entries[2]!.value_base64).toBeNull();
    expect(new TextDecoder().decode(fromBase64(page.entries[0]!.value_base64!))).toBe("alpha one");
    expect(page.entries[5]!.value_base64).toBe(""); // the tombstone has no value

    const verify = (await (await n.call("GET", "/verify/a?version=2")).json()) as { verified: boolean; error: string };
    expect(verify.verified).toBe(false);
    expect(verify.error).toMatch(/stored value of entry 2 does not match its value hash/);
    expect(((await (await n.call("GET", "/verify/a")).json()) as { verified: boolean }).verified).toBe(true);

    // Every refusal counted (4 GETs, the page, /verify), in /metrics and in the exposition.
    expect((await n.metrics()).corruption).toMatchObject({ values: { hot: 6, cold: 0 }, entries: 0 });
    const exposition = await (await n.call("GET", "/metrics/prometheus")).text();
    expect(exposition).toContain('scribe_ledger_corrupt_values_total{tier="hot"} 6');
    expect(exposition).toContain('scribe_ledger_corrupt_values_total{tier="cold"} 0');
    expect(exposition).toContain("scribe_ledger_corrupt_entries_total 0");
    // One alarm for the index, at error level, naming the index, key and tier.
    expect(alarms(n.logs())).toEqual([expect.objectContaining({ alarm: "corrupt_value", index: 2, key: "a", tier: "hot" })]);
    expect(String(alarms(n.logs())[0]!.msg)).toContain("scribe-node check");
    await n.node.close();
  });

  test("a value row that is missing (and was never evicted) is corrupt_value, not unavailable", async () => {
    const n = await tamperedNode((db) => expect(db.run("DELETE FROM vals WHERE idx = 1").changes).toBe(1));
    await expectRefused(await n.call("GET", "/kv/b"), "corrupt_value", 1);
    await expectValue(await n.call("GET", "/kv/a"), "alpha three");
    await n.node.close();
  });
});

describe("an entries row changed in the file", () => {
  test("a field the leaf covers (content_type) is refused as corrupt_entry wherever the entry is read", async () => {
    const n = await tamperedNode((db) => expect(db.run("UPDATE entries SET content_type = 'text/html' WHERE idx = 4").changes).toBe(1));
    await expectRefused(await n.call("GET", "/kv/a"), "corrupt_entry", 4);
    await expectRefused(await n.call("GET", "/a?version=3"), "corrupt_entry", 4);
    await expectValue(await n.call("GET", "/kv/a?version=2"), "alpha two");
    const page = (await (await n.call("GET", "/entries?from=4&limit=1&values=true")).json()) as { entries: { value_base64: string | null; value_error?: string }[] };
    expect(page.entries[0]).toMatchObject({ value_base64: null, value_error: "corrupt_entry" });
    expect((await n.metrics()).corruption).toMatchObject({ values: { hot: 0, cold: 0 }, entries: 3 });
    expect(await (await n.call("GET", "/metrics/prometheus")).text()).toContain("scribe_ledger_corrupt_entries_total 3");
    expect(alarms(n.logs())).toEqual([expect.objectContaining({ alarm: "corrupt_entry", index: 4, key: "a", tier: "hot" })]);
    await n.node.close();
  });

  test("a version (not in the leaf) that does not follow the key's previous entry is refused", async () => {
    const n = await tamperedNode((db) => expect(db.run("UPDATE entries SET version = 7 WHERE idx = 4").changes).toBe(1));
    await expectRefused(await n.call("GET", "/kv/a"), "corrupt_entry", 4);
    await expectRefused(await n.call("GET", "/kv/a?version=7"), "corrupt_entry", 4);
    await n.node.close();
  });

  test("a put turned into a delete is not reported as deleted", async () => {
    const n = await tamperedNode((db) => expect(db.run("UPDATE entries SET op = 1 WHERE idx = 1").changes).toBe(1));
    await expectRefused(await n.call("GET", "/kv/b"), "corrupt_entry", 1);
    await n.node.close();
  });
});
