/**
 * The S3 check at start, on real scribe-node processes: with s3rver up the node logs that the
 * bucket is reachable; with the endpoint on a closed port, or a bucket that does not exist, it
 * starts, serves, logs a warning naming the problem and the way to refuse instead, and GET /ready
 * answers 503 naming S3 (GET /health: 200, the process serves); with
 * `--require-s3` (or SCRIBE_STORAGE_S3_REQUIRE_REACHABLE=true) it refuses to start: exit status 2
 * and a message naming the bucket, the endpoint and the cause.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, spawnNode, type NodeProcess } from "../support/node-process.ts";
import { s3Fixture } from "../support/s3-fixture.ts";
import { coldEnv, until } from "./support.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const nodes: NodeProcess[] = [];
const fixture = s3Fixture("scribe-s3-check-", async () => {
  for (const node of nodes) await node.kill("SIGKILL");
});
const dataDir = () => fixture.dir();

/** Log lines (JSON) of a node's output with the given level (pino: 30 info, 40 warn, 60 fatal). */
function logLines(output: string, level: number): { msg: string; problem?: string }[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; msg: string; problem?: string })
    .filter((line) => line.level === level);
}

/** Waits for /health (the process serves): /ready stays 503 while S3 cannot be used. */
async function startWith(env: Record<string, string>): Promise<NodeProcess> {
  const node = await spawnNode({ dataDir: dataDir(), env, readyPath: "/health" });
  nodes.push(node);
  return node;
}

/** Runs scribe-node to its exit (it must exit by itself) and returns its status and output. */
async function runToExit(env: Record<string, string>, args: string[] = []): Promise<{ code: number; stderr: string; stdout: string }> {
  const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts"), "--data-dir", dataDir(), "--port", String(freePort()), "--raft-port", String(freePort()), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SCRIBE_LOGGING_FORMAT: "json", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const code = await proc.exited;
  clearTimeout(killer);
  return { code, stdout: await new Response(proc.stdout).text(), stderr: await new Response(proc.stderr).text() };
}

const closedPortEnv = () => ({ ...coldEnv(fixture.s3, "check"), SCRIBE_STORAGE_S3_ENDPOINT: `http://127.0.0.1:${freePort()}` });
const missingBucketEnv = () => ({ ...coldEnv(fixture.s3, "check"), SCRIBE_STORAGE_S3_BUCKET: "no-such-bucket" });

test("s3rver up: the node says the bucket is reachable, with or without --require-s3", async () => {
  for (const extra of [{}, { SCRIBE_STORAGE_S3_REQUIRE_REACHABLE: "true" }] as Record<string, string>[]) {
    const node = await startWith({ ...coldEnv(fixture.s3, "check"), ...extra });
    await until("the S3 check's log line", () => logLines(node.output(), 30).some((l) => l.msg.includes("is reachable")));
    expect(logLines(node.output(), 30).find((l) => l.msg.includes("is reachable"))!.msg).toContain(`bucket "${fixture.s3.bucket}" at ${fixture.s3.endpoint}`);
    expect(logLines(node.output(), 40)).toEqual([]);
    await node.kill("SIGKILL");
  }
}, 60_000);

test("endpoint on a closed port: a warning at start, and the node serves", async () => {
  const env = closedPortEnv();
  const node = await startWith(env);
  await until("the S3 warning", () => logLines(node.output(), 40).length > 0);
  const warning = logLines(node.output(), 40)[0]!;
  expect(warning.problem).toBe("unreachable");
  expect(warning.msg).toContain(`at ${env.SCRIBE_STORAGE_S3_ENDPOINT}`);
  expect(warning.msg).toContain("cannot reach the endpoint");
  expect(warning.msg).toContain("--require-s3");
  const put = await fetch(`${node.url}/kv/still-writes`, { method: "PUT", body: "yes", headers: { "content-type": "text/plain" } });
  expect(put.status).toBe(200);
  // Alive and writing, but not ready: GET /ready names S3, from the start check's outcome.
  const ready = await fetch(`${node.url}/ready`);
  expect(ready.status).toBe(503);
  const readiness = (await ready.json()) as { reasons: string[]; checks: { s3: Record<string, unknown> } };
  expect(readiness.checks.s3).toMatchObject({ ok: false, reachable: false, source: "start check" });
  expect(readiness.reasons).toEqual([expect.stringContaining("s3: S3 was unreachable when last tried (start check): unreachable: cannot reach the endpoint")]);
  await node.kill("SIGKILL");
}, 30_000);

test("endpoint on a closed port with --require-s3: refused, exit status 2, a clear message", async () => {
  const env = closedPortEnv();
  const result = await runToExit(env, ["--require-s3"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`scribe-node: cannot start: S3 bucket "${fixture.s3.bucket}" at ${env.SCRIBE_STORAGE_S3_ENDPOINT} cannot be used: cannot reach the endpoint`);
  expect(result.stderr).toContain("storage.s3.require_reachable");
  expect(result.stdout).not.toContain("scribe node listening");
}, 30_000);

test("a bucket that does not exist: a warning by default; refused with storage.s3.require_reachable", async () => {
  const node = await startWith(missingBucketEnv());
  await until("the S3 warning", () => logLines(node.output(), 40).length > 0);
  const warning = logLines(node.output(), 40)[0]!;
  expect(warning.problem).toBe("no_such_bucket");
  expect(warning.msg).toContain('bucket "no-such-bucket"');
  expect(warning.msg).toContain("does not exist");
  expect(((await (await fetch(`${node.url}/ready`)).json()) as { reasons: string[] }).reasons.join(" ")).toContain("no_such_bucket");
  await node.kill("SIGKILL");

  const result = await runToExit({ ...missingBucketEnv(), SCRIBE_STORAGE_S3_REQUIRE_REACHABLE: "true" });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('S3 bucket "no-such-bucket"');
  expect(result.stderr).toContain("the bucket does not exist");
}, 30_000);
