/**
 * @module check-imports. Enforces the layout rule (DESIGN §7, docs/ARCHITECTURE.md "Layers and
 * the dependency rule") on every .ts file under src/:
 *
 *   1. direction: a module imports only the modules of its row in `layers` below, so imports
 *      point toward purer modules (a module may always import its own files);
 *   2. surface: another module is reached only through an index.ts (`../storage/index.ts`, or a
 *      subfolder's index such as `../storage/cold/index.ts`; never `../storage/hot.ts`);
 *   3. packages: each npm package or runtime module (`bun`, `bun:*`, `node:*`) is imported only
 *      by the modules `packages` names (only storage/ touches SQLite and S3, only http/ imports
 *      Elysia...); the pure cores and the portable modules import no `bun`/`node:` module;
 *   4. purity: the pure cores read no clock, draw no randomness, set no timer and touch no I/O
 *      global (`Date.now`, `new Date()`, `performance`, `Math.random`, `crypto`, `setTimeout` and
 *      friends, `fetch`, `process`, `Bun`, `globalThis`): they take these as injected interfaces.
 *      Checked on the syntax tree, so comments, strings and a method named `fetch` do not count.
 *
 *   bun scripts/check-imports.ts              # checks ./src
 *   bun scripts/check-imports.ts --root DIR   # checks DIR/src (the test plants violations there)
 *   bun scripts/check-imports.ts --table      # prints the table as docs/ARCHITECTURE.md shows it
 *
 * A row may be a single file inside a folder (cluster/server.ts, the one place http/ meets the
 * node; client/tile-directory.ts, the client's one Node-only file): it is then a module of its
 * own, imported by its path, and the folder's other files are not allowed what it is.
 *
 * Prints one `file:line: message` per violation and exits 1 when there is any. There is no list
 * of exceptions.
 */

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { parseArgs } from "node:util";
import ts from "typescript";

/** How a module may be used: a pure core, a portable module (Bun, Node and browsers), or an edge. */
type Kind = "pure" | "portable" | "edge";

interface Layer {
  kind: Kind;
  /** The modules this one may import. */
  imports: readonly string[];
  /** What it is, for the table in docs/ARCHITECTURE.md (`--table` prints it; a test compares). */
  about: string;
}

/**
 * The dependency table. A module is a folder of src/, a file at its root, or a file a row names.
 * Imports point toward purer modules: lib ← merkle, raft, check, config ← ledger, crypto ←
 * storage, transport, metrics, http ← cluster ← cluster/server.ts ← main, with client (portable)
 * and cli (over client) in rows of their own.
 */
export const layers: Readonly<Record<string, Layer>> = {
  lib: { kind: "pure", imports: [], about: "bytes, encoding, assertions, errors, the random-source interface" },
  merkle: { kind: "pure", imports: ["lib"], about: "RFC 9162 tree, proofs, checkpoints, signed notes over an injected Ed25519, tiles math" },
  raft: { kind: "pure", imports: ["lib"], about: "the Raft core and its storage interface" },
  check: { kind: "pure", imports: ["lib"], about: "the linearizability checker" },
  config: { kind: "edge", imports: ["lib"], about: "configuration schema and loader (reads files)" },
  ledger: { kind: "pure", imports: ["lib", "merkle"], about: "entries, commands, apply, checks, JSON codec, validation, the service contract" },
  crypto: { kind: "portable", imports: ["lib", "merkle"], about: "WebCrypto Ed25519, the SHA-256 hashers (native or hash-wasm)" },
  metrics: { kind: "edge", imports: ["lib"], about: "the Prometheus registry" },
  storage: { kind: "edge", imports: ["lib", "merkle", "raft", "ledger", "crypto"], about: "SQLite hot tier, cache, S3 cold tier" },
  transport: { kind: "edge", imports: ["lib"], about: "Raft over TCP, node-to-node authentication" },
  http: { kind: "edge", imports: ["lib", "config", "merkle", "ledger", "crypto", "metrics", "transport"], about: "the Elysia app: routes, guard, handlers" },
  client: { kind: "portable", imports: ["lib", "merkle", "ledger", "crypto"], about: "verifier and HTTP client for Bun, Node and browsers" },
  "client/tile-directory.ts": { kind: "edge", imports: ["lib", "client"], about: "a TileSource over a directory (node:fs): Bun and Node only, so outside client's index" },
  // `scribe mirror` keeps its copy in an embedded ledger (loaded lazily by that command only).
  cli: { kind: "edge", imports: ["lib", "merkle", "ledger", "client", "client/tile-directory.ts", "embedded.ts"], about: "the `scribe` command-line client; `mirror` writes an embedded ledger" },
  cluster: {
    kind: "edge",
    imports: ["lib", "config", "merkle", "raft", "ledger", "crypto", "metrics", "storage", "transport", "client"],
    about: "the node: its driver in small parts, peers, archival, restore, the offline check",
  },
  "cluster/server.ts": { kind: "edge", imports: ["lib", "config", "metrics", "http", "cluster"], about: "the wiring: starts a node and serves http/'s app over it" },
  "embedded.ts": { kind: "edge", imports: ["lib", "config", "ledger", "crypto", "cluster"], about: "the embedded library (no HTTP)" },
  "allocator.ts": { kind: "edge", imports: [], about: "the node's allocator setting: re-executes the process once with it (Linux)" },
  "main.ts": { kind: "edge", imports: ["lib", "config", "cluster", "cluster/server.ts", "allocator.ts"], about: "the node's process: argv and environment" },
  "index.ts": { kind: "edge", imports: ["lib", "config", "ledger", "embedded.ts"], about: "the package's public surface" },
};

