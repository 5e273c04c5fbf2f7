/**
 * The cold tier in a real scribe-node process configured by SCRIBE_STORAGE_S3_* environment
 * variables, against a real s3rver: the timer archives and evicts, GETs read through; S3 stopped →
 * writes still succeed, nothing is evicted, the error counter and a log line show it; S3 back →
 * catch-up; kill -9 during archival then restart → no duplicate or different object; restore with
 * `scribe-node restore --from-s3` gives the same ledger; a tampered object makes restore fail
 * naming it.
 */
import { expect, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { bytesEqual } from "../../src/lib/index.ts";
import { spawnNode, type NodeProcess } from "../support/node-process.ts";
import { coldEnv, listStored, makeValues, until } from "./support.ts";
import { s3Fixture } from "../support/s3-fixture.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const prefix = "proc";
const nodes: NodeProcess[] = [];
const fixture = s3Fixture("scribe-cold-proc-", async () => {
  for (const node of nodes) await node.kill("SIGKILL");
});
const dir = () => fixture.dir();

// A fixed origin: by default it names the node's address and port, which change between runs here.
const env = () => coldEnv(fixture.s3, prefix, { SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS: "1", SCRIBE_STORAGE_MAX_CACHE_SIZE: "0", SCRIBE_SECURITY_CHECKPOINT_ORIGIN: "scribe-test/cold" });
const keyOf = (i: number) => `p/${i % 50}`;

async function start(dataDir: string): Promise<NodeProcess> {
  const node = await spawnNode({ dataDir, env: env() });
  nodes.push(node);
  return node;
}

async function coldOf(node: NodeProcess): Promise<Record<string, number>> {
  return ((await (await fetch(`${node.url}/metrics`)).json()) as { cold: Record<string, number> }).cold;
}

async function put(node: NodeProcess, values: Uint8Array[], offset: number): Promise<void> {
  const ops = values.map((value, i) => ({ op: "put", key: keyOf(offset + i), value_base64: Buffer.from(value).toString("base64") }));
  for (let i = 0; i < ops.length; i += 100) {
    const response = await fetch(`${node.url}/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ops: ops.slice(i, i + 100) }) });
    expect(response.status).toBe(200);
  }
}

async function expectValues(node: NodeProcess, values: Uint8Array[]): Promise<void> {
  for (let i = 0; i < values.length; i++) {
    const response = await fetch(`${node.url}/kv/${keyOf(i)}?version=${Math.floor(i / 50) + 1}`);
    expect(response.status).toBe(200);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), values[i]!)).toBe(true);
  }
}

/** Runs the restore subcommand (asynchronously: s3rver runs in this process and must keep serving). */
async function restore(dataDir: string, verifierKey: string) {
  const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts"), "restore", "--from-s3", "--data-dir", dataDir, "--verifier-key", verifierKey], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SCRIBE_LOGGING_LEVEL: "warn", ...env() },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

test("a node process archives, evicts, reads through, rides out S3 outages, survives kill -9 mid-archival, and restores", async () => {
  const data = dir();
  let node = await start(data);
  const verifierKey = (await (await fetch(`${node.url}/checkpoint/key`)).text()).trim();
  const values = makeValues(150, 11);
  await put(node, values.slice(0, 150), 0);
  await until("archival and eviction of 150 entries", async () => (await coldOf(node)).evicted_index === 150);
  let cold = await coldOf(node);
  expect(cold.uploads).toBeGreaterThan(0);
  expect(cold.errors).toBe(0);
  await expectValues(node, values);
  expect((await coldOf(node)).read_through).toBeGreaterThan(0);

  // S3 stopped: writes succeed, the error counter moves, nothing is evicted.
  await fixture.s3.pause();
  const outage = makeValues(50, 12);
  await put(node, outage, 150);
  values.push(...outage);
  await until("an archival error", async () => (await coldOf(node)).errors > 0);
  cold = await coldOf(node);
  expect(cold.evicted_index).toBe(150);
  expect(cold.backlog_entries).toBe(50);
  expect(node.output()).toContain("archival failed");
  // S3 back: catches up.
  await fixture.s3.resume();
  await until("catch-up after the outage", async () => (await coldOf(node)).evicted_index === 200, 20_000);

  // kill -9 while a big backlog is being archived, then restart.
  const burst = makeValues(400, 13);
  await put(node, burst, 200);
  values.push(...burst);
  await until("archival under way", async () => {
    const c = await coldOf(node);
    return c.archived_index > 200;
  });
  await node.kill("SIGKILL");
  node = await start(data);
  await until("archival done after the restart", async () => (await coldOf(node)).evicted_index === 600, 30_000).catch(async (error) => {
    console.error(node.output().split("\n").filter((l) => l.includes("cold")).join("\n"), await coldOf(node));
    throw error;
  });
  const manifest = JSON.parse(readFileSync(fixture.s3.objectPath(`${prefix}/manifest.json`), "utf8")) as { segments: { object_key: string; first_index: number; last_index: number }[] };
  expect(listStored(fixture.s3, `${prefix}/segments`)).toEqual(manifest.segments.map((s) => s.object_key)); // no second, different object
  manifest.segments.forEach((s, i) => expect(s.first_index).toBe(i === 0 ? 0 : manifest.segments[i - 1]!.last_index + 1));
  await expectValues(node, values);
  const entries = await (await fetch(`${node.url}/entries?from=0&limit=1000`)).json();
  const checkpoint = await (await fetch(`${node.url}/checkpoint`)).text();
  await node.kill("SIGTERM");

  // Restore into an empty directory with the CLI: the same entries, the same root.
  const restoredDir = dir();
  const restored = await restore(restoredDir, verifierKey);
  expect(restored.stderr).toBe("");
  expect(restored.exitCode).toBe(0);
  expect(JSON.parse(restored.stdout)).toMatchObject({ restored: true, tree_size: 600, entries: 600 });
  const copy = await spawnNode({ dataDir: restoredDir, env: { ...env(), SCRIBE_STORAGE_TIERING_ENABLE_AUTO_ARCHIVAL: "false" } });
  nodes.push(copy);
  expect(await (await fetch(`${copy.url}/entries?from=0&limit=1000`)).json()).toEqual(entries);
  expect((await (await fetch(`${copy.url}/checkpoint`)).text()).split("\n").slice(1, 3)).toEqual(checkpoint.split("\n").slice(1, 3));
  expect(((await (await fetch(`${copy.url}/verify/p/9`)).json()) as { verified: boolean }).verified).toBe(true);
  await expectValues(copy, values);
  await copy.kill("SIGTERM");

  // Into a non-empty directory: refused.
  const refused = await restore(restoredDir, verifierKey);
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr).toContain("not empty");

  // A tampered segment: restore fails naming the object and the index, and leaves nothing behind.
  const victim = manifest.segments[3]!;
  const path = fixture.s3.objectPath(victim.object_key);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
  writeFileSync(path, bytes);
  const tamperedDir = join(dir(), "restored");
  const failed = await restore(tamperedDir, verifierKey);
  expect(failed.exitCode).toBe(1);
  expect(failed.stderr).toContain(victim.object_key);
  expect(failed.stderr).toContain(`index ${victim.first_index}`);
  expect(existsSync(tamperedDir) ? readdirSync(tamperedDir) : []).toEqual([]);
}, 90_000);
