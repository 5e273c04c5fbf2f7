/**
 * @module server. Starts a node and its HTTP server from a configuration, and stops them in order:
 * stop accepting requests, finish in-flight writes, close the database.
 */

import { batchOpsMax, type Config } from "../config/index.ts";
import { createApp, type ScribeApp } from "../http/index.ts";
import type { Logger } from "./logger.ts";
import { ClusterNode } from "./cluster-node.ts";

export interface RunningServer {
  node: ClusterNode;
  app: ScribeApp;
  server: ReturnType<typeof Bun.serve>;
  url: string;
  stop(): Promise<void>;
}

/** Bytes of slack above the largest body a route accepts, for headers and JSON framing. */
const bodySlackBytes = 64 * 1024;

export interface StartOptions {
  /** Initialize a new cluster from consensus.cluster_members. */
  bootstrap?: boolean;
}

export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const node = await ClusterNode.open({ config, logger, bootstrap: options.bootstrap });
  const app = createApp({
    service: node,
    cluster: node,
    limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
    onInternalError: (error, request) => logger.error({ err: error, method: request.method, url: request.url }, "internal error"),
  });
  const server = Bun.serve({
    hostname: config.network.listen_addr,
    port: config.network.client_port,
    fetch: app.fetch,
    maxRequestBodySize: Math.max(config.storage.max_value_size, config.storage.max_batch_bytes) + bodySlackBytes,
  });
  const url = `http://${config.network.listen_addr}:${server.port}`;
  logger.info({ verifier_key: node.verifierKey, origin: node.ledger.checkpoints.origin }, "checkpoint signing key");
  logger.info({ url, data_dir: config.node.data_dir, ledger_size: node.size }, "scribe node listening");
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info("shutting down: finishing in-flight requests");
      await server.stop(false);
      await node.close();
      logger.info("stopped; database closed");
    })());
  return { node, app, server, url, stop };
}