/**
 * Which modules may import each package or runtime module. `bun`, `bun:*` and `node:*` are
 * allowed in the edges only (listed as "edges"), SQLite in storage/ only; anything not listed
 * here is a violation, so a new dependency gets a deliberate row.
 */
export const packages: Readonly<Record<string, readonly string[] | "edges">> = {
  bun: "edges",
  "bun:*": "edges",
  "node:*": "edges",
  "bun:sqlite": ["storage"],
  elysia: ["http"],
  // The JSON Schema builder under Elysia's `t`, imported for its strict integers and its checker (http/schema-fields.ts, body-errors.ts).
  "@sinclair/typebox": ["http"],
  "@aws-sdk/client-s3": ["storage"],
  fflate: ["storage", "client"],
  "hash-wasm": ["crypto"],
  "prom-client": ["metrics"],
  pino: ["cluster"],
  "pino-pretty": ["cluster"],
  "smol-toml": ["config"],
};

/** Global names a pure core may not touch (read as a value: `Bun.x`, `setTimeout(...)`, `globalThis`). */
const forbiddenGlobals = new Map<string, string>([
  ["Bun", "the Bun runtime"],
  ["process", "the process (environment, exit)"],
  ["globalThis", "the global object (runtime probing)"],
  ["crypto", "WebCrypto (inject signing, hashing, randomness)"],
  ["performance", "a clock"],
  ["setTimeout", "a timer"],
  ["setInterval", "a timer"],
  ["setImmediate", "a timer"],
  ["clearTimeout", "a timer"],
  ["clearInterval", "a timer"],
  ["fetch", "network I/O"],
  ["require", "a dynamic import"],
]);

/** Member reads a pure core may not make: `Date.now`, `Math.random`. */
const forbiddenMembers = new Map<string, string>([
  ["Date.now", "a clock"],
  ["Math.random", "randomness"],
]);

export interface Violation {
  file: string;
  line: number;
  message: string;
}

/**
 * The module of a path relative to src/: the longest row of the table that is the path or a
 * folder holding it (a single file may be a module of its own), else the path's first folder.
 */
