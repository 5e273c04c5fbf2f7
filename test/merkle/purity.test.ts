/** src/merkle stays pure and src/client stays portable: checked on the source text. */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");

function sources(folder: string): [string, string][] {
  return readdirSync(join(root, folder))
    .filter((name) => name.endsWith(".ts"))
    .map((name) => [`${folder}/${name}`, readFileSync(join(root, folder, name), "utf8")]);
}

function imports(text: string): string[] {
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
}

const forbiddenCalls = /\b(Date\.now|Math\.random|setTimeout|setInterval|performance\.now)\b/;

test("src/merkle imports only src/lib and itself, and reads no clock or randomness", () => {
  for (const [path, text] of sources("src/merkle")) {
    for (const specifier of imports(text)) {
      expect(specifier === "../lib/index.ts" || /^\.\/[a-z-]+\.ts$/.test(specifier), `${path} imports ${specifier}`).toBe(true);
    }
    expect(forbiddenCalls.test(text), `${path} uses a clock, timer or randomness`).toBe(false);
  }
});

test("src/client imports only merkle, ledger, lib, hash-wasm, fflate and itself", () => {
  const allowed = new Set(["../merkle/index.ts", "../ledger/index.ts", "../crypto/index.ts", "../lib/index.ts", "fflate"]);
  // The one Bun/Node-only file: a directory TileSource. Nothing else in src/client may import it.
  const nodeOnly = "src/client/tile-directory.ts";
  const nodeOnlyAllowed = new Set(["node:fs/promises", "node:path", "../lib/index.ts", "./tiles.ts"]);
  for (const [path, text] of sources("src/client")) {
    for (const specifier of imports(text)) {
      if (path === nodeOnly) {
        expect(nodeOnlyAllowed.has(specifier), `${path} imports ${specifier}`).toBe(true);
        continue;
      }
      expect(specifier !== "./tile-directory.ts", `${path} imports the Node-only ${nodeOnly}`).toBe(true);
      expect(allowed.has(specifier) || /^\.\/[a-z-]+\.ts$/.test(specifier), `${path} imports ${specifier}`).toBe(true);
    }
  }
});
