/**
 * `--endpoints` and `--api-key` against real processes: a closed first endpoint fails over to the
 * next for reads and writes; an HTTP error (a 503 from a stand-in node) does not fail over; a
 * write whose connection was reset is reported unknown and never sent to a second node; `status`
 * reports every endpoint and `members` the cluster; API keys come from the flag or
 * SCRIBE_API_KEY, and a refused key exits 5. Writes carry an idempotency key: an unknown outcome
 * (a stand-in that delivers the write, then answers 504) is retried once with the same key and
 * the write is in the ledger once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { scribe } from "./support.ts";

const dir = tempDir("scribe-cli-endpoints-");
let node: NodeProcess;
let closed: string;

beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path });
  closed = `http://127.0.0.1:${freePort()}`;
});
afterAll(async () => {
  await node.kill("SIGTERM");
  dir.remove();
});

/** A stand-in node that answers every request with 503 {error, code}; counts what it got. */
function unavailableNode() {
  let requests = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      requests++;
      return Response.json({ error: "no leader right now", code: "no_leader" }, { status: 503, headers: { "retry-after": "1" } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests: () => requests, stop: () => server.stop(true) };
}

/** A listener that accepts each connection, reads the request, and closes without answering. */
function resettingNode() {
  let connections = 0;
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open() {
        connections++;
      },
      data(socket) {
        socket.end();
      },
    },
  });
  return { url: `http://127.0.0.1:${listener.port}`, connections: () => connections, stop: () => listener.stop(true) };
}

/**
 * A stand-in follower in front of the node: it passes each request on, but answers the first
 * `lose` writes 504 outcome_unknown after delivering them (as a follower whose leader died after
 * applying the write would). Records the Idempotency-Key of every write.
 */
