/**
 * The client must run outside Bun: bundle src/client for the browser target (which fails on any
 * `bun`/`node:` import) and run the bundle under Node, where it falls back to hash-wasm.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeEntry } from "../../src/ledger/index.ts";
import { toBase64 } from "../../src/lib/index.ts";
import { encodeEntryBundle, entryBundlePath, hashTilePath, nodeRunReader, readHashTile, tilesBetween } from "../../src/merkle/index.ts";
import { generateSigner } from "../../src/crypto/index.ts";
import { FakeLedger, origin } from "./fake-ledger.ts";

const nodePath = Bun.which("node");

test.skipIf(!nodePath)("the browser bundle of src/client verifies a response under Node with hash-wasm", async () => {
  const dir = mkdtempSync(join(tmpdir(), "scribe-client-"));
  const build = await Bun.build({ entrypoints: [join(import.meta.dir, "../../src/client/index.ts")], target: "browser", format: "esm", outdir: dir, naming: "client.mjs" });
  expect(build.success).toBe(true);

  const { signer, verifierKey } = await generateSigner("portable");
  const ledger = new FakeLedger(signer);
  for (let i = 0; i < 25; i++) ledger.put(`k${i % 4}`, `v${i}`);
  const response = await ledger.verify("k1");
  const consistency = await ledger.consistency(10, 25);
  const earlier = await ledger.checkpoint(10);
  writeFileSync(
    join(dir, "run.mjs"),
    `import * as client from "./client.mjs";
const response = ${JSON.stringify(response)};
const verifiers = [await client.parseVerifierKey(${JSON.stringify(verifierKey)})];
const hasher = await client.loadHasher();
const state = new client.TrustedState({ verifiers });
await state.update(${JSON.stringify(earlier)}, async () => { throw new Error("not needed"); });
const result = await client.verifyKeyResponse(response, { verifiers, origin: ${JSON.stringify(origin)}, value: new TextEncoder().encode("v21"),
  trustedState: state, fetchConsistency: async () => (${JSON.stringify(consistency)}) });
let tampered = "accepted";
try { await client.verifyKeyResponse({ ...response, entry: { ...response.entry, timestamp_ms: 5 } }, { verifiers }); } catch (e) { tampered = e.name; }
console.log(JSON.stringify({ hasher: hasher.name, index: result.entry.index, size: (await state.current()).size, tampered }));
`,
  );
  const run = Bun.spawnSync([nodePath!, join(dir, "run.mjs")], { stderr: "pipe" });
  const stdout = run.stdout.toString();
  expect(run.exitCode, run.stderr.toString()).toBe(0);
  expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual({ hasher: "wasm", index: 21, size: 25, tampered: "VerificationError" });
});

test.skipIf(!nodePath)("under Node, the HTTP client fails over a refused endpoint for reads and writes (Node's fetch errors)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "scribe-client-http-"));
  const build = await Bun.build({ entrypoints: [join(import.meta.dir, "../../src/client/index.ts")], target: "browser", format: "esm", outdir: dir, naming: "client.mjs" });
  expect(build.success).toBe(true);
  const received: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      const url = new URL(request.url);
      received.push(`${request.method} ${url.pathname}${url.search} ${request.headers.get("authorization")}`);
      if (request.method === "PUT") return Response.json({ key: "k", op: "put", index: 0, version: 1, leaf_hash: "a".repeat(64), tree_size: 1, timestamp_ms: 5 });
      return Response.json({ keys: [{ key: "k", index: 0, version: 1, deleted: false }], next: null, ledger_size: 1 });
    },
  });
  const closedListener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const closed = `http://127.0.0.1:${closedListener.port}`;
  closedListener.stop(true);
  try {
    writeFileSync(
      join(dir, "run.mjs"),
      `import * as client from "./client.mjs";
const http = new client.ScribeHttpClient({ endpoints: [${JSON.stringify(closed)}, ${JSON.stringify(`http://127.0.0.1:${server.port}`)}], apiKey: "node-key" });
const page = await http.keys({ prefix: "k" });
const receipt = await http.put("k", "v");
let alone = "";
try { await new client.ScribeHttpClient({ endpoints: [${JSON.stringify(closed)}] }).put("k", "v"); } catch (e) { alone = e.name + ": " + e.message; }
console.log(JSON.stringify({ keys: page.keys.map((k) => k.key), version: receipt.version, alone }));
`,
    );
    const run = Bun.spawn([nodePath!, join(dir, "run.mjs")], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    expect(exitCode, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(result).toEqual({ keys: ["k"], version: 1, alone: expect.stringContaining(`NetworkError: cannot reach ${closed}: `) });
    expect(result.alone).toContain("ECONNREFUSED"); // undici's cause, named
    expect(received).toEqual(["GET /keys?prefix=k Bearer node-key", "PUT /kv/k Bearer node-key"]);
  } finally {
    server.stop(true);
  }
});

test.skipIf(!nodePath)("the browser bundle verifies proofs and audits a log from tiles alone under Node (hash-wasm, fflate)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "scribe-client-tiles-"));
  const build = await Bun.build({ entrypoints: [join(import.meta.dir, "../../src/client/index.ts")], target: "browser", format: "esm", outdir: dir, naming: "client.mjs" });
  expect(build.success).toBe(true);

  const { signer, verifierKey } = await generateSigner("portable");
  const ledger = new FakeLedger(signer);
  for (let i = 0; i < 600; i++) ledger.put(`k${i % 9}`, `v${i}`);
  const objects: Record<string, string> = { checkpoint: toBase64(new TextEncoder().encode(await ledger.checkpoint())) };
  for (const t of tilesBetween(0, 600)) {
    objects[hashTilePath(t)] = toBase64(readHashTile(nodeRunReader(ledger.tree.store), t)!);
    if (t.level === 0) objects[entryBundlePath(t)] = toBase64(encodeEntryBundle(ledger.entries.slice(t.index * 256, t.index * 256 + t.width).map(encodeEntry)));
  }
  const expected = ledger.tree.inclusionProof(300, 600).map((h) => Buffer.from(h).toString("hex"));
  writeFileSync(
    join(dir, "run.mjs"),
    `import * as client from "./client.mjs";
const objects = ${JSON.stringify(objects)};
const source = { location: "memory:", async read(path) { const b64 = objects[path]; return b64 === undefined ? undefined : new Uint8Array(Buffer.from(b64, "base64")); } };
const verifiers = [await client.parseVerifierKey(${JSON.stringify(verifierKey)})];
const verifier = await client.TileVerifier.create({ source });
const { checkpoint } = await verifier.checkpoint(verifiers);
const proof = (await verifier.inclusionProof(300, checkpoint)).map((h) => Buffer.from(h).toString("hex"));
const entry = await verifier.entry(300, checkpoint);
const audit = await client.auditTiles({ source, verifiers });
const tile = new Uint8Array(Buffer.from(objects["tile/0/001"], "base64"));
tile[0] ^= 1;
objects["tile/0/001"] = Buffer.from(tile).toString("base64");
const tampered = await client.auditTiles({ source, verifiers });
console.log(JSON.stringify({ hasher: verifier.hasher.name, proof, key: entry.key, ok: audit.ok, entries: audit.stats.entries, tampered: tampered.ok ? null : [tampered.failure.kind, tampered.failure.object, tampered.failure.index] }));
`,
  );
  const run = Bun.spawnSync([nodePath!, join(dir, "run.mjs")], { stderr: "pipe" });
  expect(run.exitCode, run.stderr.toString()).toBe(0);
  expect(JSON.parse(run.stdout.toString().trim().split("\n").at(-1)!)).toEqual({ hasher: "wasm", proof: expected, key: "k3", ok: true, entries: 600, tampered: ["tile", "tile/0/001", 256] });
});
