/**
 * @module secured-server. A node started the way scribe-node starts one (startServer: Bun.serve,
 * the app, the audit log), on a free port with API keys of every role, a cluster secret and an
 * audit log file, for the security tests that speak raw HTTP to it.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { startServer, type RunningServer } from "../../src/cluster/server.ts";
import { bodySha256, clusterAuthHeader, clusterAuthValue, clusterBodyHashHeader } from "../../src/http/index.ts";
import { tempDir } from "./node-process.ts";

const sha256 = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");
const randomHex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

/** One API key per role, fresh for every run. */
export const apiKeys = { read: `read-${randomHex(16)}`, write: `write-${randomHex(16)}`, admin: `admin-${randomHex(16)}` };
/** The names the node knows the keys by (they appear in audit records). */
export const keyNames = { read: "dashboard", write: "ingest", admin: "ops" } as const;

export interface SecuredServer {
  server: RunningServer;
  port: number;
  secret: string;
  /** The audit records written so far (the audit log file, parsed). */
  audit(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startSecuredServer(overrides: Record<string, unknown> = {}): Promise<SecuredServer> {
  const dir = tempDir("scribe-secured-");
  const secret = randomHex(32);
  const auditPath = join(dir.path, "audit.log");
  const config = loadConfig({
    overrides: {
      "node.data_dir": dir.path,
      "network.client_port": 0,
      "network.raft_port": 0,
      "discovery.cluster_secret": secret,
      "logging.audit_log": auditPath,
      "security.api_keys": JSON.stringify([
        { name: keyNames.read, key_sha256: sha256(apiKeys.read), role: "read" },
        { name: keyNames.write, key_sha256: sha256(apiKeys.write), role: "write" },
        { name: keyNames.admin, key_sha256: sha256(apiKeys.admin), role: "admin" },
      ]),
      ...overrides,
    },
  });
  const server = await startServer(config, createLogger({ ...config.logging, level: "silent" }));
  for (let i = 0; i < 200 && !server.node.status().healthy; i++) await Bun.sleep(20);
  return {
    server,
    port: server.server.port!,
    secret,
    audit: () => {
      let text = "";
      try {
        text = readFileSync(auditPath, "utf8");
      } catch {
        return [];
      }
      return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    async stop() {
      await server.stop();
      dir.remove();
    },
  };
}

/** The headers that make a request the cluster principal: a fresh signature over exactly this request. */
export function clusterHeaders(secret: string, method: string, target: string, body: string | Uint8Array = "", timeMs?: number): Record<string, string> {
  const bodyHash = bodySha256(body);
  const headers: Record<string, string> = { [clusterAuthHeader]: clusterAuthValue({ secret, method, target, bodyHash, timeMs }) };
  if (body.length > 0) headers[clusterBodyHashHeader] = bodyHash;
  return headers;
}
