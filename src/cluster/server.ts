/**
 * @module server. Starts a node and its HTTP server from a configuration, and stops them in order:
 * stop accepting requests, finish in-flight writes, close the database. A fatal failure of the
 * node's driver is reported to `StartOptions.onFatal`; this module never exits the process.
 * The wiring: the one place http/ meets the node, so a module of its own in the dependency table
 * (scripts/check-imports.ts) that reaches the node through cluster/index.ts.
 */

import { readFileSync } from "node:fs";
import { addProcessMetrics } from "../metrics/index.ts";
import { batchOpsMax, ConfigError, type Config } from "../config/index.ts";
import { createApp, type ScribeApp } from "../http/index.ts";
import { checkBucketAtStart, ClusterNode, configurePeerClient, createMutationLog, type Logger } from "./index.ts";

export { StartupError } from "./index.ts";

export interface RunningServer {
  node: ClusterNode;
  app: ScribeApp;
  server: ReturnType<typeof Bun.serve>;
  url: string;
  stop(): Promise<void>;
}

/**
 * Bun's own cap on a request body. Every route bounds its body itself (413 `{error, code}` as
 * soon as a declared length or a streamed body passes its limit, and the connection is closed),
 * so this is only a backstop far above any route's limit: Bun answers a body declared beyond it
 * with an empty 413 before the app sees the request (docs/SECURITY.md lists such answers).
 */
const serverBodyBytesMax = 1024 * 1024 * 1024;

/**
 * Longest a shutdown waits for in-flight responses (a watch stream's final lines included) to
 * reach their clients before closing their connections: a client that stopped reading cannot
 * hold the node up.
 */
const shutdownGraceMs = 5000;

/** Stops accepting, lets in-flight responses finish within shutdownGraceMs, then closes what is left. */
async function stopServer(server: ReturnType<typeof Bun.serve>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const graceful = server.stop(false).then(() => true);
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), shutdownGraceMs)));
  const finished = await Promise.race([graceful, late]);
  clearTimeout(timer);
  if (!finished) await server.stop(true);
}

export interface StartOptions {
  /** Initialize a new cluster from consensus.cluster_members. */
  bootstrap?: boolean;
  /**
   * The node's Raft driver failed and it stopped serving (it reports unhealthy and refuses
   * requests). The process owner decides: src/main.ts exits with status 70 so a supervisor
   * restarts the node from its durable state.
   */
  onFatal?: (error: unknown) => void;
  /** Test hooks for end-to-end tests (ClusterNodeOptions.testHooks). */
  testHooks?: { forkCheckpoints?: boolean };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === "::ffff:127.0.0.1";
}

/** Refuses to serve beyond loopback without API keys unless the operator said so explicitly. */
export function checkExposure(config: Config): void {
  const { listen_addr } = config.network;
  if (isLoopback(listen_addr) || config.security.api_keys.length > 0 || config.security.allow_insecure_public) return;
  throw new ConfigError(
    `refusing to listen on ${listen_addr} (beyond loopback) without authentication: set "security.api_keys" ` +
      `(SCRIBE_SECURITY_API_KEYS), or set "security.allow_insecure_public" = true (SCRIBE_SECURITY_ALLOW_INSECURE_PUBLIC=true) to serve anyone who can connect`,
  );
}

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read "${key}" ${path}: ${(error as Error).message}`);
  }
}

export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  checkExposure(config);
  const https = config.security.tls_cert !== "";
  const tls = https ? { cert: readPem(config.security.tls_cert, "security.tls_cert"), key: readPem(config.security.tls_key, "security.tls_key") } : undefined;
  const ca = config.security.tls_ca !== "" ? readPem(config.security.tls_ca, "security.tls_ca") : tls?.cert;
  configurePeerClient({ clusterSecret: config.discovery.cluster_secret, https, ca });
  // The cold tier's bucket: checked now (awaited and refused on failure with storage.s3.require_reachable).
  const bucketCheck = await checkBucketAtStart(config, logger);
  const mutationLog = createMutationLog(config.logging, logger, { node_id: config.node.id });
  const node = await ClusterNode.open({ config, logger, bootstrap: options.bootstrap, onFatal: options.onFatal, testHooks: options.testHooks });
  // The start check's outcome is GET /ready's first S3 state (the cold tier refreshes it later).
  void bucketCheck.settled.then((probe) => {
    if (probe) node.cold?.noteProbe(probe, "start check");
  });
  let bunServer: ReturnType<typeof Bun.serve> | undefined;
  const app = createApp({
    clientAddress: (request) => bunServer?.requestIP(request)?.address,
    service: node,
    cluster: node,
    limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
    onInternalError: (error, request) => logger.error({ err: error, method: request.method, url: request.url }, "internal error"),
    security: {
      apiKeys: config.security.api_keys,
      clusterSecret: config.discovery.cluster_secret,
      rateLimitPerSec: config.security.rate_limit_per_sec,
      rateLimitBurst: config.security.rate_limit_burst,
      audit: mutationLog.write,
      auditWanted: mutationLog.wants,
    },
  });
  const server = Bun.serve({
    hostname: config.network.listen_addr,
    port: config.network.client_port,
    fetch: app.fetch,
    // The app answers every error itself; this is the backstop for one that escapes it.
    error: (error) => {
      logger.error({ err: error }, "internal error outside the app");
      return Response.json({ error: "internal error", code: "internal" }, { status: 500 });
    },
    maxRequestBodySize: Math.max(serverBodyBytesMax, 2 * Math.max(config.storage.max_value_size, config.storage.max_batch_bytes)),
    ...(tls ? { tls } : {}),
  });
  bunServer = server;
  // Groups forwarded over the Raft transport take the same path as POST /cluster/propose.
  node.serveForwards((from, body) => app.forwarded(from, body));
  // process_* and nodejs_* metrics (CPU, memory, open files, event-loop lag, GC) beside the node's own.
  addProcessMetrics(app.prometheus);
  const url = `${https ? "https" : "http"}://${config.network.listen_addr}:${server.port}`;
  logger.info({ verifier_key: node.verifierKey, origin: node.keyHistory().origin }, "checkpoint signing key (the cluster's checkpoints carry a majority of the voters' signatures)");
  const auditLog = config.logging.audit_log || "the main log, at debug";
  logger.info({ url, data_dir: config.node.data_dir, ledger_size: node.size, auth: config.security.api_keys.length > 0, tls: https, raft_tls: config.security.raft_tls, audit_log: auditLog }, "scribe node listening");
  if (!isLoopback(config.network.listen_addr) && config.security.api_keys.length === 0) {
    logger.warn({ listen_addr: config.network.listen_addr }, "serving beyond loopback WITHOUT authentication (security.allow_insecure_public = true)");
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info("shutting down: finishing in-flight requests");
      // Watch streams would hold the server open forever: they end first, each with its final line.
      await node.watchFeed.close();
      await stopServer(server);
      await node.close();
      logger.info("stopped; database closed");
    })());
  return { node, app, server, url, stop };
}