function lossyNode(lose: number) {
  const keys: (string | null)[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      const url = new URL(request.url);
      const body = request.method === "GET" ? undefined : await request.arrayBuffer();
      const headers = new Headers(request.headers);
      headers.delete("host");
      const answer = await fetch(`${node.url}${url.pathname}${url.search}`, { method: request.method, headers, body });
      if (request.method === "GET") return answer;
      keys.push(request.headers.get("idempotency-key"));
      if (keys.length > lose) return new Response(await answer.arrayBuffer(), { status: answer.status, headers: answer.headers });
      await answer.arrayBuffer();
      return Response.json({ error: "the leader was lost after the write was sent", code: "outcome_unknown" }, { status: 504 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, keys, stop: () => server.stop(true) };
}

async function versions(key: string): Promise<number> {
  const response = await fetch(`${node.url}/history/${key}`);
  return response.status === 200 ? ((await response.json()) as { versions: unknown[] }).versions.length : 0;
}

async function exists(key: string): Promise<boolean> {
  return (await fetch(`${node.url}/kv/${key}`)).status === 200;
}

describe("--endpoints failover", () => {
  test("a closed first endpoint: reads and writes go to the next one", async () => {
    const endpoints = ["--endpoints", `${closed},${node.url}`];
    const put = await scribe(["put", "failover", "value", ...endpoints]);
    expect(put.exitCode, put.stderr).toBe(0);
    expect(await exists("failover")).toBe(true);
    const get = await scribe(["get", "failover", ...endpoints]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdoutText).toBe("value");
    for (const args of [["list"], ["history", "failover"], ["members"], ["verify", "failover"], ["audit"], ["delete", "failover"]]) {
      const result = await scribe([...args, ...endpoints]);
      expect(result.exitCode, `${args.join(" ")}: ${result.stderr}`).toBe(0);
    }
    expect(await exists("failover")).toBe(false);
  });

  test("--server takes a list too, and SCRIBE_ENDPOINTS does the same", async () => {
    expect((await scribe(["put", "alias", "a", "--server", `${closed},${node.url}`])).exitCode).toBe(0);
    expect((await scribe(["get", "alias"], { env: { SCRIBE_ENDPOINTS: `${closed},${node.url}` } })).stdoutText).toBe("a");
  });

  test("every endpoint closed: exit 4, naming each", async () => {
    const other = `http://127.0.0.1:${freePort()}`;
    const result = await scribe(["get", "alias", "--endpoints", `${closed},${other}`]);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toContain(`cannot reach any endpoint: ${closed} (`);
    expect(result.stderr).toContain(`${other} (`);
  });

  test("an HTTP error is an answer: no failover (a 503 from the first endpoint exits 4)", async () => {
    const stand_in = unavailableNode();
    try {
      const put = await scribe(["put", "not-failed-over", "v", "--endpoints", `${stand_in.url},${node.url}`]);
      expect(put.exitCode).toBe(4);
      expect(put.stderr).toContain("503 no leader right now (no_leader)");
      const get = await scribe(["get", "alias", "--endpoints", `${stand_in.url},${node.url}`]);
      expect(get.exitCode).toBe(4);
      expect(stand_in.requests()).toBe(2);
      expect(await exists("not-failed-over")).toBe(false);
    } finally {
      stand_in.stop();
    }
  });

  test("a write whose connection was reset is not resent elsewhere (its outcome is unknown); a read is", async () => {
    const resetting = resettingNode();
    try {
      const put = await scribe(["put", "maybe-written", "v", "--endpoints", `${resetting.url},${node.url}`]);
      expect(put.exitCode).toBe(4);
      expect(put.stderr).toContain("outcome is unknown");
      expect(await exists("maybe-written")).toBe(false);
      const get = await scribe(["get", "alias", "--endpoints", `${resetting.url},${node.url}`]);
      expect(get.exitCode, get.stderr).toBe(0);
      expect(get.stdoutText).toBe("a");
      expect(resetting.connections()).toBeGreaterThanOrEqual(2);
    } finally {
      resetting.stop();
    }
  });
});

describe("idempotency keys", () => {
  test("an unknown outcome is retried once with the same key: the write is applied once and its receipt printed", async () => {
    const lossy = lossyNode(1);
    try {
      const put = await scribe(["put", "once-only", "v1", "-o", "json", "--endpoints", lossy.url]);
      expect(put.exitCode, put.stderr).toBe(0);
      expect(JSON.parse(put.stdoutText)).toMatchObject({ key: "once-only", version: 1 });
      expect(lossy.keys).toHaveLength(2);
      expect(lossy.keys[0]).toMatch(/^[0-9a-f-]{36}$/); // a random key made for this run
      expect(lossy.keys[1]).toBe(lossy.keys[0]!);
      expect(await versions("once-only")).toBe(1);
    } finally {
      lossy.stop();
    }
  });

  test("still unknown after the retry: exit 4 naming the key; running again with it writes nothing twice", async () => {
    const lossy = lossyNode(2);
    try {
      const put = await scribe(["put", "twice-lost", "v", "--endpoints", lossy.url]);
      expect(put.exitCode).toBe(4);
      const key = /--idempotency-key (\S+)/.exec(put.stderr)?.[1];
      expect(key).toBe(lossy.keys[0]!);
      expect(await versions("twice-lost")).toBe(1); // it was applied; the answers were lost
      const again = await scribe(["put", "twice-lost", "v", "-o", "json", "--idempotency-key", key!, "--endpoints", node.url]);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(JSON.parse(again.stdoutText)).toMatchObject({ key: "twice-lost", version: 1, index: expect.any(Number) });
      expect(await versions("twice-lost")).toBe(1);
      // The same key for a different write is refused: exit 5, nothing written.
      const other = await scribe(["put", "twice-lost", "other", "--idempotency-key", key!, "--endpoints", node.url]);
      expect(other.exitCode).toBe(5);
      expect(other.stderr).toContain("idempotency_key_reused");
      const del = await scribe(["delete", "twice-lost", "--idempotency-key", key!, "--endpoints", node.url]);
      expect(del.exitCode).toBe(5);
      expect(await versions("twice-lost")).toBe(1);
    } finally {
      lossy.stop();
    }
  });
});

describe("status and members", () => {
  test("status asks every endpoint: text table, json, and exit 4 when one is down", async () => {
    const healthy = await scribe(["status", "--server", node.url]);
    expect(healthy.exitCode, healthy.stderr).toBe(0);
    const [header, row] = healthy.stdoutText.trimEnd().split("\n");
    expect(header!.split(/ {2,}/)).toEqual(["ENDPOINT", "NODE", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LEDGER", "KEYS", "HEALTH", "READY"]);
    expect(row!.split(/ {2,}/)).toEqual([node.url, "1", "leader", expect.stringMatching(/^\d+$/), "1", expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), "ok", "yes"]);

    const mixed = await scribe(["status", "--endpoints", `${node.url},${closed}`]);
    expect(mixed.exitCode).toBe(4);
    const rows = mixed.stdoutText.trimEnd().split("\n").slice(1);
    expect(rows.map((r) => r.split(/ {2,}/).slice(-2))).toEqual([["ok", "yes"], ["unreachable", "-"]]);
    expect(mixed.stderr).toContain(`cannot reach ${closed}`);
    expect(mixed.stderr).toContain("1 of 2 endpoint(s) did not report healthy and ready");

    const json = await scribe(["status", "--endpoints", `${node.url},${closed}`, "-o", "json"]);
    expect(json.exitCode).toBe(4);
    const document = JSON.parse(json.stdoutText) as { endpoints: Record<string, unknown>[] };
    expect(document.endpoints[0]).toMatchObject({ endpoint: node.url, reachable: true, healthy: true, ready: true, reasons: [], error: null, metrics: { node_id: 1, role: "leader", healthy: true } });
    expect(document.endpoints[1]).toMatchObject({ endpoint: closed, reachable: false, healthy: false, error: expect.stringContaining("cannot reach"), metrics: null });
  });

  test("status shows a node that serves but is not ready, with the reason, and exits 4", async () => {
    // Its bucket is on a closed port: alive (GET /health 200) but GET /ready answers 503 (s3).
    const data = tempDir("scribe-cli-unready-");
    const unready = await spawnNode({
      dataDir: data.path,
      readyPath: "/health",
      env: { SCRIBE_STORAGE_S3_BUCKET: "b", SCRIBE_STORAGE_S3_ENDPOINT: `http://127.0.0.1:${freePort()}`, SCRIBE_STORAGE_S3_PATH_STYLE: "true", SCRIBE_STORAGE_S3_MAX_RETRIES: "0" },
    });
    try {
      let result = await scribe(["status", "--server", unready.url]);
      for (let i = 0; i < 100 && !result.stderr.includes("S3 was unreachable"); i++) {
        await Bun.sleep(100); // until the start check has settled
        result = await scribe(["status", "--server", unready.url]);
      }
      expect(result.exitCode).toBe(4);
      const [, row] = result.stdoutText.trimEnd().split("\n");
      expect(row!.split(/ {2,}/).slice(-2)).toEqual(["ok", "no"]);
      expect(result.stderr).toContain(`${unready.url} is not ready: s3: S3 was unreachable when last tried`);
      expect(result.stderr).toContain("1 of 1 endpoint(s) did not report healthy and ready");
    } finally {
      await unready.kill("SIGKILL");
      data.remove();
    }
  });

  test("members lists the cluster: text table and the /cluster/nodes document", async () => {
    const text = await scribe(["members", "--server", node.url]);
    expect(text.exitCode, text.stderr).toBe(0);
    const [header, row] = text.stdoutText.trimEnd().split("\n");
    expect(header!.split(/ {2,}/)).toEqual(["ID", "ROLE", "LEADER", "RAFT", "HTTP", "MATCH", "LAG", "ANSWERED"]);
    expect(row!.split(/ {2,}/)).toEqual(["1", "voter", "leader", expect.stringMatching(/^127\.0\.0\.1:\d+$/), `127.0.0.1:${node.port}`, expect.stringMatching(/^\d+$/), "0", "*"]);
    const json = await scribe(["members", "--server", node.url, "-o", "json"]);
    expect(JSON.parse(json.stdoutText)).toEqual(await (await fetch(`${node.url}/cluster/nodes`)).json());
  });
});

describe("--api-key against a node with API keys", () => {
  const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
  const writeKey = "cli-write-key-0123456789";
  const readKey = "cli-read-key-0123456789";
  const keyDir = tempDir("scribe-cli-keys-");
  let secured: NodeProcess;

  beforeAll(async () => {
    const config = join(keyDir.path, "config.toml");
    await Bun.write(
      config,
      `[security]\napi_keys = [{ name = "writer", key_sha256 = "${sha256(writeKey)}", role = "write" }, { name = "reader", key_sha256 = "${sha256(readKey)}", role = "read" }]\n`,
    );
    secured = await spawnNode({ dataDir: join(keyDir.path, "data"), args: ["--config", config] });
  });
  afterAll(async () => {
    await secured.kill("SIGTERM");
    keyDir.remove();
  });

  test("the flag and SCRIBE_API_KEY authenticate; the flag wins; a missing, unknown or too weak key exits 5", async () => {
    const server = ["--server", secured.url];
    expect((await scribe(["put", "secret", "s3cret", ...server, "--api-key", writeKey])).exitCode).toBe(0);
    expect((await scribe(["get", "secret", ...server], { env: { SCRIBE_API_KEY: readKey } })).stdoutText).toBe("s3cret");
    const list = await scribe(["list", ...server, "--api-key", readKey]);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdoutText).toStartWith("secret\t1\t");
    expect((await scribe(["verify", "secret", ...server, "--api-key", readKey])).exitCode).toBe(0);
    expect((await scribe(["audit", ...server, "--api-key", readKey])).exitCode).toBe(0);

    const none = await scribe(["get", "secret", ...server]);
    expect(none.exitCode).toBe(5);
    expect(none.stderr).toContain("401");
    const unknown = await scribe(["get", "secret", ...server, "--api-key", "not-a-key"]);
    expect(unknown.exitCode).toBe(5);
    const weak = await scribe(["put", "secret", "x", ...server], { env: { SCRIBE_API_KEY: readKey } });
    expect(weak.exitCode).toBe(5);
    expect(weak.stderr).toContain("403");
    expect(weak.stderr).toContain("forbidden");
    // The flag overrides the environment.
    expect((await scribe(["put", "secret", "x", ...server, "--api-key", writeKey], { env: { SCRIBE_API_KEY: readKey } })).exitCode).toBe(0);
  });
});
