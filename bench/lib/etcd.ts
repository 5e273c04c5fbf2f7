/**
 * @module bench/lib/etcd. Starts Debian's etcd 3.4 on loopback (one member or a cluster) as the
 * peer we benchmark against, with the flags of the shared MEASURED.md, finds its leader (so a
 * 3-member etcd is loaded through its leader, like Scribe's leader row), and stops it by PID.
 */

import { join } from "node:path";
import { freePort, spawnChild, tempDir, waitUntil, type Child } from "./proc.ts";

export function haveEtcd(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v etcd"]).exitCode === 0;
}

export interface EtcdCluster {
  clientUrls: string[];
  pids: number[];
  /** The client URL of the current leader. */
  leaderUrl(): Promise<string>;
  stop(): Promise<void>;
}

interface StatusAnswer {
  header?: { member_id?: string };
  leader?: string;
}

async function status(url: string): Promise<StatusAnswer | undefined> {
  try {
    const response = await fetch(`${url}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(2000) });
    return response.ok ? ((await response.json()) as StatusAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** How long a fresh etcd may take to elect a leader and answer puts on this machine. */
const startTimeoutMs = 30_000;

export async function startEtcd(members: number): Promise<EtcdCluster> {
  const dir = tempDir("scribe-bench-etcd-");
  const names = Array.from({ length: members }, (_, i) => `m${i + 1}`);
  const clientPorts = names.map(() => freePort());
  const peerPorts = names.map(() => freePort());
  const client = (i: number) => `http://127.0.0.1:${clientPorts[i]}`;
  const peer = (i: number) => `http://127.0.0.1:${peerPorts[i]}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(",");
  const procs: Child[] = names.map((name, i) =>
    spawnChild({
      cmd: ["etcd", "--name", name, "--data-dir", join(dir.path, name), "--listen-client-urls", client(i), "--advertise-client-urls", client(i), "--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i), "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "bench", "--logger", "zap", "--log-level", "warn"],
    }),
  );
  const clientUrls = names.map((_, i) => client(i));
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    dir.remove();
  };
  try {
    await waitUntil(
      async () => {
        if (procs.some((p) => !p.running())) throw new Error(`etcd exited at start:\n${procs.map((p) => p.output()).join("\n")}`);
        try {
          const r = await fetch(`${clientUrls[0]}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: btoa("ready"), value: btoa("1") }), signal: AbortSignal.timeout(2000) });
          return r.status === 200;
        } catch {
          return false;
        }
      },
      startTimeoutMs,
      `etcd (${members} members) to answer puts`,
      200,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    clientUrls,
    pids: procs.map((p) => p.pid),
    leaderUrl: async () => {
      for (const url of clientUrls) {
        const answer = await status(url);
        if (answer?.leader && answer.header?.member_id === answer.leader) return url;
      }
      throw new Error("etcd: no member reports itself as leader");
    },
    stop,
  };
}
