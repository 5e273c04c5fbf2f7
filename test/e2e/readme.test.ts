/**
 * The README's examples stay runnable: every `curl` line of its sh blocks runs, in order, against
 * a real node (on a free port instead of 8001) and must succeed, and the values land with the
 * content type the example names; no curl example in the README or docs/ sends a value with `-d`
 * (form encoding); the embedded-library example runs as written against a temporary data directory.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";

const root = join(import.meta.dir, "..", "..");
const readme = await Bun.file(join(root, "README.md")).text();

function blocks(language: string): string[] {
  const out: string[] = [];
  const fence = new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g");
  for (const match of readme.matchAll(fence)) out.push(match[1]!);
  return out;
}

const dir = tempDir();
let node: NodeProcess;
beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path });
});
afterAll(async () => {
  await node.kill("SIGKILL");
  dir.remove();
});

test("every curl example in the README succeeds, in order", () => {
  const scratch = tempDir("scribe-readme-curl-");
  const commands = blocks("sh")
    .flatMap((block) => block.split("\n"))
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line.startsWith("curl "));
  expect(commands.length).toBeGreaterThan(8);
  for (const command of commands) {
    const local = command.replaceAll("localhost:8001", `127.0.0.1:${node.port}`).replace(/^curl /, "curl -sS -f -o /dev/null ");
    // In a scratch directory: an example may write a file (`> members.txt`).
    const result = Bun.spawnSync(["bash", "-c", local], { cwd: scratch.path });
    if (result.exitCode !== 0) throw new Error(`README example failed (${result.exitCode}): ${command}\n${result.stderr}`);
  }
  scratch.remove();
}, 30_000); // one curl process per example: seconds on a loaded machine

test("the examples stored their values raw, with the content type they named", async () => {
  const hello = await fetch(`${node.url}/hello`);
  expect(hello.headers.get("content-type")).toStartWith("text/plain");
  expect(await hello.text()).toBe("Hello, Hyra!");
  const alice = await fetch(`${node.url}/kv/users/alice?version=1`);
  expect(alice.headers.get("content-type")).toStartWith("application/json");
  expect(await alice.json()).toEqual({ name: "Alice" });
});

test("no curl example in the README or docs/ sends a body with -d; each --data-binary names its Content-Type", () => {
  const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  let checked = 0;
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    for (const line of text.split("\n")) {
      const command = line.replace(/^\$ /, "").trim();
      if (!command.startsWith("curl ")) continue;
      expect(`${file}: ${command}`).not.toMatch(/\s(-d|--data|--data-raw|--data-ascii|--data-urlencode|-F|--form)[\s=]/);
      if (command.includes("--data-binary")) {
        expect(`${file}: ${command}`).toMatch(/-H ['"]Content-Type: [^'"]+['"]/i);
        checked += 1;
      }
    }
  }
  expect(checked).toBeGreaterThanOrEqual(10);
});

test("the embedded-library example runs as written", () => {
  const example = blocks("ts").find((b) => b.includes("ScribeLedger.open"));
  expect(example).toBeDefined();
  const work = mkdtempSync(join(root, ".readme-example-"));
  try {
    writeFileSync(join(work, "example.ts"), example!);
    const result = Bun.spawnSync(["bun", "example.ts"], { cwd: work });
    expect(result.stderr.toString()).toBe("");
    expect(result.stdout.toString()).toBe('Alice Smith\n[ "put", "delete" ]\n');
    expect(result.exitCode).toBe(0);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
