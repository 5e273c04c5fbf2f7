/**
 * The layout rule holds: `bun scripts/check-imports.ts` passes on src/ (a violation there fails
 * the suite with its file:line), and it reports every kind of violation it exists for, planted in
 * a small tree of its own: an impure pure core, a forbidden direction, a reach past an index.ts,
 * a package outside its owners, a Node module in a portable module, a folder without a row. And
 * docs/ARCHITECTURE.md shows the very table the check enforces.
 */

import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const script = join(repoRoot, "scripts", "check-imports.ts");

function run(args: string[]): { exitCode: number; lines: string[] } {
  const result = Bun.spawnSync(["bun", script, ...args], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, lines: result.stdout.toString().trim().split("\n") };
}

test("src/ follows the dependency rule: pure cores, directions, index-only access, package owners", () => {
  const { exitCode, lines } = run([]);
  expect(exitCode, lines.join("\n")).toBe(0);
  expect(lines).toEqual(["check-imports: src/ follows the dependency rule"]);
});

test("docs/ARCHITECTURE.md shows the dependency table the check enforces", () => {
  const { exitCode, lines } = run(["--table"]);
  expect(exitCode).toBe(0);
  expect(lines[0]).toBe("| module | kind | may import | what |");
  expect(readFileSync(join(repoRoot, "docs", "ARCHITECTURE.md"), "utf8")).toContain(lines.join("\n"));
});

test("check-imports reports each planted violation with its file and line, and nothing else", () => {
  const root = tempDir("scribe-layout-");
  const files: Record<string, string> = {
    // A pure core reading a clock, drawing randomness, setting a timer, probing the runtime and
    // using WebCrypto and a Node module; comments, strings and members named like globals do not count.
    "src/merkle/impure.ts": [
      'import { readFileSync } from "node:fs";', // 1
      "// Date.now() and Math.random() in a comment are fine", // 2
      'export const text = "setTimeout(Bun.file)";', // 3
      "export const now = Date.now();", // 4
      "export const draw = Math.random();", // 5
      "export const bun = (globalThis as { Bun?: unknown }).Bun;", // 6
      "setTimeout(() => readFileSync, 1);", // 7
      "export const subtle = crypto.subtle;", // 8
      "export const stamp = new Date();", // 9
      "export const formatted = new Date(0).toISOString();", // 10
      "export class Store { fetch(): number { return 1; } }", // 11
      "export const store = new Store().fetch();", // 12
    ].join("\n"),
    // Imports pointing away from purer modules, and past an index.ts.
    "src/http/wrong-way.ts": 'import type { HotStore } from "../storage/hot.ts";\nexport type T = HotStore;',
    "src/cluster/wrong-way.ts": 'import { createApp } from "../http/index.ts";\nexport const app = createApp;',
    "src/cluster/sqlite.ts": 'import { Database } from "bun:sqlite";\nexport const db = Database;',
    "src/ledger/fine.ts": 'import { hashSize } from "../merkle/index.ts";\nexport const size = hashSize;',
    // A portable module with a Node import, a package outside its owners.
    "src/client/not-portable.ts": 'import { join } from "node:path";\nimport { Elysia } from "elysia";\nexport const x = [join, Elysia];',
    // A folder the table does not know.
    "src/widgets/new.ts": "export const widget = 1;",
  };
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root.path, path)), { recursive: true });
      writeFileSync(join(root.path, path), text);
    }
    const { exitCode, lines } = run(["--root", root.path]);
    expect(exitCode).toBe(1);
    const located = lines.filter((line) => !line.startsWith("check-imports:")).map((line) => line.split(": ")[0]);
    expect(located).toEqual([
      "src/client/not-portable.ts:1",
      "src/client/not-portable.ts:2",
      "src/cluster/sqlite.ts:1",
      "src/cluster/wrong-way.ts:1",
      "src/http/wrong-way.ts:1",
      "src/http/wrong-way.ts:1",
      "src/merkle/impure.ts:1",
      "src/merkle/impure.ts:4",
      "src/merkle/impure.ts:5",
      "src/merkle/impure.ts:6",
      "src/merkle/impure.ts:7",
      "src/merkle/impure.ts:8",
      "src/merkle/impure.ts:9",
      "src/widgets/new.ts:1",
    ]);
    const text = lines.join("\n");
    expect(text).toContain("src/client/not-portable.ts:1: imports \"node:path\": a portable module may not use node:*");
    expect(text).toContain("src/client/not-portable.ts:2: imports \"elysia\": only http may import elysia");
    expect(text).toContain("src/cluster/sqlite.ts:1: imports \"bun:sqlite\": only storage may import bun:sqlite");
    expect(text).toContain("src/cluster/wrong-way.ts:1: imports \"../http/index.ts\": cluster may not import http");
    expect(text).toContain("src/http/wrong-way.ts:1: imports \"../storage/hot.ts\": http may not import storage");
    expect(text).toContain("src/http/wrong-way.ts:1: imports \"../storage/hot.ts\": reach storage/ through an index.ts");
    expect(text).toContain("src/merkle/impure.ts:1: imports \"node:fs\": a pure module may not use node:*");
    expect(text).toContain("src/merkle/impure.ts:4: pure core uses `Date.now`: a clock");
    expect(text).toContain("src/merkle/impure.ts:5: pure core uses `Math.random`: randomness");
    expect(text).toContain("src/merkle/impure.ts:6: pure core uses `globalThis`");
    expect(text).toContain("src/merkle/impure.ts:7: pure core uses `setTimeout`: a timer");
    expect(text).toContain("src/merkle/impure.ts:8: pure core uses `crypto`");
    expect(text).toContain("src/merkle/impure.ts:9: pure core uses `new Date()`: a clock");
    expect(text).toContain('src/widgets/new.ts:1: module "widgets" has no row in the dependency table');
    expect(lines.at(-1)).toBe("check-imports: 14 violation(s) of the dependency rule (scripts/check-imports.ts has the table)");
  } finally {
    root.remove();
  }
});
