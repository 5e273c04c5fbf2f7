/**
 * @module app. An in-process node and its Elysia app over a real SQLite file, for tests that call
 * `app.handle(new Request(...))`. The data lives in a fresh temporary directory (removed by
 * close()) unless the overrides name a `node.data_dir`.
 */

import { batchOpsMax, loadConfig } from "../../src/config/index.ts";
import { ClusterNode } from "../../src/cluster/cluster-node.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { createApp } from "../../src/http/index.ts";
import { tempDir } from "./node-process.ts";

/** `now`: the node's clock (command timestamps, deadlines), for tests that move time themselves. */
export async function makeApp(overrides: Record<string, unknown> = {}, options: { now?: () => number } = {}) {
  const dir = overrides["node.data_dir"] === undefined ? tempDir() : undefined;
  const config = loadConfig({ overrides: { "node.data_dir": dir?.path, ...overrides } });
  const node = await ClusterNode.open({ config, logger: createLogger({ ...config.logging, level: "silent" }), now: options.now });
  const app = createApp({
    service: node,
    cluster: node,
    limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
  });
  const call = (method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}) =>
    app.handle(new Request(`http://scribe.test${path}`, { method, ...init }));
  return {
    app,
    node,
    config,
    call,
    async close() {
      await node.close();
      dir?.remove();
    },
  };
}
