/**
 * GET /tile/<L>/<N>[.p/<W>] and GET /tile/entries/<N>[.p/<W>] through `app.handle` (no port), over
 * a real SQLite node of 600 entries (two full level 0 tiles, a partial one of 88, a level 1 tile of
 * width 2): the bytes are the stored tree hashes and the canonical entries, full tiles are
 * immutable, partial ones short-lived; bad paths are 400, missing tiles 404, other methods 405;
 * the routes need the `read` role.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { batchOpsMax, loadConfig } from "../../src/config/index.ts";
import { ClusterNode } from "../../src/cluster/cluster-node.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { createApp } from "../../src/http/index.ts";
import { encodeEntry } from "../../src/ledger/index.ts";
import { toHex } from "../../src/lib/index.ts";
import { decodeEntryBundle, nodeRunReader, readHashTile } from "../../src/merkle/index.ts";
import { makeApp } from "../support/app.ts";
import { tempDir } from "../support/node-process.ts";
import { fillLedger } from "../tiles/support.ts";

let s: Awaited<ReturnType<typeof makeApp>>;
beforeAll(async () => {
  s = await makeApp();
  await fillLedger(s.node, 600);
});
afterAll(() => s.close());

const bytesOf = async (response: Response) => new Uint8Array(await response.arrayBuffer());

describe("tiles on the node", () => {
  test("hash tiles are the stored hashes of level 8·L; bundles are the canonical entries, length-prefixed", async () => {
    const reader = nodeRunReader(s.node.tree.store);
    for (const [path, tile] of [
      ["/tile/0/000", { level: 0, index: 0, width: 256 }],
      ["/tile/0/001", { level: 0, index: 1, width: 256 }],
      ["/tile/0/002.p/88", { level: 0, index: 2, width: 88 }],
      ["/tile/1/000.p/2", { level: 1, index: 0, width: 2 }],
    ] as const) {
      const response = await s.call("GET", path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/octet-stream");
      expect(toHex(await bytesOf(response)), path).toBe(toHex(readHashTile(reader, tile)!));
    }
    const bundle = decodeEntryBundle(await bytesOf(await s.call("GET", "/tile/entries/002.p/88")), 88);
    expect(bundle.map(toHex)).toEqual(s.node.entries(512, 88).map((entry) => toHex(encodeEntry(entry))));
    expect(decodeEntryBundle(await bytesOf(await s.call("GET", "/tile/entries/000")), 256).length).toBe(256);
  });

  test("full tiles are immutable for a year; partial ones (any width up to the current one) and the checkpoint, for seconds", async () => {
    expect((await s.call("GET", "/tile/0/001")).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await s.call("GET", "/tile/entries/001")).headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await s.call("GET", "/tile/0/002.p/88")).headers.get("cache-control")).toBe("public, max-age=10");
    expect((await s.call("GET", "/checkpoint")).headers.get("cache-control")).toBe("public, max-age=2"); // mutable: seconds at most
    // A narrower partial tile (an older checkpoint's) is the prefix of the current one.
    const older = await bytesOf(await s.call("GET", "/tile/0/002.p/10"));
    const current = await bytesOf(await s.call("GET", "/tile/0/002.p/88"));
    expect(toHex(older)).toBe(toHex(current.subarray(0, 320)));
    // A partial tile of a full one is its prefix too (a reader falling behind still gets it).
    expect(toHex(await bytesOf(await s.call("GET", "/tile/0/000.p/3")))).toBe(toHex((await bytesOf(await s.call("GET", "/tile/0/000"))).subarray(0, 96)));
  });

  test("bad paths are 400 invalid_request; tiles the tree does not have are 404 not_found", async () => {
    for (const path of ["/tile/0/1", "/tile/00/000", "/tile/64/000", "/tile/0/000.p/256", "/tile/0/x000/001", "/tile/entries/2", "/tile/", "/tile/abc/000"]) {
      const response = await s.call("GET", path);
      expect(response.status, path).toBe(400);
      expect(await response.json(), path).toMatchObject({ code: "invalid_request" });
    }
    for (const path of ["/tile/0/003", "/tile/0/002", "/tile/0/002.p/89", "/tile/1/000", "/tile/2/000.p/1", "/tile/7/000", "/tile/entries/002.p/89", "/tile/0/x001/000"]) {
      const response = await s.call("GET", path);
      expect(response.status, path).toBe(404);
      const body = (await response.json()) as { code: string; error: string };
      expect(body.code, path).toBe("not_found");
      expect(body.error, path).toContain("beyond the tree of 600 leaves");
    }
  });

  test("only GET: other methods are 405 with Allow; `tile` is a reserved name (the key lives under /kv/)", async () => {
    for (const method of ["PUT", "DELETE", "POST"]) {
      const response = await s.call(method, "/tile/0/000", { body: method === "GET" ? undefined : "x" });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow")).toBe("GET");
    }
    // `/tile` alone is no route (like `/cluster`): a reserved name, so not a key either.
    const bare = await s.call("PUT", "/tile", { body: "x" });
    expect(bare.status).toBe(404);
    expect(((await bare.json()) as { code: string }).code).toBe("no_route");
    expect((await s.call("PUT", "/kv/tile", { body: "x" })).status).toBe(200);
    expect(await (await s.call("GET", "/kv/tile")).text()).toBe("x");
  });
});

test("the tile routes need the read role: no key is 401, a read key gets the tile", async () => {
  const dir = tempDir();
  const config = loadConfig({ overrides: { "node.data_dir": dir.path } });
  const node = await ClusterNode.open({ config, logger: createLogger({ ...config.logging, level: "silent" }) });
  try {
    await fillLedger(node, 3);
    const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
    const app = createApp({
      service: node,
      cluster: node,
      limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
      security: { apiKeys: [{ name: "reader", key_sha256: sha256("read-key-0123456789"), role: "read" }], clusterSecret: "", rateLimitPerSec: 0, rateLimitBurst: 1 },
    });
    const get = (path: string, headers: Record<string, string> = {}) => app.handle(new Request(`http://scribe.test${path}`, { headers }));
    for (const path of ["/tile/0/000.p/3", "/tile/entries/000.p/3", "/checkpoint"]) {
      const anonymous = await get(path);
      expect(anonymous.status, path).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: "unauthorized" });
      expect((await get(path, { authorization: "Bearer read-key-0123456789" })).status, path).toBe(200);
    }
  } finally {
    await node.close();
    dir.remove();
  }
});
