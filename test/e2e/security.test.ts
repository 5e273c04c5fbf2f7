/**
 * Security of a running server: HTTPS with a self-signed certificate made here (openssl), a
 * three-node cluster with API keys, HTTPS and Raft TLS whose node-to-node calls (forwarded
 * writes, read index, joins) pass as the internal principal, the audit log file, and the refusal
 * to listen beyond loopback without keys.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config } from "../../src/config/index.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { checkExposure, startServer, type RunningServer } from "../../src/cluster/server.ts";
import { freePort, tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const adminKey = "e2e-admin-key-0123456789";
const readKey = "e2e-read-key-0123456789";
const apiKeys = [
  { name: "ops", key_sha256: sha256(adminKey), role: "admin" },
  { name: "dashboard", key_sha256: sha256(readKey), role: "read" },
];

const dir = tempDir("scribe-security-");
const certPath = join(dir.path, "cert.pem");
const keyPath = join(dir.path, "key.pem");
let ca = "";

beforeAll(() => {
  const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=scribe-test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", keyPath, "-out", certPath], { stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  ca = readFileSync(certPath, "utf8");
});
afterAll(() => dir.remove());

const quiet = (config: Config) => createLogger({ ...config.logging, level: "silent" });

describe("HTTPS", () => {
  test("serves TLS with the configured certificate; clients that trust it get answers, plain HTTP does not", async () => {
    const data = tempDir();
    const config = loadConfig({ overrides: { "node.data_dir": data.path, "network.client_port": 0, "network.raft_port": 0, "security.tls_cert": certPath, "security.tls_key": keyPath } });
    const server = await startServer(config, quiet(config));
    try {
      expect(server.url.startsWith("https://")).toBe(true);
      const base = `https://127.0.0.1:${server.server.port}`;
      const put = await fetch(`${base}/kv/secret`, { method: "PUT", body: "over tls", tls: { ca } });
      expect(put.status).toBe(200);
      expect(await (await fetch(`${base}/kv/secret`, { tls: { ca } })).text()).toBe("over tls");
      // without trusting the certificate the handshake fails
      expect(fetch(`${base}/health`)).rejects.toThrow();
      const plain = await fetch(`http://127.0.0.1:${server.server.port}/health`).then((r) => r.status, () => "refused");
      expect(plain).not.toBe(200);
    } finally {
      await server.stop();
      data.remove();
    }
  });
});

describe("audit log file", () => {
  test("records a PUT with its principal, key and index, and a refused write", async () => {
    const data = tempDir();
    const auditPath = join(data.path, "audit", "audit.log");
    const config = loadConfig({
      overrides: { "node.data_dir": data.path, "network.client_port": 0, "network.raft_port": 0, "security.api_keys": JSON.stringify(apiKeys), "logging.audit_log": auditPath },
    });
    const server = await startServer(config, quiet(config));
    try {
      const base = `http://127.0.0.1:${server.server.port}`;
      const receipt = (await (await fetch(`${base}/kv/audited`, { method: "PUT", headers: { authorization: `Bearer ${adminKey}` }, body: "v" })).json()) as { index: number };
      expect((await fetch(`${base}/kv/audited`, { method: "PUT", headers: { "x-api-key": readKey }, body: "v" })).status).toBe(403);
      expect((await fetch(`${base}/kv/audited`, { method: "DELETE", headers: { "x-api-key": adminKey, "if-match": "9" } })).status).toBe(412);
      const records = readFileSync(auditPath, "utf8").trim().split("\n").map((line) => JSON.parse(line));
      expect(records).toHaveLength(2);
      expect(records[0]).toMatchObject({ audit: true, action: "put", principal: "ops", role: "admin", key: "audited", index: receipt.index, result: "ok", status: 200, node_id: 1 });
      expect(records[0].client).toBe("127.0.0.1");
      expect(records[1]).toMatchObject({ action: "delete", principal: "ops", key: "audited", result: "error", code: "precondition_failed" });
    } finally {
      await server.stop();
      data.remove();
    }
  });
});

describe("the scribe CLI against a node with API keys", () => {
  test("authenticates with $SCRIBE_API_KEY: put, get, verify and audit work; without it the node answers 401", async () => {
    const data = tempDir();
    const config = loadConfig({ overrides: { "node.data_dir": data.path, "network.client_port": 0, "network.raft_port": 0, "security.api_keys": JSON.stringify(apiKeys) } });
    const server = await startServer(config, quiet(config));
    try {
      // Asynchronous: the node runs in this process and must keep answering while the CLI runs.
      const cli = async (args: string[], key?: string) => {
        const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SCRIBE_SERVER: `http://127.0.0.1:${server.server.port}` };
        if (key) env.SCRIBE_API_KEY = key;
        const run = Bun.spawn(["bun", "src/cli/main.ts", ...args], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
        const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
        return { code, out, err };
      };
      const denied = await cli(["put", "cli-key", "v1"]);
      expect(denied.code).toBe(5); // refused
      expect(denied.err).toContain("unauthorized");
      const weak = await cli(["put", "cli-key", "v1"], readKey);
      expect(weak.code).toBe(5);
      expect(weak.err).toContain("forbidden");
      expect((await cli(["put", "cli-key", "v1"], adminKey)).code).toBe(0);
      expect((await cli(["get", "cli-key"], readKey)).out).toBe("v1");
      const verified = await cli(["verify", "cli-key", "--key", server.node.verifierKey], readKey);
      expect(verified.err + verified.out).not.toContain("unauthorized");
      expect(verified.code).toBe(0);
      expect((await cli(["audit", "--key", server.node.verifierKey], readKey)).code).toBe(0);
    } finally {
      await server.stop();
      data.remove();
    }
  }, 30_000);
});

describe("listening beyond loopback", () => {
  test("scribe-node refuses 0.0.0.0 without API keys, naming the keys to set", () => {
    const data = tempDir();
    try {
      const run = Bun.spawnSync(["bun", "src/main.ts", "--host", "0.0.0.0", "--port", String(freePort()), "--data-dir", data.path], { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" }, stderr: "pipe", stdout: "pipe", timeout: 30_000 });
      expect(run.exitCode).toBe(2);
      const stderr = run.stderr.toString();
      expect(stderr).toContain("refusing to listen on 0.0.0.0");
      expect(stderr).toContain("security.api_keys");
      expect(stderr).toContain("security.allow_insecure_public");
    } finally {
      data.remove();
    }
  });

  test("keys or an explicit allow_insecure_public lift the refusal; loopback never needs them", () => {
    expect(() => checkExposure(loadConfig({ overrides: { "network.listen_addr": "0.0.0.0" } }))).toThrow(/security\.api_keys/);
    expect(() => checkExposure(loadConfig({ overrides: { "network.listen_addr": "::" } }))).toThrow(/refusing/);
    checkExposure(loadConfig({ overrides: { "network.listen_addr": "0.0.0.0", "security.allow_insecure_public": true } }));
    checkExposure(loadConfig({ overrides: { "network.listen_addr": "0.0.0.0", "security.api_keys": JSON.stringify(apiKeys) } }));
    for (const host of ["127.0.0.1", "localhost", "::1", "127.0.0.2"]) checkExposure(loadConfig({ overrides: { "network.listen_addr": host } }));
  });
});

describe("a secured cluster (API keys, HTTPS, Raft TLS)", () => {
  const servers: RunningServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop().catch(() => {});
  });

  test("followers forward writes, serve linearizable reads and admit a joining node, all as the internal principal", async () => {
    const ids = [1, 2, 3];
    const ports = ids.map(() => ({ client: freePort(), raft: freePort() }));
    const members = ids.map((id, i) => ({ id, address: `127.0.0.1:${ports[i]!.raft}`, client: `127.0.0.1:${ports[i]!.client}` }));
    const configOf = (id: number, client: number, raft: number, clusterMembers: unknown[]) =>
      loadConfig({
        overrides: {
          "node.id": id,
          "node.data_dir": join(dir.path, `node${id}`),
          "network.client_port": client,
          "network.raft_port": raft,
          "consensus.cluster_members": JSON.stringify(clusterMembers),
          "consensus.tick_interval_ms": 20,
          "consensus.heartbeat_interval_ms": 40,
          "consensus.election_timeout_min": 400,
          "consensus.election_timeout_max": 800,
          "discovery.cluster_secret": "d-PvaLETc38IW5gOWZoFFPMuVKI6x-X6XVqY9V19nXM",
          "security.api_keys": JSON.stringify(apiKeys),
          "security.tls_cert": certPath,
          "security.tls_key": keyPath,
          "security.raft_tls": true,
          "logging.audit_log": join(dir.path, `audit-node${id}.log`),
        },
      });
    const started = await Promise.all(ids.map((id, i) => {
      const config = configOf(id, ports[i]!.client, ports[i]!.raft, members);
      return startServer(config, quiet(config), { bootstrap: true });
    }));
    servers.push(...started);
    const admin = { authorization: `Bearer ${adminKey}` };
    const get = async (port: number, path: string, headers: Record<string, string> = admin) => fetch(`https://127.0.0.1:${port}${path}`, { headers, tls: { ca } });
    let leaderId = 0;
    for (let i = 0; i < 300 && leaderId === 0; i++) {
      const info = (await (await get(ports[0]!.client, "/cluster/info")).json()) as { leader_id: number | null };
      leaderId = info.leader_id ?? 0;
      if (leaderId === 0) await Bun.sleep(50);
    }
    expect(leaderId).toBeGreaterThan(0);
    const followerId = ids.find((id) => id !== leaderId)!;
    const follower = ports[ids.indexOf(followerId)]!.client;
    const put = await fetch(`https://127.0.0.1:${follower}/kv/through-follower`, { method: "PUT", headers: admin, body: "forwarded", tls: { ca } });
    expect(put.status).toBe(200);
    // Audited on the follower under the client's key, and on the leader under the same key, with the follower's id.
    const auditOf = (id: number) => readFileSync(join(dir.path, `audit-node${id}.log`), "utf8").trim().split("\n").map((line) => JSON.parse(line));
    const index = ((await put.json()) as { index: number }).index;
    const record = { action: "put", key: "through-follower", principal: "ops", role: "admin", client: "127.0.0.1", index, result: "ok" };
    expect(auditOf(followerId)).toContainEqual(expect.objectContaining(record));
    expect(auditOf(leaderId)).toContainEqual(expect.objectContaining({ ...record, forwarded_by: followerId }));
    // Once the leader answered the follower's probe, groups go over the Raft transport
    // (forward-channel.ts), with the same checks and the same audit records as over HTTP.
    const transportGroups = async () => (((await (await get(follower, "/metrics")).json()) as { raft: { transportGroups: number } }).raft.transportGroups);
    let viaTransport: { index: number } | undefined;
    for (let i = 0; i < 100 && !viaTransport; i++) {
      const before = await transportGroups();
      const again = await fetch(`https://127.0.0.1:${follower}/kv/via-transport`, { method: "PUT", headers: admin, body: `try ${i}`, tls: { ca } });
      expect(again.status).toBe(200);
      const written = (await again.json()) as { index: number };
      if ((await transportGroups()) > before) viaTransport = written;
      else await Bun.sleep(20);
    }
    expect(viaTransport).toBeDefined();
    expect(auditOf(leaderId)).toContainEqual(expect.objectContaining({ ...record, key: "via-transport", index: viaTransport!.index, forwarded_by: followerId }));
    for (const port of ports) {
      const read = await get(port.client, "/kv/through-follower?consistency=linearizable", { "x-api-key": readKey });
      expect(read.status).toBe(200);
      expect(await read.text()).toBe("forwarded");
    }
    expect((await get(follower, "/kv/through-follower")).status).toBe(200);
    expect((await get(follower, "/kv/through-follower", {})).status).toBe(401);
    // A fourth node joins through a follower (seed): POST /cluster/nodes/add carries the HMAC.
    const extra = { client: freePort(), raft: freePort() };
    const joinConfig = loadConfig({
      overrides: { ...configOverrides(configOf(4, extra.client, extra.raft, [])), "discovery.seeds": `127.0.0.1:${follower}` },
    });
    const joiner = await startServer(joinConfig, quiet(joinConfig));
    servers.push(joiner);
    let joined = false;
    for (let i = 0; i < 400 && !joined; i++) {
      const read = await get(extra.client, "/kv/through-follower?consistency=stale", admin).catch(() => undefined);
      joined = read?.status === 200 && (await read.text()) === "forwarded";
      if (!joined) await Bun.sleep(50);
    }
    expect(joined).toBe(true);
    const nodes = (await (await get(ports[0]!.client, "/cluster/nodes")).json()) as { nodes: { id: number }[] };
    expect(nodes.nodes.map((n) => n.id)).toContain(4);
  }, 60_000);
});

/** A config back as dotted overrides (for deriving one config from another). */
function configOverrides(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (prefix: string, value: Record<string, unknown>) => {
    for (const [key, inner] of Object.entries(value)) {
      const dotted = prefix ? `${prefix}.${key}` : key;
      if (typeof inner === "object" && inner !== null && !Array.isArray(inner)) walk(dotted, inner as Record<string, unknown>);
      else out[dotted] = Array.isArray(inner) && (key === "cluster_members" || key === "api_keys") ? JSON.stringify(inner) : Array.isArray(inner) ? inner.join(",") : inner;
    }
  };
  walk("", config as unknown as Record<string, unknown>);
  return out;
}
