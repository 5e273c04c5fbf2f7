/**
 * kill -9 of a node process in the middle of a segment's multipart upload (its first part is in
 * s3rver, the rest is not), then a restart: the node seals the same range again (pending.json),
 * the bucket ends up with exactly the objects the manifest lists (no second, different object),
 * and every value reads back byte for byte.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bytesEqual } from "../../src/lib/index.ts";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { coldEnv, listStored, until } from "./support.ts";

const prefix = "kill";
const MiB = 1024 * 1024;
let s3: S3ServerHandle;
const data = tempDir("scribe-cold-kill-");
const nodes: NodeProcess[] = [];
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  for (const node of nodes) await node.kill("SIGKILL");
  await s3.stop();
  data.remove();
});

// 16 MiB segments of incompressible 1 MiB values: each object is a multipart upload of two 8 MiB
// parts, and gzip level 9 on random bytes is slow enough to leave a window between the parts.
const env = () =>
  coldEnv(s3, prefix, {
    SCRIBE_STORAGE_SEGMENT_SIZE: String(16 * MiB),
    SCRIBE_STORAGE_TIERING_COMPRESSION_LEVEL: "9",
    SCRIBE_STORAGE_TIERING_ARCHIVAL_CHECK_INTERVAL_SECS: "1",
    SCRIBE_STORAGE_MAX_CACHE_SIZE: "0",
    SCRIBE_SECURITY_CHECKPOINT_ORIGIN: "scribe-test/kill",
  });

async function start(): Promise<NodeProcess> {
  const node = await spawnNode({ dataDir: data.path, env: env() });
  nodes.push(node);
  return node;
}

/** Part files of multipart uploads in progress (s3rver keeps them under ._S3rver_uploads). */
function uploadedParts(): string[] {
  const uploads = join(s3.dir, s3.bucket, "._S3rver_uploads");
  if (!existsSync(uploads)) return [];
  return readdirSync(uploads).flatMap((id) => readdirSync(join(uploads, id)).filter((name) => /^\d+$/.test(name)).map((name) => `${id}/${name}`));
}

test("kill -9 between two parts of a multipart upload, restart: the same single object, no loss", async () => {
  let node = await start();
  const values = Array.from({ length: 20 }, () => crypto.getRandomValues(new Uint8Array(MiB)));
  for (let i = 0; i < values.length; i++) {
    const response = await fetch(`${node.url}/kv/big${i}`, { method: "PUT", body: values[i] as Uint8Array<ArrayBuffer> });
    expect(response.status).toBe(200);
  }
  await until("the first part of a multipart upload", () => uploadedParts().length > 0, 20_000);
  await node.kill("SIGKILL");
  const pending = JSON.parse(readFileSync(s3.objectPath(`${prefix}/pending.json`), "utf8")) as { first_index: number; last_index: number };
  expect(pending.first_index).toBe(0);
  const stored = listStored(s3, `${prefix}/segments`);
  expect(stored).toEqual([]); // killed mid-upload: the segment object does not exist yet

  node = await start();
  await until("archival after the restart", async () => {
    const cold = ((await (await fetch(`${node.url}/metrics`)).json()) as { cold: { evicted_index: number } }).cold;
    return cold.evicted_index === 20;
  }, 30_000);
  const manifest = JSON.parse(readFileSync(s3.objectPath(`${prefix}/manifest.json`), "utf8")) as { segments: { object_key: string; first_index: number; last_index: number }[] };
  expect(manifest.segments[0]).toMatchObject({ first_index: pending.first_index, last_index: pending.last_index });
  expect(listStored(s3, `${prefix}/segments`)).toEqual(manifest.segments.map((s) => s.object_key));
  for (let i = 0; i < values.length; i++) {
    const response = await fetch(`${node.url}/kv/big${i}`);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), values[i]!)).toBe(true);
  }
}, 60_000);
