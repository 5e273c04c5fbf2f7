/**
 * Corrupt bytes are never served, with real node processes: a value byte changed in a stopped
 * node's SQLite file (hot tier), and a byte changed in a segment object in S3 (s3rver on loopback)
 * after the cold tier evicted its values. The read answers 500 corrupt_value, the Prometheus
 * counter counts it by tier, the log has an error-level alarm naming the index, key and tier, and
 * every other value is served right. `scribe-node check` then names the bad index offline.
 */
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bytesEqual } from "../../src/lib/index.ts";
import { coldEnv, makeValues, until } from "../cold-node/support.ts";
import { spawnNode, type NodeProcess } from "../support/node-process.ts";
import { s3Fixture } from "../support/s3-fixture.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const nodes: NodeProcess[] = [];
const fixture = s3Fixture("scribe-corrupt-proc-", async () => {
  for (const node of nodes) await node.kill("SIGKILL");
});
const newDir = () => fixture.dir();

async function start(dataDir: string, options: { port?: number; env?: Record<string, string> } = {}): Promise<NodeProcess> {
  const node = await spawnNode({ dataDir, ...options });
  nodes.push(node);
  return node;
}

/** The alarm lines (error level, with an `alarm` field) in a node's JSON log. */
function alarms(node: NodeProcess): Record<string, unknown>[] {
  return node
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.level === 50 && typeof line.alarm === "string");
}

async function exposition(node: NodeProcess): Promise<string> {
  return (await fetch(`${node.url}/metrics/prometheus`)).text();
}

async function batch(node: NodeProcess, ops: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < ops.length; i += 100) {
    const response = await fetch(`${node.url}/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ops: ops.slice(i, i + 100) }) });
    expect(response.status).toBe(200);
  }
}

test("a value byte changed in a stopped node's file: 500 corrupt_value after the restart, counted, alarmed; check names it", async () => {
  const dir = newDir();
  let node = await start(dir);
  await batch(node, Array.from({ length: 40 }, (_, i) => ({ op: "put", key: `key-${i % 10}`, value: `value ${i}` })));
  expect(await node.kill("SIGTERM")).toBe(0);
  const db = new Database(join(dir, "scribe.db"));
  const stored = new Uint8Array(db.query<{ value: Uint8Array }, []>("SELECT value FROM vals WHERE idx = 37").get()!.value);
  expect(new TextDecoder().decode(stored)).toBe("value 37"); // key-7's latest version
  stored[6]! ^= 0x01; // "value 27": one bit, same length
  db.run("UPDATE vals SET value = ? WHERE idx = 37", [stored]);
  db.close();

  node = await start(dir, { port: node.port });
  for (let round = 0; round < 2; round++) {
    const response = await fetch(`${node.url}/key-7`);
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: string; code: string };
    expect(body.code).toBe("corrupt_value");
    expect(body.error).toContain("the stored value of entry 37 does not match its value hash");
  }
  // Every other value, from SQLite then from the cache, is served right.
  for (let round = 0; round < 2; round++) {
    for (const i of [30, 31, 36, 39]) expect(await (await fetch(`${node.url}/kv/key-${i % 10}`)).text()).toBe(`value ${i}`);
  }
  expect(await (await fetch(`${node.url}/kv/key-7?version=3`)).text()).toBe("value 27");
  expect(await exposition(node)).toContain('scribe_ledger_corrupt_values_total{tier="hot"} 2');
  expect(alarms(node)).toEqual([expect.objectContaining({ alarm: "corrupt_value", index: 37, key: "key-7", tier: "hot" })]);
  expect((await node.kill("SIGTERM"))).toBe(0);

  const check = Bun.spawnSync(["bun", join(repoRoot, "src/main.ts"), "check", dir], { cwd: repoRoot });
  expect(check.exitCode).toBe(1);
  expect(check.stdout.toString()).toContain('value       index 37 key "key-7": value hashes to');
}, 60_000);

test("a byte changed in a segment object in S3: read-through answers 500 corrupt_value for its values only", async () => {
  const prefix = "corrupt";
  const dir = newDir();
  // No value cache: every read of an evicted value goes to S3.
  const env = coldEnv(fixture.s3, prefix, { SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS: "1", SCRIBE_STORAGE_MAX_CACHE_SIZE: "0" });
  const node = await start(dir, { env });
  const values = makeValues(150, 21);
  const keyOf = (i: number) => `c/${i % 30}`;
  await batch(node, values.map((value, i) => ({ op: "put", key: keyOf(i), value_base64: Buffer.from(value).toString("base64") })));
  const cold = async () => ((await (await fetch(`${node.url}/metrics`)).json()) as { cold: Record<string, number> }).cold;
  await until("archival and eviction of 150 entries", async () => (await cold()).evicted_index === 150, 30_000);

  const manifest = JSON.parse(readFileSync(fixture.s3.objectPath(`${prefix}/manifest.json`), "utf8")) as { segments: { object_key: string; first_index: number; last_index: number }[] };
  expect(manifest.segments.length).toBeGreaterThan(2);
  const victim = manifest.segments[1]!;
  const path = fixture.s3.objectPath(victim.object_key);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x20;
  writeFileSync(path, bytes);

  const read = (i: number) => fetch(`${node.url}/kv/${keyOf(i)}?version=${Math.floor(i / 30) + 1}`);
  const inVictim = victim.first_index + 1;
  const response = await read(inVictim);
  expect(response.status).toBe(500);
  const body = (await response.json()) as { error: string; code: string };
  expect(body.code).toBe("corrupt_value");
  expect(body.error).toContain(`entry ${inVictim}`);
  expect(body.error).toContain(victim.object_key);
  // Values in the other segments still come back, byte for byte, from S3.
  for (const i of [0, victim.last_index + 1, 149]) {
    const ok = await read(i);
    expect(ok.status).toBe(200);
    expect(bytesEqual(new Uint8Array(await ok.arrayBuffer()), values[i]!)).toBe(true);
  }
  // An auditor's page names every value of the bad segment, and only those.
  const page = (await (await fetch(`${node.url}/entries?from=0&limit=150&values=true`)).json()) as { entries: { index: number; value_error?: string }[] };
  const bad = page.entries.filter((e) => e.value_error !== undefined);
  expect(bad.map((e) => e.index)).toEqual(Array.from({ length: victim.last_index - victim.first_index + 1 }, (_, i) => victim.first_index + i));
  expect(new Set(bad.map((e) => e.value_error))).toEqual(new Set(["corrupt_value"]));

  const text = await exposition(node);
  expect(text).toMatch(new RegExp(`scribe_ledger_corrupt_values_total\\{tier="cold"\\} ${1 + bad.length}\\b`));
  expect(text).toContain('scribe_ledger_corrupt_values_total{tier="hot"} 0');
  const coldAlarms = alarms(node).filter((line) => line.tier === "cold");
  expect(coldAlarms.length).toBe(bad.length);
  expect(coldAlarms[0]).toMatchObject({ alarm: "corrupt_value", index: inVictim, key: keyOf(inVictim), tier: "cold" });
}, 90_000);
