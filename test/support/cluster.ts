/**
 * @module cluster. Starts a local Scribe cluster of real processes for end-to-end tests and
 * benchmarks: free ports, a temporary directory per node, generated TOML configs, fast ticks.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, spawnNode, tempDir, type NodeProcess } from "./node-process.ts";

export interface ClusterNodeHandle {
  id: number;
  port: number;
  raftPort: number;
  dataDir: string;
  configPath: string;
  url: string;
  process: NodeProcess | undefined;
}

/** An entry as GET /entries lists it (the fields the tests compare). */
export interface LedgerEntry {
  index: number;
  key: string;
  leaf_hash: string;
  value_hash: string;
}

export interface ClusterOptions {
  size: number;
  /** Extra TOML appended to every node's config. */
  extraToml?: string;
  tickMs?: number;
  electionMinMs?: number;
  /** Default twice electionMinMs. */
  electionMaxMs?: number;
  /** Default two ticks. */
  heartbeatMs?: number;
  compactionThreshold?: number;
  env?: Record<string, string>;
  /**
   * The ports the other nodes are told to dial for node `id` (its member entry's `address` and
   * `client`) instead of its own: a proxy in front of them (partition-net.ts). Default its own.
   */
  advertise?: (id: number, ports: { raft: number; client: number }) => { raft: number; client: number };
}

/** A random secret (`scribe-node gen-secret`): a weak one is refused when the config is loaded. */
export const clusterSecret = "llJMhtfLIRQQuAMRCdQ4mxf7aUgYX61AXi-JxJY_bFU";

function configText(id: number, handles: readonly ClusterNodeHandle[], options: ClusterOptions): string {
  const self = handles.find((h) => h.id === id)!;
  const tick = options.tickMs ?? 20;
  const electionMin = options.electionMinMs ?? 400;
  const members = handles
    .map((h) => {
      const ports = options.advertise?.(h.id, { raft: h.raftPort, client: h.port }) ?? { raft: h.raftPort, client: h.port };
      return `  { id = ${h.id}, address = "127.0.0.1:${ports.raft}", client = "127.0.0.1:${ports.client}" },`;
    })
    .join("\n");
  return `[node]
id = ${id}
address = "127.0.0.1"
data_dir = "${self.dataDir}"

[network]
listen_addr = "127.0.0.1"
client_port = ${self.port}
raft_port = ${self.raftPort}

[consensus]
election_timeout_min = ${electionMin}
election_timeout_max = ${options.electionMaxMs ?? electionMin * 2}
heartbeat_interval_ms = ${options.heartbeatMs ?? tick * 2}
tick_interval_ms = ${tick}
log_compaction_threshold = ${options.compactionThreshold ?? 100000}
cluster_members = [
${members}
]

[discovery]
cluster_secret = "${clusterSecret}"
${options.extraToml ?? ""}
`;
}

export class TestCluster {
  readonly dir = tempDir("scribe-cluster-");
  readonly nodes: ClusterNodeHandle[] = [];

  constructor(readonly options: ClusterOptions) {
    for (let id = 1; id <= options.size; id++) this.nodes.push(this.handle(id));
    for (const node of this.nodes) writeFileSync(node.configPath, configText(node.id, this.nodes, options));
  }

  private handle(id: number): ClusterNodeHandle {
    const port = freePort();
    return { id, port, raftPort: freePort(), dataDir: join(this.dir.path, `node${id}`), configPath: join(this.dir.path, `node${id}.toml`), url: `http://127.0.0.1:${port}`, process: undefined };
  }

  node(id: number): ClusterNodeHandle {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /** Starts (or restarts) one node from its config; `args` adds flags such as --bootstrap or --join. */
  async start(id: number, args: string[] = ["--bootstrap"]): Promise<void> {
    const node = this.node(id);
    node.process = await spawnNode({ dataDir: node.dataDir, port: node.port, raftPort: node.raftPort, args: ["--config", node.configPath, ...args], readyPath: "/cluster/info", env: { SCRIBE_LOGGING_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn", ...this.options.env } });
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n.id)));
    await this.waitForLeader();
  }

  /** Adds a brand-new node's handle and config (it is not a bootstrap member). */
  addHandle(): ClusterNodeHandle {
    const id = Math.max(...this.nodes.map((n) => n.id)) + 1;
    const node = this.handle(id);
    this.nodes.push(node);
    const text = configText(id, this.nodes, this.options).replace(/cluster_members = \[[\s\S]*?\n\]/, "cluster_members = []");
    writeFileSync(node.configPath, text);
    return node;
  }

  async kill(id: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const node = this.node(id);
    if (node.process) await node.process.kill(signal);
    node.process = undefined;
  }

  running(): ClusterNodeHandle[] {
    return this.nodes.filter((n) => n.process !== undefined);
  }

  /** The running node (not in `exclude`) that answers that it leads, asked once each; undefined when none does. */
  async leader(exclude: readonly number[] = [], askTimeoutMs = 1000): Promise<number | undefined> {
    for (const node of this.running()) {
      if (exclude.includes(node.id)) continue;
      try {
        const info = (await (await fetch(`${node.url}/cluster/info`, { signal: AbortSignal.timeout(askTimeoutMs) })).json()) as { role: string };
        if (info.role === "leader") return node.id;
      } catch {
        // not answering
      }
    }
    return undefined;
  }

  /** Waits until a running node reports a leader that is running; returns the leader's id. */
  async waitForLeader(timeoutMs = 15_000, exclude: number[] = []): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader(exclude);
      if (leader !== undefined) return leader;
      await Bun.sleep(50);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /** All entries of a node's ledger, via GET /entries. */
  async ledger(id: number): Promise<LedgerEntry[]> {
    const node = this.node(id);
    const out: LedgerEntry[] = [];
    for (;;) {
      // Bounded, so that a node that stopped answering fails `converged` at its deadline instead of holding it.
      const page = (await (await fetch(`${node.url}/entries?from=${out.length}&limit=10000`, { signal: AbortSignal.timeout(10_000) })).json()) as { entries: LedgerEntry[] };
      out.push(...page.entries);
      if (page.entries.length < 10000) return out;
    }
  }

  /**
   * Waits until every running node lists the same ledger and returns it; throws, with each node's
   * ledger size, when they still differ (or a node does not answer) after `timeoutMs`.
   */
  async converged(timeoutMs = 15_000): Promise<LedgerEntry[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let sizes = "a node did not list its ledger";
      try {
        const ledgers = await Promise.all(this.running().map((n) => this.ledger(n.id)));
        const first = JSON.stringify(ledgers[0]);
        if (ledgers.every((l) => JSON.stringify(l) === first)) return ledgers[0]!;
        sizes = `sizes ${ledgers.map((l) => l.length).join(", ")}`;
      } catch (error) {
        sizes = `a node did not list its ledger: ${String(error)}`;
      }
      if (Date.now() > deadline) throw new Error(`the nodes' ledgers still differ after ${timeoutMs} ms (${sizes})`);
      await Bun.sleep(100);
    }
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) {
      if (node.process) {
        node.process.proc.kill("SIGCONT");
        await node.process.kill("SIGKILL");
      }
      node.process = undefined;
    }
    this.dir.remove();
  }
}
