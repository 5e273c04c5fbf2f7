/**
 * The node's cold tier in detail (src/cluster/archival.ts, HotStore eviction): only archived
 * ranges are evicted, followers archive nothing, values stay hot until their segment is older than
 * age_threshold_secs, and a segment object that vanished from S3 keeps its values in the hot tier.
 */
import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { ColdTier } from "../../src/cluster/archival.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { loadConfig } from "../../src/config/index.ts";
import { AssertionError } from "../../src/lib/index.ts";
import { HotStore } from "../../src/storage/index.ts";

import { coldOverrides, listStored, makeValues, openNode } from "./support.ts";
import { s3Fixture } from "../support/s3-fixture.ts";

const fixture = s3Fixture("scribe-cold-tier-");
const dir = () => fixture.dir();

const silent = createLogger({ ...loadConfig({}).logging, level: "silent" });

async function nodeWith(prefix: string, values: Uint8Array[], extra: Record<string, unknown> = {}) {
  const n = await openNode(dir(), coldOverrides(fixture.s3, prefix, { "storage.tiering.enable_auto_archival": false, ...extra }));
  for (let i = 0; i < values.length; i++) {
    const response = await n.call("PUT", `/kv/t${i}`, { body: values[i] as Uint8Array<ArrayBuffer> });
    expect(response.status).toBe(200);
  }
  return n;
}

test("HotStore evicts only inside the recorded archived range, from the evicted index on", () => {
  const d = dir();
  const store = HotStore.open(`${d}/scribe.db`, { sync: "normal" });
  try {
    expect(store.coldProgress()).toEqual({ archivedIndex: 0, evictedIndex: 0 });
    expect(() => store.evictValues(0, 1)).toThrow(AssertionError); // nothing archived
    expect(() => store.recordArchived(1)).toThrow(AssertionError); // beyond the ledger (empty)
  } finally {
    store.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test("a follower's cold tier archives and evicts nothing", async () => {
  const n = await nodeWith("follower", makeValues(40, 1));
  const tier = new ColdTier({ config: n.config, ledger: n.node.ledger, logger: silent, isLeader: () => false, checkpointAt: (size) => n.node.checkpoints.exactly(size) });
  // Before it has read the bucket, a follower knows nothing of the cluster's archival: null, not a number.
  expect(tier.metrics()).toMatchObject({ archival_role: "follower", archived_index: null, backlog_entries: null });
  await tier.runOnce();
  expect(tier.metrics()).toMatchObject({ uploads: 0, archived_index: 0, evicted_index: 0, archiving: false, archival_role: "follower" });
  // Nothing is archived in the bucket yet: the follower's 40 entries are the cluster's backlog.
  expect(tier.metrics().backlog_entries).toBe(40);
  expect(listStored(fixture.s3, "follower")).toEqual([]);
  await n.node.close();
});

test("values stay hot until their segment is older than age_threshold_secs, and only while the object is in S3", async () => {
  const prefix = "aged";
  const n = await nodeWith(prefix, makeValues(60, 2), { "storage.tiering.age_threshold_secs": 100 });
  let now = Date.now();
  const tier = new ColdTier({ config: n.config, ledger: n.node.ledger, logger: silent, isLeader: () => true, checkpointAt: (size) => n.node.checkpoints.exactly(size), now: () => now });
  await tier.runOnce();
  const sealed = tier.metrics() as Record<string, number>;
  expect(sealed.archived_index).toBeGreaterThan(0); // full 4 KiB segments are sealed at once
  expect(sealed.archived_index).toBeLessThan(60); // the partial tail waits for the age threshold
  expect(sealed.evicted_index).toBe(0); // too young to leave the hot tier
  expect(n.node.ledger.store.value(0)).toBeDefined();

  // The first segment's object disappears; time passes: nothing is evicted, an error is counted.
  const [first] = listStored(fixture.s3, `${prefix}/segments`);
  rmSync(fixture.s3.objectPath(first!));
  now += 200_000;
  await tier.runOnce();
  const refused = tier.metrics() as Record<string, number>;
  expect(refused.archived_index).toBe(60);
  expect(refused.evicted_index).toBe(0);
  expect(refused.errors).toBeGreaterThan(0);
  expect(String(refused.last_error)).toContain(first!);
  for (let i = 0; i < 60; i++) expect(n.node.ledger.store.value(i)).toBeDefined();
  await tier.stop();
  await n.node.close();
});

test("enable_compression = false stores raw .seg objects; enable_auto_archival = false runs no timer", async () => {
  const prefix = "raw";
  const n = await nodeWith(prefix, makeValues(30, 3), { "storage.tiering.enable_compression": false, "storage.tiering.archival_check_interval_secs": 1 });
  await Bun.sleep(1300);
  expect(n.node.cold!.metrics()).toMatchObject({ auto_archival: false, runs: 0, uploads: 0 });
  await n.node.cold!.runOnce();
  const keys = listStored(fixture.s3, `${prefix}/segments`);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) expect(key).toMatch(/\.seg$/);
  expect(n.node.cold!.metrics()).toMatchObject({ archived_index: 30, evicted_index: 30 });
  const response = await n.call("GET", "/kv/t4");
  expect(response.status).toBe(200);
  await n.node.close();
});
