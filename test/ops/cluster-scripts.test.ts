/**
 * scripts/cluster: start.sh --s3, check.sh and stop.sh run a real 3-node cluster with a local S3
 * server (s3rver) in a copy of the repository, on the scripts' fixed ports (HTTP 8001-8003, Raft
 * 9001-9003, S3 9000). Skipped, with the reason printed, when one of those ports is taken.
 */

import { afterAll, expect, test } from "bun:test";
import { existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const ports = [8001, 8002, 8003, 9000, 9001, 9002, 9003];

function portFree(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

const busy = ports.filter((port) => !portFree(port));
if (busy.length > 0) console.log(`skipping the cluster scripts test: port(s) ${busy.join(", ")} in use`);

const copy = tempDir("scribe-scripts-");
afterAll(() => {
  if (existsSync(join(copy.path, "scripts/cluster/stop.sh"))) Bun.spawnSync(["bash", "scripts/cluster/stop.sh"], { cwd: copy.path });
  copy.remove();
});

test.skipIf(busy.length > 0)("start.sh --s3, check.sh and stop.sh run a cluster with a cold tier", () => {
  const tar = Bun.spawnSync(["bash", "-c", `tar --exclude=./node_modules --exclude=./data --exclude=./.scribe-cluster --exclude=./dist --exclude=./.git -cf - . | tar -xf - -C '${copy.path}'`], { cwd: repoRoot, stderr: "pipe" });
  expect(tar.exitCode, tar.stderr.toString()).toBe(0);
  symlinkSync(join(repoRoot, "node_modules"), join(copy.path, "node_modules"));
  const run = (script: string, ...args: string[]) => {
    const result = Bun.spawnSync(["bash", `scripts/cluster/${script}`, ...args], { cwd: copy.path, stdout: "pipe", stderr: "pipe", timeout: 60_000, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" } });
    return { code: result.exitCode, out: `${result.stdout.toString()}${result.stderr.toString()}` };
  };
  const started = run("start.sh", "--s3");
  expect(started.code, started.out).toBe(0);
  expect(started.out).toContain("S3 server started");
  expect(started.out).toContain('"leader_id"');
  const checked = run("check.sh");
  expect(checked.code, checked.out).toBe(0);
  expect(checked.out.match(/reads the write/g)?.length).toBe(3);
  expect(checked.out).toContain("S3 endpoint http://127.0.0.1:9000 answers");
  expect(checked.out.match(/cold tier on/g)?.length).toBe(3);
  // Restarting without --s3 would lose the cold tier: refused.
  const stopped = run("stop.sh");
  expect(stopped.out).toContain("S3 server stopped");
  expect(stopped.out.match(/node \d stopped/g)?.length).toBe(3);
  const withoutS3 = run("start.sh");
  expect(withoutS3.code).toBe(2);
  expect(withoutS3.out).toContain("--s3");
  for (const port of ports) expect(portFree(port)).toBe(true);
}, 90_000);
