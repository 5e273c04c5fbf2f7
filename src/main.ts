#!/usr/bin/env bun
/**
 * @module main. The scribe-node entry point and the only reader of argv and the environment.
 *
 *   scribe-node [--config FILE] [--node-id N] [--data-dir DIR] [--port N] [--bootstrap] [--join HOST:PORT] [--strict-permissions] [--require-s3]
 *   scribe-node restore --from-s3 --verifier-key KEY [--config FILE] [--data-dir DIR]   (src/cluster/restore.ts)
 *   scribe-node gen-secret                                                             (a new discovery.cluster_secret)
 *   scribe-node check DATA_DIR [--verifier-key KEY] [--json] [--progress]              (src/cluster/check.ts)
 *
 * Every file and directory the process creates is private to its user (umask 077); the storage
 * code also sets 0600 / 0700 itself, so the embedded library gets the same modes.
 *
 * Before anything else the process may re-execute itself once to set its allocator
 * (src/allocator.ts: MIMALLOC_PURGE_DELAY=-1 unless the environment sets it; same PID).
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 when shutdown failed, 2 for a usage or configuration
 * error, 70 when the node's Raft driver failed (the node logs why and must restart).
 */

// First: may replace the process with itself plus the allocator setting (see its module comment).
import { allocatorSetting, purgeDelayVariable } from "./allocator.ts";
import { parseArgs } from "node:util";

// The node's modules load only after that: static imports would all be parsed and evaluated
// before allocator.ts runs, and then again after the re-execution.
const { ConfigError, generatedSecretBytes, loadConfig, newClusterSecret } = await import("./config/index.ts");
const { checkCommand, createLogger, restoreCommand, StartupError } = await import("./cluster/index.ts");
const { startServer } = await import("./cluster/server.ts");

/** Exit status after a fatal failure of the node's Raft driver (EX_SOFTWARE, sysexits.h). */
const exitDriverFailed = 70;

const usage = `usage: scribe-node [options]
       scribe-node restore --from-s3 --verifier-key KEY [--config FILE] [--data-dir DIR]   (see restore --help)
       scribe-node gen-secret   print a new random discovery.cluster_secret (${generatedSecretBytes} bytes, base64url)
       scribe-node check DATA_DIR   verify a stopped node's files offline (see check --help)
  --config FILE      TOML configuration file
  --node-id N        node.id
  --data-dir DIR     node.data_dir
  --host HOST        network.listen_addr
  --port N           network.client_port
  --raft-port N      network.raft_port
  --bootstrap        initialize a new cluster from consensus.cluster_members
  --join HOST:PORT   join the cluster through this node's HTTP address
  --strict-permissions  refuse to start when the data directory, database or signing key is
                     accessible by group or others (security.strict_permissions)
  --require-s3       refuse to start (exit 2) when the S3 bucket cannot be reached (storage.s3.require_reachable)
  --help             show this help
Every configuration key can also be set by SCRIBE_<SECTION>_<KEY>, e.g. SCRIBE_NODE_ID=2.`;

const genSecretUsage = `usage: scribe-node gen-secret
Prints a new discovery.cluster_secret: ${generatedSecretBytes} random bytes, base64url (256 bits; at least 128 are required).
Make it once per cluster and give every member the same value: discovery.cluster_secret in the
TOML file, or SCRIBE_DISCOVERY_CLUSTER_SECRET in a file only the node's user can read.`;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        "node-id": { type: "string" },
        "data-dir": { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "raft-port": { type: "string" },
        bootstrap: { type: "boolean" },
        join: { type: "string" },
        "strict-permissions": { type: "boolean" },
        "require-s3": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`scribe-node: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  // Files the node creates (database, WAL, keys, logs, audit log) are for its own user only.
  process.umask(0o077);
  if (Bun.argv[2] === "gen-secret") {
    const rest = Bun.argv.slice(3);
    if (rest.length === 1 && rest[0] === "--help") {
      console.log(genSecretUsage);
      return;
    }
    if (rest.length > 0) {
      console.error(`scribe-node gen-secret: takes no options\n${genSecretUsage}`);
      process.exit(2);
    }
    console.log(newClusterSecret());
    return;
  }
  if (Bun.argv[2] === "check") process.exit(await checkCommand(Bun.argv.slice(3)));
  if (Bun.argv[2] === "restore") {
    const code = await restoreCommand(Bun.argv.slice(3), process.env, {
      loadConfig,
      createLogger: (config) => createLogger(config.logging, { node_id: config.node.id }),
    });
    process.exit(code);
  }
  const flags = parseFlags(Bun.argv.slice(2));
  if (flags.help) {
    console.log(usage);
    return;
  }
  const overrides: Record<string, unknown> = {};
  if (flags["node-id"] !== undefined) overrides["node.id"] = flags["node-id"];
  if (flags["data-dir"] !== undefined) overrides["node.data_dir"] = flags["data-dir"];
  if (flags.host !== undefined) overrides["network.listen_addr"] = flags.host;
  if (flags.port !== undefined) overrides["network.client_port"] = flags.port;
  if (flags["raft-port"] !== undefined) overrides["network.raft_port"] = flags["raft-port"];
  if (flags.join !== undefined) overrides["discovery.seeds"] = flags.join;
  if (flags["strict-permissions"]) overrides["security.strict_permissions"] = true;
  if (flags["require-s3"] === true) overrides["storage.s3.require_reachable"] = true;
  let config;
  try {
    config = loadConfig({ file: flags.config, env: process.env, overrides });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`scribe-node: configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logging, { node_id: config.node.id });
  if (allocatorSetting() === undefined) {
    logger.warn({ platform: process.platform }, `${purgeDelayVariable} is not set and the process could not set it (src/allocator.ts): Bun's default, more CPU per request`);
  }
  let running;
  try {
    running = await startServer(config, logger, {
      bootstrap: flags.bootstrap === true,
      // End-to-end tests only: a leader that asks its members to sign forked checkpoints.
      testHooks: { forkCheckpoints: (process.env.TEST_SCRIBE_HOOKS ?? "").split(",").includes("fork_checkpoints") },
      // The node stopped serving after a storage error or a broken invariant (already logged):
      // exit with EX_SOFTWARE so a supervisor restarts it from its durable state.
      onFatal: () => process.exit(exitDriverFailed),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`scribe-node: configuration error: ${error.message}`);
      process.exit(2);
    }
    if (error instanceof StartupError) {
      logger.fatal({ err: error.message }, "refusing to start");
      console.error(`scribe-node: cannot start: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, "signal received");
    running.stop().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

await main();
