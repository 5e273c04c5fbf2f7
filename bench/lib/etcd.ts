/**
 * @module etcd. Starts Debian's etcd 3.4 on loopback (one member or a cluster) as the peer we
 * benchmark against, with the flags of ../shared/MEASURED.md; stops it by PID.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function haveEtcd(): boolean {
  return Bun.spawnSync(["sh", "-c", "command -v etcd"]).exitCode === 0;
}

export interface EtcdCluster {
  clientUrls: string[];
  stop(): Promise<void>;
}

export async function startEtcd(members: number, portBase: number): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), "scribe-etcd-"));
  const names = Array.from({ length: members }, (_, i) => `m${i + 1}`);
  const peer = (i: number) => `http://127.0.0.1:${portBase + i * 10 + 1}`;
  const client = (i: number) => `http://127.0.0.1:${portBase + i * 10}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(",");
  const procs = names.map((name, i) =>
    Bun.spawn(
      ["etcd", "--name", name, "--data-dir", join(dir, name), "--listen-client-urls", client(i), "--advertise-client-urls", client(i), "--listen-peer-urls", peer(i), "--initial-advertise-peer-urls", peer(i), "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "bench", "--logger", "zap", "--log-level", "warn"],
      { stdout: "ignore", stderr: "ignore" },
    ),
  );
  const clientUrls = names.map((_, i) => client(i));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${clientUrls[0]}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: btoa("ready"), value: btoa("1") }) });
      if (r.status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("etcd did not start");
    await Bun.sleep(200);
  }
  return {
    clientUrls,
    stop: async () => {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
