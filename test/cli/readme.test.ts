/**
 * The README's "Verifying" section stays runnable: against a fresh node that got the quick-start
 * PUT, every sh block of that section runs as one bash script (curl lines on the node's port,
 * `bun src/cli/main.ts` as this checkout's CLI) in a scratch directory and must succeed, line by
 * line (`set -e`). test/e2e/readme.test.ts runs the curl lines; this runs the `scribe` lines.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { cliPath, repoRoot } from "./support.ts";

const readme = await Bun.file(join(repoRoot, "README.md")).text();

/** The sh blocks between "## Verifying" and the next level-2 heading. */
function verifyingBlocks(): string[] {
  const start = readme.indexOf("\n## Verifying\n");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

const dir = tempDir("scribe-readme-cli-");
const scratch = tempDir("scribe-readme-cli-work-");
let node: NodeProcess;
beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path });
  const response = await fetch(`${node.url}/hello`, { method: "PUT", body: "Hello, Hyra!" });
  expect(response.status).toBe(200);
});
afterAll(async () => {
  await node.kill("SIGTERM");
  dir.remove();
  scratch.remove();
});

test("the Verifying section's examples run as written, the CLI ones included", async () => {
  const blocks = verifyingBlocks();
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  const script = blocks.join("\n");
  const cliLines = script.split("\n").filter((line) => line.startsWith("bun src/cli/main.ts "));
  for (const command of ["put", "get", "delete", "history", "list", "members", "status", "verify", "checkpoint", "audit", "watch", "mirror"]) {
    expect(cliLines.some((line) => line.startsWith(`bun src/cli/main.ts ${command} `))).toBe(true);
  }
  const local = script.replaceAll("localhost:8001", `127.0.0.1:${node.port}`).replaceAll("bun src/cli/main.ts ", `bun ${cliPath} `);
  const proc = Bun.spawn(["bash", "-e", "-o", "pipefail", "-c", `set -x\n${local}`], {
    cwd: scratch.path,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SCRIBE_SERVER: node.url },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(exitCode, `${stderr}\n${stdout}`).toBe(0);
  expect(stdout).toContain('VERIFIED key "greeting"');
  expect(stdout).toContain("AUDIT OK");
  expect(stdout).toContain("blobs/random\t1\t");
  expect(stdout).toContain('"key":"config/limit","op":"put"');
  expect(stderr).toContain("verified: 2 version(s), a complete chain");
  expect(await Bun.file(join(scratch.path, "scribe-state.json")).exists()).toBe(true);
  expect(stdout).toMatch(/^1\tput\tgreeting\tv1\t.*\t"hello, world"$/m);
  expect(stdout).toContain("(equals the node's verified checkpoint)");
});
