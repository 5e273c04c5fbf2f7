/**
 * scripts/cluster: start.sh --s3, check.sh and stop.sh run a real 3-node cluster with a local S3
 * server (s3rver) in a copy of the repository, on free ports (HTTP_PORT_BASE, RAFT_PORT_BASE and
 * S3_PORT): the cluster archives within a minute of the first write (small, fast-sealing segments),
 * check.sh lists the bucket's objects with their sizes and says how many segments are archived,
 * followers report the leader's archived index, and stop.sh stops every process it started.
 */

import { afterAll, expect, test } from "bun:test";
import { existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");

function portFree(port: number): boolean {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

/** A base whose base+1..base+3 are free, in a range away from the scripts' defaults and other tests' picks. */
function freeBase(avoid: number[]): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 3000);
    const ports = [base + 1, base + 2, base + 3];
    if (ports.every((p) => !avoid.includes(p) && portFree(p))) return base;
  }
  throw new Error("no free port range for the cluster scripts test");
}

const httpBase = freeBase([]);
const raftBase = freeBase([httpBase + 1, httpBase + 2, httpBase + 3]);
const s3Port = freeBase([httpBase + 1, httpBase + 2, httpBase + 3, raftBase + 1, raftBase + 2, raftBase + 3]) + 1;
const ports = [1, 2, 3].flatMap((i) => [httpBase + i, raftBase + i]).concat(s3Port);

const copy = tempDir("scribe-scripts-");
const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HTTP_PORT_BASE: String(httpBase), RAFT_PORT_BASE: String(raftBase), S3_PORT: String(s3Port) };
afterAll(() => {
  if (existsSync(join(copy.path, "scripts/cluster/stop.sh"))) Bun.spawnSync(["bash", "scripts/cluster/stop.sh"], { cwd: copy.path, env });
  copy.remove();
});

function run(script: string, ...args: string[]): { code: number; out: string } {
  const result = Bun.spawnSync(["bash", `scripts/cluster/${script}`, ...args], { cwd: copy.path, stdout: "pipe", stderr: "pipe", timeout: 90_000, env });
  return { code: result.exitCode, out: `${result.stdout.toString()}${result.stderr.toString()}` };
}

interface Cold {
  archival_role: string;
  archived_index: number | null;
  backlog_entries: number | null;
}

test("start.sh --s3 archives within a minute; check.sh shows the objects; stop.sh stops everything", async () => {
  const tar = Bun.spawnSync(["bash", "-c", `tar --exclude=./node_modules --exclude=./data --exclude=./.scribe-cluster --exclude=./dist --exclude=./.git -cf - . | tar -xf - -C '${copy.path}'`], { cwd: repoRoot, stderr: "pipe" });
  expect(tar.exitCode, tar.stderr.toString()).toBe(0);
  symlinkSync(join(repoRoot, "node_modules"), join(copy.path, "node_modules"));

  const started = run("start.sh", "--s3");
  expect(started.code, started.out).toBe(0);
  expect(started.out).toContain("S3 server started");
  expect(started.out).toContain(`on HTTP ${httpBase + 3}, Raft ${raftBase + 3}`);
  expect(started.out).toContain("segments seal at 65536 bytes or after 10 s");
  expect(started.out).toContain('"leader_id"');

  // check.sh writes through node 2; --wait 60 waits for the first segment to be archived.
  const checked = run("check.sh", "--wait", "60");
  expect(checked.code, checked.out).toBe(0);
  expect(checked.out.match(/reads the write/g)?.length).toBe(3);
  expect(checked.out.match(/^node \d: ready$/gm)?.length).toBe(3);
  expect(checked.out).toContain(`S3 endpoint http://127.0.0.1:${s3Port} answers`);
  expect(checked.out.match(/cold tier on \(leader\)/g)?.length).toBe(1);
  expect(checked.out.match(/cold tier on \(follower\)/g)?.length).toBe(2);
  // The listing: object sizes and keys under the prefix, the manifest among them, and the count.
  expect(checked.out).toMatch(new RegExp(`bucket "scribe" at http://127.0.0.1:${s3Port}, prefix local-cluster: \\d+ objects`));
  expect(checked.out).toMatch(/^\s+\d+\s+local-cluster\/segments\/\d{20}-\d{20}\.seg\.gz$/m);
  expect(checked.out).toMatch(/^\s+\d+\s+local-cluster\/manifest\.json$/m);
  const archived = /segments archived: (\d+), entries 0\.\.(\d+)/.exec(checked.out);
  expect(archived, checked.out).not.toBeNull();
  expect(Number(archived![1])).toBeGreaterThanOrEqual(1);

  // Followers read the cluster's progress from the bucket (every 5 s here): the same archived index
  // as the leader's, not a backlog of their own.
  const cold = async (i: number) => ((await (await fetch(`http://127.0.0.1:${httpBase + i}/metrics`)).json()) as { cold: Cold }).cold;
  const deadline = Date.now() + 30_000;
  let colds = await Promise.all([1, 2, 3].map(cold));
  while (Date.now() < deadline && !colds.every((c) => (c.archived_index ?? 0) > 0)) {
    await Bun.sleep(500);
    colds = await Promise.all([1, 2, 3].map(cold));
  }
  for (const c of colds) {
    expect(c.archived_index).toBeGreaterThan(0);
    expect(c.backlog_entries).not.toBeNull();
  }
  expect(colds.map((c) => c.archival_role).sort()).toEqual(["follower", "follower", "leader"]);

  // Restarting without --s3 would lose the cold tier: refused. So is a restart on other ports.
  const stopped = run("stop.sh");
  expect(stopped.out).toContain("S3 server stopped");
  expect(stopped.out.match(/node \d stopped/g)?.length).toBe(3);
  const withoutS3 = run("start.sh");
  expect(withoutS3.code).toBe(2);
  expect(withoutS3.out).toContain("--s3");
  const otherPorts = Bun.spawnSync(["bash", "scripts/cluster/start.sh", "--s3"], { cwd: copy.path, env: { ...env, HTTP_PORT_BASE: String(httpBase + 100) }, stdout: "pipe", stderr: "pipe" });
  expect(otherPorts.exitCode).toBe(2);
  expect(otherPorts.stderr.toString()).toContain(`HTTP_PORT_BASE=${httpBase}`);
  for (const port of ports) expect(portFree(port)).toBe(true);
}, 180_000);
