/**
 * The client must run outside Bun: bundle src/client for the browser target (which fails on any
 * `bun`/`node:` import) and run the bundle under Node, where it falls back to hash-wasm.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigner } from "../../src/merkle/index.ts";
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
