/**
 * API keys and roles, the cluster HMAC principal, rate limits and audit records, through
 * `app.handle` (no port). TLS, the audit log file and the refusal to listen publicly are in
 * test/e2e/security.test.ts.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { batchOpsMax, loadConfig } from "../../src/config/index.ts";
import { ClusterNode } from "../../src/cluster/cluster-node.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { bodySha256, clusterAuthHeader, clusterAuthSkewMsMax, clusterAuthValue, clusterBodyHashHeader, createApp, type AuditRecord, type SecurityOptions } from "../../src/http/index.ts";
import { NonceCache } from "../../src/http/security.ts";
import { tempDir } from "../support/node-process.ts";

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const keys = { reader: "read-key-0123456789", writer: "write-key-0123456789", admin: "admin-key-0123456789" };
const secret = "cluster-secret-0123456789";

async function makeSecuredApp(extra: Partial<SecurityOptions> = {}) {
  const dir = tempDir();
  const config = loadConfig({ overrides: { "node.data_dir": dir.path } });
  const node = await ClusterNode.open({ config, logger: createLogger({ ...config.logging, level: "silent" }) });
  const audit: AuditRecord[] = [];
  const app = createApp({
    service: node,
    cluster: node,
    limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
    security: {
      apiKeys: [
        { name: "reader", key_sha256: sha256(keys.reader), role: "read" },
        { name: "writer", key_sha256: sha256(keys.writer), role: "write" },
        { name: "root", key_sha256: sha256(keys.admin), role: "admin" },
      ],
      clusterSecret: secret,
      rateLimitPerSec: 0,
      rateLimitBurst: 1,
      audit: (record) => audit.push(record),
      ...extra,
    },
  });
  const call = (method: string, path: string, headers: Record<string, string> = {}, body?: BodyInit) => app.handle(new Request(`http://scribe.test${path}`, { method, headers, body }));
  return { app, node, audit, call, close: async () => (await node.close(), dir.remove()) };
}

describe("API keys and roles", () => {
  let s: Awaited<ReturnType<typeof makeSecuredApp>>;
  beforeAll(async () => (s = await makeSecuredApp()));
  afterAll(() => s.close());

  test("no key or an unknown key gets 401 unauthorized, as JSON", async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer not-a-key" }, { "x-api-key": "nope" }, { authorization: `Basic ${keys.admin}` }];
    for (const headers of attempts) {
      const response = await s.call("GET", "/kv/a", headers);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: "unauthorized" });
    }
    expect((await s.call("PUT", "/kv/a", {}, "x")).status).toBe(401);
  });

  test("a read-only key reads but cannot write (403 forbidden), and nothing is written", async () => {
    const put = await s.call("PUT", "/kv/ro", { authorization: `Bearer ${keys.reader}` }, "value");
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ code: "forbidden" });
    expect((await s.call("DELETE", "/kv/ro", { "x-api-key": keys.reader })).status).toBe(403);
    expect((await s.call("POST", "/batch", { "x-api-key": keys.reader }, JSON.stringify({ ops: [{ op: "put", key: "b", value: "1" }] }))).status).toBe(403);
    expect(s.node.size).toBe(0);
    const get = await s.call("GET", "/kv/ro", { "x-api-key": keys.reader });
    expect(get.status).toBe(404);
    expect(await get.json()).toMatchObject({ code: "not_found" });
  });

  test("a write key writes (Bearer or X-API-Key) but cannot change membership", async () => {
    const put = await s.call("PUT", "/kv/w", { authorization: `Bearer ${keys.writer}` }, "v1");
    expect(put.status).toBe(200);
    expect((await s.call("GET", "/kv/w", { "x-api-key": keys.writer })).status).toBe(200);
    const add = await s.call("POST", "/cluster/nodes/add", { "x-api-key": keys.writer }, JSON.stringify({ node_id: 9, address: "127.0.0.1:9999" }));
    expect(add.status).toBe(403);
    // admin passes authorization; the body then fails validation (400 invalid_request, not 401/403)
    const asAdmin = await s.call("POST", "/cluster/nodes/remove", { "x-api-key": keys.admin }, "{}");
    expect(asAdmin.status).toBe(400);
    expect(await asAdmin.json()).toMatchObject({ code: "invalid_request" });
  });

  test("/health needs no key; /metrics, /openapi and /metrics/prometheus need one", async () => {
    expect((await s.call("GET", "/health")).status).toBe(200);
    for (const path of ["/metrics", "/metrics/prometheus", "/openapi", "/checkpoint"]) {
      expect((await s.call("GET", path)).status).toBe(401);
      expect((await s.call("GET", path, { "x-api-key": keys.reader })).status).toBe(200);
    }
  });

  test("another node's HMAC (discovery.cluster_secret) is the internal principal; a wrong or stale one is not", async () => {
    const path = "/batch";
    const body = JSON.stringify({ ops: [{ op: "put", key: "internal", value: "from a follower" }] });
    const signed = (timeMs = Date.now(), signedBody = body) => ({ [clusterAuthHeader]: clusterAuthValue({ secret, method: "POST", target: path, timeMs, bodyHash: bodySha256(signedBody) }), [clusterBodyHashHeader]: bodySha256(signedBody) });
    const ok = await s.call("POST", path, signed(), body);
    expect(ok.status).toBe(200);
    // A captured header cannot carry another body: the HMAC covers the body's hash.
    const otherBody = JSON.stringify({ ops: [{ op: "put", key: "internal", value: "forged" }] });
    const forged = await s.call("POST", path, signed(), otherBody);
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: "unauthorized" });
    const forgedHash = await s.call("POST", path, { ...signed(), [clusterBodyHashHeader]: bodySha256(otherBody) }, otherBody);
    expect(forgedHash.status).toBe(401);
    const unsignedBody = await s.call("POST", path, { [clusterAuthHeader]: clusterAuthValue({ secret, method: "POST", target: path }) }, otherBody);
    expect(unsignedBody.status).toBe(401);
    const history = (await (await s.call("GET", "/history/internal", { "x-api-key": keys.reader })).json()) as { versions: unknown[] };
    expect(history.versions).toHaveLength(1);
    const wrong = await s.call("POST", path, { [clusterAuthHeader]: clusterAuthValue({ secret: "another-secret-0123456", method: "POST", target: path }) }, body);
    expect(wrong.status).toBe(401);
    const stale = await s.call("POST", path, signed(Date.now() - 3_600_000), body);
    expect(stale.status).toBe(401);
    expect(await stale.json()).toMatchObject({ code: "clock_skew" });
    // signed for another path: not valid here
    const otherPath = await s.call("POST", path, { [clusterAuthHeader]: clusterAuthValue({ secret, method: "POST", target: "/cluster/read-index" }) }, body);
    expect(otherPath.status).toBe(401);
    const read = await s.call("GET", "/cluster/ledger-size?raft_index=0", { [clusterAuthHeader]: clusterAuthValue({ secret, method: "GET", target: "/cluster/ledger-size?raft_index=0" }) });
    expect(read.status).toBe(200);
  });

  test("the audit log records every mutation with principal, key, index and result", async () => {
    s.audit.length = 0;
    const put = (await (await s.call("PUT", "/kv/audited", { "x-api-key": keys.writer }, "v")).json()) as { index: number };
    await s.call("PUT", "/kv/audited", { "x-api-key": keys.writer, "if-match": "7" }, "v");
    await s.call("DELETE", "/kv/audited", { "x-api-key": keys.admin });
    await s.call("POST", "/batch", { "x-api-key": keys.writer }, JSON.stringify({ ops: [{ op: "put", key: "x", value: "1" }, { op: "put", key: "y", value: "2" }] }));
    await s.call("PUT", "/kv/denied", { "x-api-key": keys.reader }, "v");
    expect(s.audit).toHaveLength(4);
    expect(s.audit[0]).toMatchObject({ action: "put", principal: "writer", role: "write", key: "audited", index: put.index, result: "ok", status: 200 });
    expect(s.audit[1]).toMatchObject({ action: "put", principal: "writer", key: "audited", result: "error", status: 412, code: "precondition_failed" });
    expect(s.audit[2]).toMatchObject({ action: "delete", principal: "root", role: "admin", key: "audited", index: put.index + 1, result: "ok" });
    expect(s.audit[3]).toMatchObject({ action: "batch", principal: "writer", keys: ["x", "y"], first_index: put.index + 2, last_index: put.index + 3, result: "ok" });
  });
});

describe("request size limits", () => {
  test("every route that reads a body refuses an oversized one with 413 and changes nothing", async () => {
    const s = await makeSecuredApp({ apiKeys: [] });
    try {
      const big = "x".repeat(70 * 1024); // above the 64 KiB bound of membership requests
      for (const path of ["/cluster/nodes/add", "/cluster/nodes/remove"]) {
        const response = await s.call("POST", path, {}, JSON.stringify({ node_id: 2, address: "127.0.0.1:9002", pad: big }));
        expect(response.status).toBe(413);
        expect(await response.json()).toMatchObject({ code: "payload_too_large" });
      }
      // a streamed body without Content-Length is cut off too
      const stream = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 80; i++) controller.enqueue(new Uint8Array(1024));
          controller.close();
        },
      });
      const streamed = await s.app.handle(new Request("http://scribe.test/cluster/nodes/add", { method: "POST", body: stream, duplex: "half" } as RequestInit));
      expect(streamed.status).toBe(413);
      expect(s.node.status().membership.length).toBe(1);
      expect(s.node.size).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe("rate limits", () => {
  test("a client past its burst gets 429 rate_limited with Retry-After; tokens come back with time; keys have their own buckets", async () => {
    let now = 1_000_000;
    const s = await makeSecuredApp({ rateLimitPerSec: 2, rateLimitBurst: 3, nowMs: () => now });
    try {
      const reader = { "x-api-key": keys.reader };
      for (let i = 0; i < 3; i++) expect((await s.call("GET", "/checkpoint", reader)).status).toBe(200);
      const limited = await s.call("GET", "/checkpoint", reader);
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toBe("1");
      expect(await limited.json()).toMatchObject({ code: "rate_limited" });
      expect((await s.call("GET", "/checkpoint", { "x-api-key": keys.writer })).status).toBe(200);
      now += 500; // half a second: one token at 2/s
      expect((await s.call("GET", "/checkpoint", reader)).status).toBe(200);
      expect((await s.call("GET", "/checkpoint", reader)).status).toBe(429);
      // node-to-node calls are never limited
      for (let i = 0; i < 5; i++) {
        const response = await s.call("GET", "/cluster/nodes", { [clusterAuthHeader]: clusterAuthValue({ secret, method: "GET", target: "/cluster/nodes", timeMs: now }) });
        expect(response.status).toBe(200);
      }
    } finally {
      await s.close();
    }
  });

  test("without keys, clients are limited by address", async () => {
    const s = await makeSecuredApp({ apiKeys: [], rateLimitPerSec: 1, rateLimitBurst: 2, nowMs: () => 5 });
    try {
      expect((await s.call("PUT", "/kv/k", {}, "v")).status).toBe(200);
      expect((await s.call("GET", "/kv/k")).status).toBe(200);
      const response = await s.call("GET", "/kv/k");
      expect(response.status).toBe(429);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // Health probes take no token (the route table's rateLimited flag), so they keep answering.
      for (let i = 0; i < 5; i++) expect((await s.call("GET", "/health")).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe("replay protection of node-to-node calls", () => {
  test("a nonce is accepted once within the window, forgotten after it, and the cache is bounded (fails closed)", () => {
    const cache = new NonceCache(3);
    const windowMs = 2 * clusterAuthSkewMsMax;
    expect(windowMs).toBeLessThanOrEqual(30_000);
    expect(cache.accept("a", 0)).toBe("ok");
    expect(cache.accept("a", windowMs - 1)).toBe("replayed");
    expect(cache.accept("b", 1)).toBe("ok");
    expect(cache.accept("c", 2)).toBe("ok");
    expect(cache.accept("d", 3)).toBe("full");
    expect(cache.size).toBe(3);
    // Past the window the oldest expire (their signatures are out of the window by then anyway).
    expect(cache.accept("d", windowMs + 1)).toBe("ok");
    expect(cache.size).toBe(2);
  });

  test("the same signed request twice through the app: the second is refused with replayed", async () => {
    const s = await makeSecuredApp();
    try {
      const headers = { [clusterAuthHeader]: clusterAuthValue({ secret, method: "GET", target: "/cluster/nodes" }) };
      expect((await s.call("GET", "/cluster/nodes", headers)).status).toBe(200);
      const again = await s.call("GET", "/cluster/nodes", headers);
      expect(again.status).toBe(401);
      expect(await again.json()).toMatchObject({ code: "replayed" });
    } finally {
      await s.close();
    }
  });
});
