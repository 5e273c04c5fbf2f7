/**
 * @module node-process. Spawns real scribe-node processes for end-to-end tests: free ports,
 * temporary data directories, readiness by polling /ready (or another path), and stopping by PID.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repoRoot = join(import.meta.dir, "..", "..");

/** Lowest port of the kernel's ephemeral range, from which outgoing connections take their local ports. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 20_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const portLow = 20_000;
const portHigh = ephemeralLow();
/** Ports this process handed out: not handed out twice (a node may not have bound its port yet). */
const handedOut = new Set<number>();

/**
 * A port that was free a moment ago. Picked below the ephemeral range: a port the kernel chose for
 * port 0 can be taken, before the node binds it, as the local port of any outgoing connection on
 * the machine (seen in CI: EADDRINUSE at a node's start); one below the range can only be taken by
 * another explicit bind.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = portLow + Math.floor(Math.random() * (portHigh - portLow));
    if (handedOut.has(port)) continue;
    try {
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    } catch {
      continue; // in use
    }
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${portLow}..${portHigh - 1}`);
}

export function tempDir(prefix = "scribe-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface NodeProcess {
  pid: number;
  port: number;
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  kill(signal?: NodeJS.Signals | number): Promise<number>;
}

export interface SpawnOptions {
  dataDir: string;
  port?: number;
  args?: string[];
  env?: Record<string, string>;
  /** How long to wait for `readyPath` to answer 200. */
  readyTimeoutMs?: number;
  /**
   * Polled until it answers 200; default /ready (a leader known, caught up, storage writable, S3
   * reachable when configured). /health answers as soon as the process serves, leader or not.
   */
  readyPath?: string;
  /** Raft port; default a free one. */
  raftPort?: number;
}

export async function spawnNode(options: SpawnOptions): Promise<NodeProcess> {
  const port = options.port ?? freePort();
  const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts"), "--data-dir", options.dataDir, "--port", String(port), "--raft-port", String(options.raftPort ?? freePort()), ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SCRIBE_LOGGING_FORMAT: "json", ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
    }
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  const url = `http://127.0.0.1:${port}`;
  const node: NodeProcess = {
    pid: proc.pid,
    port,
    url,
    proc,
    output: () => text,
    kill: async (signal = "SIGTERM") => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, signal);
      return proc.exited;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15000);
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`scribe-node exited with ${proc.exitCode} before it was ready:\n${text}`);
    try {
      const response = await fetch(`${url}${options.readyPath ?? "/ready"}`);
      if (response.status === 200) return node;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  await node.kill("SIGKILL");
  throw new Error(`scribe-node did not become ready on ${url}:\n${text}`);
}
