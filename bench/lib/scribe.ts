/**
 * @module bench/lib/scribe. Starts Scribe nodes the way users do — `bun src/main.ts` with flags,
 * `SCRIBE_*` environment variables and, for a cluster, TOML files shaped like
 * scripts/cluster/config-node*.toml — so the benchmarks keep working while the internals change.
 * Optional: `--cpu-prof` into a directory (the profile is written when the node exits on SIGINT).
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunCommand, freePort, repoRoot, spawnChild, tempDir, waitUntil, type Child, type TempDir } from "./proc.ts";

/** How long a node may take to start and elect itself (or a cluster a leader) on a loaded machine. */
const startTimeoutMs = 30_000;

export interface ScribeNode {
  id: number;
  url: string;
  port: number;
  pid: number;
  child: Child;
  dataDir: string;
  /** SIGINT lets the node finish in-flight writes, close its database and write its CPU profile. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface NodeOptions {
  dataDir: string;
  /** SCRIBE_* settings; SCRIBE_LOGGING_LEVEL defaults to warn. */
  env?: Record<string, string>;
  /** Extra flags after `src/main.ts` (e.g. --config FILE --bootstrap). */
  args?: string[];
  port?: number;
  raftPort?: number;
  id?: number;
  /** Run under `bun --cpu-prof --cpu-prof-dir=<dir>`. */
  cpuProfDir?: string;
  /** Polled until it answers 200; default /health (which needs a leader). */
  readyPath?: string;
  /** The source tree to run (its src/main.ts); default this repository (bench/ab.ts runs an older tree). */
  root?: string;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200;
  } catch {
    return false;
  }
}

/** Starts one node and waits until `readyPath` answers 200. */
export async function startNode(options: NodeOptions): Promise<ScribeNode> {
  const port = options.port ?? freePort();
  const child = spawnChild({
    cmd: [...bunCommand(options.cpuProfDir), join(options.root ?? repoRoot, "src/main.ts"), "--data-dir", options.dataDir, "--port", String(port), "--raft-port", String(options.raftPort ?? freePort()), ...(options.args ?? [])],
    env: { SCRIBE_LOGGING_LEVEL: "warn", SCRIBE_LOGGING_FORMAT: "json", ...options.env },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      async () => {
        if (!child.running()) throw new Error(`scribe-node exited with ${child.proc.exitCode} before it was ready:\n${child.output()}`);
        return answers(`${url}${options.readyPath ?? "/health"}`);
      },
      startTimeoutMs,
      `scribe-node on ${url}`,
    );
  } catch (error) {
    await child.stop("SIGKILL");
    throw error;
  }
  return { id: options.id ?? 1, url, port, pid: child.pid, child, dataDir: options.dataDir, stop: (signal = "SIGINT") => child.stop(signal) };
}

/** GET a node's JSON /metrics. */
export async function nodeMetrics(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  return (await response.json()) as Record<string, unknown>;
}

/** Writes `count` keys `<prefix><i>` with `valueBytes`-byte values through POST /batch. */
export async function preload(url: string, prefix: string, count: number, valueBytes: number): Promise<void> {
  const value = "v".repeat(valueBytes);
  /** The node's default storage.max_batch_ops. */
  const opsPerBatch = 1000;
  for (let first = 0; first < count; first += opsPerBatch) {
    const ops = [];
    for (let i = first; i < Math.min(count, first + opsPerBatch); i++) ops.push({ op: "put", key: `${prefix}${i}`, value });
    const response = await fetch(`${url}/batch`, { method: "POST", body: JSON.stringify({ ops }) });
    if (response.status !== 200) throw new Error(`preload: POST /batch answered ${response.status}: ${await response.text()}`);
  }
}

/**
 * The cluster secret of bench clusters (loopback only): 32 random bytes, as `scribe-node
 * gen-secret` makes (a node refuses a secret below 128 bits of estimated entropy).
 */
const benchClusterSecret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

export interface ScribeCluster {
  nodes: ScribeNode[];
  dir: TempDir;
  /** Id of the node that reports itself leader (waits for one). */
  leader(): Promise<ScribeNode>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ClusterOptions {
  size: number;
  /** Directory per node for --cpu-prof (node<id> under it); none when undefined. */
  cpuProfDir?: string;
  env?: Record<string, string>;
}

/** A node's TOML, shaped like scripts/cluster/config-node<id>.toml (the same consensus timing). */
function clusterToml(id: number, dataDir: string, ports: { http: number; raft: number }[]): string {
  const members = ports.map((p, i) => `  { id = ${i + 1}, address = "127.0.0.1:${p.raft}", client = "127.0.0.1:${p.http}" },`).join("\n");
  return `[node]
id = ${id}
address = "127.0.0.1"
data_dir = "${dataDir}"

[network]
listen_addr = "127.0.0.1"
client_port = ${ports[id - 1]!.http}
raft_port = ${ports[id - 1]!.raft}

[consensus]
election_timeout_min = 1000
election_timeout_max = 2000
heartbeat_interval_ms = 100
tick_interval_ms = 50
cluster_members = [
${members}
]

[discovery]
cluster_secret = "${benchClusterSecret}"
`;
}

/** Starts a `size`-node cluster from TOML files with --bootstrap, and waits for a leader. */
export async function startCluster(options: ClusterOptions): Promise<ScribeCluster> {
  const dir = tempDir("scribe-bench-cluster-");
  const ports = Array.from({ length: options.size }, () => ({ http: freePort(), raft: freePort() }));
  const nodes: ScribeNode[] = [];
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    await Promise.all(nodes.map((n) => n.stop(signal)));
    dir.remove();
  };
  try {
    // Settled, not all: a node that fails to start must not leave the others running unseen.
    const started = await Promise.allSettled(
      ports.map((p, i) => {
        const id = i + 1;
        const dataDir = join(dir.path, `node${id}`);
        const config = join(dir.path, `node${id}.toml`);
        writeFileSync(config, clusterToml(id, dataDir, ports));
        return startNode({ id, dataDir, port: p.http, raftPort: p.raft, args: ["--config", config, "--bootstrap"], readyPath: "/cluster/info", env: options.env, cpuProfDir: options.cpuProfDir ? join(options.cpuProfDir, `node${id}`) : undefined });
      }),
    );
    for (const result of started) if (result.status === "fulfilled") nodes.push(result.value);
    const failed = started.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await stop();
    throw error;
  }
  const leader = async () => {
    let found: ScribeNode | undefined;
    await waitUntil(
      async () => {
        for (const node of nodes) {
          try {
            const info = (await (await fetch(`${node.url}/cluster/info`, { signal: AbortSignal.timeout(2000) })).json()) as { role: string };
            if (info.role === "leader") {
              found = node;
              return true;
            }
          } catch {
            // not answering yet
          }
        }
        return false;
      },
      startTimeoutMs,
      "a cluster leader",
    );
    return found!;
  };
  try {
    await leader();
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, dir, leader, stop };
}
