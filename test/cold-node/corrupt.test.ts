/**
 * A value that fails its check in the hot tier is never archived: the archival pass fails as a
 * value (counted, retried later, nothing uploaded from that point on) and the ledger counts the
 * corrupt value, instead of sealing bytes into S3 that the ledger did not commit.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { tempDir } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { coldOverrides, listStored, makeValues, openNode } from "./support.ts";

let s3: S3ServerHandle;
const dirs: { remove(): void }[] = [];
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3.stop();
  for (const dir of dirs) dir.remove();
});

test("a corrupt hot value stops archival at its segment: nothing of it reaches S3, the error and the corruption are counted", async () => {
  const dir = tempDir("scribe-cold-corrupt-");
  dirs.push(dir);
  const prefix = "corrupt-archive";
  const overrides = coldOverrides(s3, prefix);
  let n = await openNode(dir.path, overrides);
  const values = makeValues(120, 5);
  for (let i = 0; i < values.length; i++) {
    const response = await n.call("PUT", `/kv/k/${i % 40}`, { body: values[i] as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/octet-stream" } });
    expect(response.status).toBe(200);
  }
  await n.node.close();
  const tamperedIndex = 90;
  const db = new Database(join(dir.path, "scribe.db"));
  const value = new Uint8Array(db.query<{ value: Uint8Array }, [number]>("SELECT value FROM vals WHERE idx = ?").get(tamperedIndex)!.value);
  value[0]! ^= 0x80;
  db.run("UPDATE vals SET value = ? WHERE idx = ?", [value, tamperedIndex]);
  db.close();

  n = await openNode(dir.path, overrides);
  await n.node.cold!.runOnce();
  const cold = await n.cold();
  expect(cold.errors).toBe(1);
  expect(String(cold.last_error)).toContain(`the stored value of entry ${tamperedIndex} does not match its value hash`);
  expect(cold.archived_index).toBeGreaterThan(0); // the segments before it are archived
  expect(cold.archived_index).toBeLessThanOrEqual(tamperedIndex);
  const manifest = JSON.parse(await Bun.file(s3.objectPath(`${prefix}/manifest.json`)).text()) as { segments: { object_key: string; last_index: number }[] };
  expect(manifest.segments.every((segment) => segment.last_index < tamperedIndex)).toBe(true);
  expect(listStored(s3, `${prefix}/segments`)).toEqual(manifest.segments.map((segment) => segment.object_key));
  const metrics = (await (await n.call("GET", "/metrics")).json()) as { corruption: { values: { hot: number } } };
  expect(metrics.corruption.values.hot).toBe(1);
  // The next pass fails the same way: nothing is archived past the bad value, nothing evicted from it.
  await n.node.cold!.runOnce();
  expect((await n.cold()).archived_index).toBe(cold.archived_index);
  expect(n.node.ledger.store.value(tamperedIndex)).toBeDefined();
  await n.node.close();
}, 60_000);