function moduleOf(pathInSrc: string): string {
  let best: string | undefined;
  for (const name of Object.keys(layers)) {
    if ((pathInSrc === name || pathInSrc.startsWith(`${name}/`)) && (best === undefined || name.length > best.length)) best = name;
  }
  return best ?? pathInSrc.split("/")[0]!;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

/** The row of `packages` an import specifier falls under: its own, else `bun:*` / `node:*`. */
function packageName(specifier: string): string {
  if (specifier in packages) return specifier;
  if (specifier.startsWith("node:")) return "node:*";
  if (specifier.startsWith("bun:")) return "bun:*";
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** The import specifiers of a file with their lines: static, re-exports, dynamic `import()` and `require()`. */
function importsOf(source: ts.SourceFile): { specifier: string; line: number }[] {
  const found: { specifier: string; line: number }[] = [];
  const add = (literal: ts.Expression | undefined): void => {
    if (literal && ts.isStringLiteralLike(literal)) found.push({ specifier: literal.text, line: source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression);
    else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) add(node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal as ts.Expression);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Whether `node` is an identifier used as a value of the global scope (not a property name, declaration or type). */
function isGlobalReference(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) || ts.isTypeReferenceNode(parent) || ts.isTypeQueryNode(parent)) return false;
  if ((ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent) || ts.isMethodDeclaration(parent) || ts.isPropertySignature(parent) || ts.isMethodSignature(parent)) && parent.name === node) return false;
  if ((ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isFunctionDeclaration(parent) || ts.isBindingElement(parent)) && parent.name === node) return false;
  if (ts.isImportSpecifier(parent) || ts.isExportSpecifier(parent) || ts.isImportClause(parent) || ts.isNamespaceImport(parent)) return false;
  return true;
}

/** The clock, randomness, timer and I/O globals a pure core touches, with their lines. */
function impureUses(source: ts.SourceFile): { line: number; message: string }[] {
  const found: { line: number; message: string }[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && forbiddenGlobals.has(node.text) && isGlobalReference(node)) {
      found.push({ line: lineOf(node), message: `uses \`${node.text}\`: ${forbiddenGlobals.get(node.text)}` });
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const name = `${node.expression.text}.${node.name.text}`;
      if (forbiddenMembers.has(name)) found.push({ line: lineOf(node), message: `uses \`${name}\`: ${forbiddenMembers.get(name)}` });
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Date" && (node.arguments?.length ?? 0) === 0) {
      found.push({ line: lineOf(node), message: "uses `new Date()`: a clock" });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function allowedPackage(name: string, module: string, kind: Kind): boolean {
  const owners = packages[name];
  if (owners === undefined) return false;
  if (owners === "edges") return kind === "edge";
  return owners.includes(module);
}

/** Checks every file of `root`/src; returns the violations in file order. */
export function checkImports(root: string): Violation[] {
  const srcDir = join(root, "src");
  const violations: Violation[] = [];
  for (const path of tsFiles(srcDir)) {
    const pathInSrc = relative(srcDir, path).split(sep).join("/");
    const file = `src/${pathInSrc}`;
    const module = moduleOf(pathInSrc);
    const layer = layers[module];
    if (!layer) {
      violations.push({ file, line: 1, message: `module "${module}" has no row in the dependency table of scripts/check-imports.ts` });
      continue;
    }
    const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    for (const { specifier, line } of importsOf(source)) {
      const report = (message: string): void => {
        violations.push({ file, line, message: `imports "${specifier}": ${message}` });
      };
      if (!specifier.startsWith(".")) {
        const name = packageName(specifier);
        if (!allowedPackage(name, module, layer.kind)) {
          const owners = packages[name];
          const why = owners === undefined ? `${name} has no row in the package table` : owners === "edges" ? `a ${layer.kind} module may not use ${name}` : `only ${owners.join(", ") || "no module"} may import ${name}`;
          report(why);
        }
        continue;
      }
      const target = normalize(join(dirname(path), specifier));
      const targetInSrc = relative(srcDir, target).split(sep).join("/");
      if (targetInSrc.startsWith("..")) continue; // outside src/ (package.json): no layer
      const targetModule = moduleOf(targetInSrc);
      if (targetModule === module) continue;
      if (!layer.imports.includes(targetModule)) report(`${module} may not import ${targetModule} (it may import: ${layer.imports.join(", ") || "nothing"})`);
      if (layers[targetModule] && !targetModule.endsWith(".ts") && !targetInSrc.endsWith("/index.ts")) report(`reach ${targetModule}/ through an index.ts`);
    }
    if (layer.kind === "pure") {
      for (const use of impureUses(source)) violations.push({ file, line: use.line, message: `pure core ${use.message}` });
    }
  }
  return violations;
}

/** The table as Markdown, the way docs/ARCHITECTURE.md shows it. */
export function renderTable(): string {
  const name = (module: string): string => (module.endsWith(".ts") ? `\`${module}\`` : `\`${module}/\``);
  const rows = Object.entries(layers).map(([module, layer]) => `| ${name(module)} | ${layer.kind} | ${layer.imports.map(name).join(", ") || "nothing"} | ${layer.about} |`);
  return ["| module | kind | may import | what |", "|---|---|---|---|", ...rows].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { root: { type: "string" }, table: { type: "boolean" } } });
  if (values.table) {
    console.log(renderTable());
    process.exit(0);
  }
  const root = values.root ?? join(import.meta.dir, "..");
  const violations = checkImports(root);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.message}`);
  if (violations.length > 0) {
    console.log(`check-imports: ${violations.length} violation(s) of the dependency rule (scripts/check-imports.ts has the table)`);
    process.exit(1);
  }
  console.log("check-imports: src/ follows the dependency rule");
}
