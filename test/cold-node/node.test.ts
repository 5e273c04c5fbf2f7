/**
 * The cold tier inside a node (in process, real s3rver on loopback): archival of sealed segments,
 * eviction of their values from the hot tier, read-through GETs that return every byte, S3 outages
 * (writes go on, nothing is evicted, errors are counted) and the catch-up after, and restore of an
 * empty node from the bucket alone.
 */
import { expect, test } from "bun:test";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { restoreNode } from "../../src/cluster/restore.ts";
import { bytesEqual } from "../../src/lib/index.ts";
import { readManifest } from "../../src/storage/cold/index.ts";

import { coldOverrides, listStored, makeValues, openNode } from "./support.ts";
import { s3Fixture } from "../support/s3-fixture.ts";

const fixture = s3Fixture("scribe-cold-node-");
const dir = () => fixture.dir();

const keyOf = (i: number) => `k/${i % 40}`;

async function putAll(call: Awaited<ReturnType<typeof openNode>>["call"], values: Uint8Array[], offset = 0): Promise<void> {
  for (let i = 0; i < values.length; i++) {
    const response = await call("PUT", `/kv/${keyOf(offset + i)}`, { body: values[i] as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/octet-stream" } });
    expect(response.status).toBe(200);
  }
}

test("archive, evict, read through; S3 down: writes go on, nothing evicted, errors counted; S3 back: catches up; restore", async () => {
  const prefix = "inproc";
  const overrides = coldOverrides(fixture.s3, prefix, { "storage.max_cache_size": 0 });
  const data = dir();
  let n = await openNode(data, overrides);
  const values = makeValues(120, 7);
  await putAll(n.call, values);
  await n.node.cold!.runOnce();
  await n.node.cold!.runOnce();

  let cold = await n.cold();
  expect(cold.archived_index).toBe(120);
  expect(cold.backlog_entries).toBe(0);
  expect(cold.uploads).toBeGreaterThanOrEqual(3); // 120 values of ~300 B in 4 KiB segments
  expect(cold.bytes).toBeGreaterThan(0);
  expect(cold.evicted_index).toBe(120);
  for (let i = 0; i < 120; i++) expect(n.node.ledger.store.value(i)).toBeUndefined(); // the rows are gone
  const manifest = (await readManifest(n.node.cold!.storage.uploader, n.node.cold!.storage.layout))!;
  expect(listStored(fixture.s3, `${prefix}/segments`)).toEqual(manifest.segments.map((s) => s.object_key));

  // Every version, byte for byte, through the HTTP API (read-through from S3, verified).
  for (let i = 0; i < 120; i++) {
    const response = await n.call("GET", `/kv/${keyOf(i)}?version=${Math.floor(i / 40) + 1}`);
    expect(response.status).toBe(200);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), values[i]!)).toBe(true);
    expect(response.headers.get("x-scribe-index")).toBe(String(i));
  }
  cold = await n.cold();
  expect(cold.read_through).toBeGreaterThanOrEqual(120);
  expect(cold.errors).toBe(0);
  const verify = (await (await n.call("GET", "/verify/k/3")).json()) as { verified: boolean };
  expect(verify.verified).toBe(true);

  // Restart: progress is durable; reads still come from S3.
  await n.node.close();
  n = await openNode(data, overrides);
  cold = await n.cold();
  expect(cold.evicted_index).toBe(120);
  const first = await n.call("GET", `/kv/${keyOf(5)}?version=1`);
  expect(bytesEqual(new Uint8Array(await first.arrayBuffer()), values[5]!)).toBe(true);

  // S3 down: writes are accepted, archival fails and is counted, nothing new is evicted.
  await fixture.s3.pause();
  const more = makeValues(60, 8);
  await putAll(n.call, more, 120);
  await n.node.cold!.runOnce();
  cold = await n.cold();
  expect(cold.errors).toBeGreaterThan(0);
  expect(cold.archived_index).toBe(120);
  expect(cold.evicted_index).toBe(120);
  expect(cold.backlog_entries).toBe(60);
  for (let i = 120; i < 180; i++) expect(n.node.ledger.store.value(i)).toBeDefined();
  // An evicted value whose segment is not cached cannot be read while S3 is down: 503, not a wrong answer.
  const unreachable = await n.call("GET", `/kv/${keyOf(119)}?version=3`);
  expect(unreachable.status).toBe(503);

  // S3 back: archival catches up and evicts.
  await fixture.s3.resume();
  await n.node.cold!.runOnce();
  await n.node.cold!.runOnce();
  cold = await n.cold();
  expect(cold.archived_index).toBe(180);
  expect(cold.evicted_index).toBe(180);
  for (let i = 0; i < 60; i++) {
    const response = await n.call("GET", `/kv/${keyOf(120 + i)}?version=${Math.floor((120 + i) / 40) + 1}`);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), more[i]!)).toBe(true);
  }
  const root = n.node.tree.root();
  const entries = n.node.entries(0, 1000);
  const verifierKey = n.node.verifierKey;
  const origin = n.node.keyHistory().origin;
  expect(origin).toMatch(/^scribe-ledger\//);
  await n.node.close();

  // Restore into an empty directory: the same ledger.
  const restoredDir = dir();
  const config = loadConfig({ overrides: { "node.data_dir": restoredDir, ...overrides } });
  const result = await restoreNode({ config, verifierKeys: [verifierKey], logger: createLogger({ ...config.logging, level: "silent" }) });
  expect(result.tree_size).toBe(180);
  expect(result.checkpoint.size).toBe(180);
  const restored = await openNode(restoredDir, { ...overrides, "storage.tiering.enable_auto_archival": false });
  expect(bytesEqual(restored.node.tree.root(), root)).toBe(true);
  expect(restored.node.entries(0, 1000)).toEqual(entries);
  for (let i = 0; i < 180; i++) expect(restored.node.ledger.store.value(i)).toBeDefined();
  const restoredVerify = (await (await restored.call("GET", "/verify/k/7")).json()) as { verified: boolean; checkpoint: string };
  expect(restoredVerify.verified).toBe(true);
  // The restored node keeps the log's identity: the bucket checkpoint's origin.
  expect(result.checkpoint.origin).toBe(origin!);
  expect(restoredVerify.checkpoint.split("\n")[0]).toBe(origin!);
  expect(restored.node.keyHistory().origin).toBe(origin);
  expect((await restored.cold()).archived_index).toBe(180);
  await restored.node.close();

  // Not into a non-empty directory; not with the wrong key.
  await expect(restoreNode({ config, verifierKeys: [verifierKey], logger: createLogger({ ...config.logging, level: "silent" }) })).rejects.toThrow(/not empty/);
}, 60_000);
