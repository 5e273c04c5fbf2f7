/**
 * src/allocator.ts: a node started without MIMALLOC_PURGE_DELAY runs with it set to -1, in the
 * very process that was started (the same PID serves, and dies by SIGKILL to that PID), with the
 * same argv; a value the operator sets is kept and the process is not re-executed. Linux only
 * (/proc); skipped elsewhere with the reason printed.
 */

import { afterEach, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";

const linux = process.platform === "linux";
const started: { node: NodeProcess; dir: { remove(): void } }[] = [];

afterEach(async () => {
  for (const { node, dir } of started.splice(0)) {
    await node.kill("SIGKILL");
    dir.remove();
  }
});

function environOf(pid: number): Map<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").filter(Boolean);
  return new Map(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").slice(0, -1);
}

async function start(env: Record<string, string> = {}): Promise<{ node: NodeProcess; dataDir: string }> {
  const dir = tempDir("scribe-allocator-");
  const node = await spawnNode({ dataDir: dir.path, env, readyPath: "/health" });
  started.push({ node, dir });
  return { node, dataDir: dir.path };
}

test.skipIf(!linux)("a node started without MIMALLOC_PURGE_DELAY runs with -1 in the same process, argv unchanged", async () => {
  const { node, dataDir } = await start();
  const environ = environOf(node.pid);
  expect(environ.get("MIMALLOC_PURGE_DELAY")).toBe("-1");
  // The rest of the environment came through (spawnNode sets these).
  expect(environ.get("SCRIBE_LOGGING_FORMAT")).toBe("json");
  // spawnNode runs `bun <repo>/src/main.ts --data-dir DIR --port N --raft-port M`.
  const argv = argvOf(node.pid);
  expect(argv[0]).toBe("bun");
  expect(argv[1]!.endsWith("src/main.ts")).toBe(true);
  expect(argv.slice(2, 6)).toEqual(["--data-dir", dataDir, "--port", String(node.port)]);
  expect((await fetch(`${node.url}/health`)).status).toBe(200);
  expect(node.output()).not.toContain("MIMALLOC_PURGE_DELAY is not set");
  // The PID the caller holds is the serving process: SIGKILL to it ends the service.
  expect(await node.kill("SIGKILL")).not.toBe(0);
  expect(await fetch(`${node.url}/health`).then(() => "answered", () => "refused")).toBe("refused");
});

test.skipIf(!linux)("arguments and environment pass through the re-execution byte for byte (non-ASCII included)", async () => {
  const dir = tempDir("scribe-allocator-é-");
  const dataDir = join(dir.path, "données");
  const node = await spawnNode({ dataDir, env: { TEST_LABEL_UTF8: "naïve ☃" }, readyPath: "/health" });
  started.push({ node, dir });
  const argv = readFileSync(`/proc/${node.pid}/cmdline`);
  expect(argv.includes(Buffer.from(`--data-dir\0${dataDir}\0`, "utf8"))).toBe(true);
  const environ = readFileSync(`/proc/${node.pid}/environ`);
  expect(environ.includes(Buffer.from("\0TEST_LABEL_UTF8=naïve ☃\0", "utf8"))).toBe(true);
  expect(environ.includes(Buffer.from("\0MIMALLOC_PURGE_DELAY=-1\0", "utf8"))).toBe(true);
  // The node opened its database where the argument says.
  expect(readdirSync(dataDir).length).toBeGreaterThan(0);
});

test.skipIf(!linux)("an operator's MIMALLOC_PURGE_DELAY wins", async () => {
  const { node } = await start({ MIMALLOC_PURGE_DELAY: "100" });
  expect(environOf(node.pid).get("MIMALLOC_PURGE_DELAY")).toBe("100");
  expect((await fetch(`${node.url}/health`)).status).toBe(200);
});

if (!linux) {
  test("the allocator setting is Linux-only", () => {
    console.log(`skipping the allocator tests: they read /proc, which ${process.platform} does not have`);
  });
}
