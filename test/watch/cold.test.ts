/**
 * A watch resumed from an archived index: the node (in process, served over TCP) archived its
 * ledger to a real s3rver on loopback and evicted the values from SQLite; GET /watch from an
 * evicted index with values=true reads them back through the cold tier, and the verifying client
 * gets every value byte for byte. `scribe mirror` copies the same node whole, evicted values
 * included, and ends equal to its checkpoint.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ScribeLedger } from "../../src/embedded.ts";
import { bytesEqual, toHex } from "../../src/lib/index.ts";
import { scribe } from "../cli/support.ts";
import { tempDir } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { coldOverrides, makeValues, openNode } from "../cold-node/support.ts";
import { collectWatch } from "./support.ts";

let s3: S3ServerHandle;
let n: Awaited<ReturnType<typeof openNode>>;
let server: ReturnType<typeof Bun.serve>;
const data = tempDir("scribe-watch-cold-");
const mirrorDir = tempDir("scribe-watch-cold-mirror-");
const values = makeValues(150, 11);
const keyOf = (i: number) => `cold/${i % 12}`;

beforeAll(async () => {
  s3 = await startS3Server();
  n = await openNode(data.path, coldOverrides(s3, "watch", { "storage.max_cache_size": 0 }));
  for (let i = 0; i < values.length; i++) {
    const response = await n.call("PUT", `/kv/${keyOf(i)}`, { body: values[i] as Uint8Array<ArrayBuffer>, headers: { "content-type": "application/octet-stream" } });
    expect(response.status).toBe(200);
  }
  await n.node.cold!.runOnce();
  await n.node.cold!.runOnce();
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: n.app.fetch });
}, 60_000);
afterAll(async () => {
  server.stop(true);
  await n.node.close();
  await s3.stop();
  data.remove();
  mirrorDir.remove();
});

const url = () => `http://127.0.0.1:${server.port}`;

test("watch from an evicted index with values: every value comes back from S3, verified", async () => {
  const cold = (await n.cold()) as Record<string, number>;
  expect(cold.evicted_index).toBe(values.length);
  for (const index of [30, 31, 149]) expect(n.node.ledger.store.value(index)).toBeUndefined(); // gone from SQLite
  const readBefore = cold.read_through ?? 0;

  const { entries, checkpoints, ends } = await collectWatch({ url: url(), from: 30, values: true, until: values.length });
  expect(entries.map((e) => e.entry.index)).toEqual(Array.from({ length: values.length - 30 }, (_, i) => 30 + i));
  for (const watched of entries) {
    expect(watched.entry.key).toBe(keyOf(watched.entry.index));
    expect(watched.valueError).toBeUndefined();
    expect(bytesEqual(watched.value!, values[watched.entry.index]!)).toBe(true);
  }
  expect(checkpoints.at(-1)!.nextIndex).toBe(values.length);
  expect(ends.map((e) => e.reason)).toEqual(["until"]);
  expect(((await n.cold()) as Record<string, number>).read_through).toBeGreaterThan(readBefore);
}, 60_000);

test("scribe mirror copies the archived node whole and ends equal to its checkpoint", async () => {
  const key = (await (await fetch(`${url()}/checkpoint/key`)).text()).trim();
  const result = await scribe(["mirror", "--server", url(), "--key", key, "--to", mirrorDir.path, "--once", "-o", "json"]);
  expect(result.exitCode, result.stderr).toBe(0);
  const ledger = await ScribeLedger.open(mirrorDir.path);
  try {
    expect(ledger.size).toBe(values.length);
    const node = await n.node.checkpoint();
    const mine = await ledger.checkpoint();
    expect([mine.size, toHex(mine.rootHash)]).toEqual([node.checkpoint.size, toHex(node.checkpoint.rootHash)]);
    for (const index of [0, 30, 77, 149]) {
      const value = await ledger.get(keyOf(index), { at: index });
      expect(value?.index).toBe(index);
      expect(bytesEqual(value!.bytes, values[index]!)).toBe(true);
      expect(value!.entry.timestampMs).toBe(n.node.entries(index, 1)[0]!.timestampMs);
    }
  } finally {
    await ledger.close();
  }
}, 60_000);
