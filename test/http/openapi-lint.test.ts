/**
 * The OpenAPI document a node serves passes `redocly lint` (the @redocly/cli devDependency, run
 * under Bun) with the committed redocly.yaml — Redocly's recommended rules, every warning an
 * error — with zero errors and zero warnings. The same linter must fail a broken document, so
 * this test can fail.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { makeApp } from "../support/app.ts";
import { tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const dir = tempDir("scribe-openapi-");
let document: Record<string, unknown>;

beforeAll(async () => {
  const t = await makeApp();
  try {
    document = (await (await t.call("GET", "/openapi")).json()) as Record<string, unknown>;
  } finally {
    await t.close();
  }
});
afterAll(() => dir.remove());

/** Runs `redocly lint` on `doc` with the repository's redocly.yaml. */
async function lint(doc: unknown, name: string): Promise<{ code: number; output: string }> {
  const file = join(dir.path, name);
  await Bun.write(file, JSON.stringify(doc, null, 2));
  const proc = Bun.spawn(["bun", join(repoRoot, "node_modules/@redocly/cli/bin/cli.js"), "lint", file, "--config", join(repoRoot, "redocly.yaml"), "--format=stylish"], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? "", HOME: dir.path, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: stdout + stderr };
}

test("redocly lint: the served document has no error and no warning", async () => {
  const { code, output } = await lint(document, "openapi.json");
  expect(output).not.toMatch(/\b(error|warning)\b/i);
  expect(output).toContain("valid");
  expect(code, output).toBe(0);
}, 60_000);

test("redocly lint fails a broken document (no servers, an operation without responses)", async () => {
  const paths = structuredClone(document.paths) as Record<string, Record<string, Record<string, unknown>>>;
  delete paths["/health"]!.get!.responses;
  const { code, output } = await lint({ ...document, servers: undefined, paths }, "broken.json");
  expect(code).not.toBe(0);
  expect(output).toMatch(/no-empty-servers|servers/i);
}, 60_000);
