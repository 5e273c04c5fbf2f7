/**
 * `bun run build` makes the scribe-node and scribe single executables and nothing else (no `.map`
 * files: the source maps are embedded), and scribe-node runs without the source tree: --help
 * answers, and a node started from it serves writes and Prometheus metrics.
 */

import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");

test("the build holds the two executables only, and the compiled scribe-node prints usage and serves a node", async () => {
  const out = tempDir("scribe-build-");
  try {
    const build = Bun.spawnSync(["bun", "scripts/build.ts", "--outdir", out.path], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
    expect(build.exitCode, build.stderr.toString()).toBe(0);
    // The executables only: no source maps (bun writes .map files beside a --sourcemap build), no staging left.
    expect(readdirSync(out.path).sort()).toEqual(["scribe", "scribe-node"]);
    const binary = join(out.path, "scribe-node");
    const help = Bun.spawnSync([binary, "--help"], { cwd: out.path, stdout: "pipe" });
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toContain("usage: scribe-node");

    const port = freePort();
    const node = Bun.spawn([binary, "--data-dir", join(out.path, "data"), "--port", String(port), "--raft-port", String(freePort())], { cwd: out.path, env: { PATH: process.env.PATH ?? "", SCRIBE_LOGGING_LEVEL: "warn" }, stdout: "ignore", stderr: "pipe" });
    try {
      let healthy = false;
      for (let i = 0; i < 200 && !healthy; i++) {
        healthy = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status === 200, () => false);
        if (!healthy) await Bun.sleep(50);
      }
      expect(healthy).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/kv/built`, { method: "PUT", body: "ok" })).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics/prometheus`)).text();
      expect(metrics).toContain("scribe_ledger_put_requests_total 1");
    } finally {
      node.kill("SIGTERM");
      expect(await node.exited).toBe(0);
    }
  } finally {
    out.remove();
  }
});
