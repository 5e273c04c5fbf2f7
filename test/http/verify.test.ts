import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { consistencyProofFromJson, inclusionProofFromJson, parseVerifierKey, verifyConsistency, verifyInclusion, verifyKeyResponse, verifyNote } from "../../src/client/index.ts";
import { fromHex } from "../../src/lib/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";
import { makeApp } from "../support/app.ts";

let t: Awaited<ReturnType<typeof makeApp>>;
beforeEach(async () => {
  t = await makeApp();
});
afterEach(() => t.close());

const hasher = createNativeHasher();
const text = async (path: string) => (await t.call("GET", path)).text();
const json = async (path: string) => (await (await t.call("GET", path)).json()) as any;

async function fill(count: number) {
  for (let i = 0; i < count; i++) await t.call("PUT", `/kv/k${i % 7}`, { body: `value ${i}` });
}

describe("verifiable ledger over HTTP", () => {
  test("GET /verify/:key proves the latest and older versions against a signed checkpoint", async () => {
    await fill(30);
    const verifier = await parseVerifierKey((await text("/checkpoint/key")).trim());
    const body = await json("/verify/k3");
    expect(body.verified).toBe(true);
    expect(body.error).toBeNull();
    expect(body.entry).toMatchObject({ key: "k3", index: 24, version: 4 });
    expect(body.proof).toMatchObject({ leaf_index: 24, tree_size: 30 });
    const value = new Uint8Array(await (await t.call("GET", "/kv/k3")).arrayBuffer());
    const verified = await verifyKeyResponse(body, { verifiers: [verifier], key: "k3", value, hasher });
    expect(verified.checkpoint.size).toBe(30);
    const old = await json("/verify/k3?version=1");
    expect(old.entry.index).toBe(3);
    await verifyKeyResponse(old, { verifiers: [verifier], key: "k3", hasher });
  });

  test("PUT receipts carry the leaf hash that the tree stores", async () => {
    const receipt = (await (await t.call("PUT", "/a", { body: "x" })).json()) as any;
    const proof = await json(`/proof/inclusion?index=${receipt.index}&tree_size=${receipt.tree_size}`);
    expect(proof.leaf_hash).toBe(receipt.leaf_hash);
    const parsed = inclusionProofFromJson(proof);
    verifyInclusion(hasher, parsed.leafIndex, parsed.treeSize, fromHex(receipt.leaf_hash)!, parsed.siblings, parsed.rootHash);
  });

  test("checkpoints are signed notes that stay consistent as the ledger grows", async () => {
    await fill(5);
    const verifier = await parseVerifierKey((await text("/checkpoint/key")).trim());
    const first = await verifyNote(await text("/checkpoint"), [verifier]);
    expect(first.size).toBe(5);
    await fill(40);
    const second = await verifyNote(await text("/checkpoint"), [verifier]);
    expect(second.size).toBe(45);
    const proof = consistencyProofFromJson(await json(`/proof/consistency?from=5&to=45`));
    verifyConsistency(hasher, 5, 45, proof.proof, first.rootHash, second.rootHash);
    expect(() => verifyConsistency(hasher, 5, 45, proof.proof, second.rootHash, first.rootHash)).toThrow();
  });

  test("inclusion proofs for every leaf of every tree size verify", async () => {
    await fill(17);
    for (let size = 1; size <= 17; size++) {
      const root = fromHex((await json(`/proof/consistency?from=${size}&to=${size}`)).to_root)!;
      for (let index = 0; index < size; index++) {
        const proof = inclusionProofFromJson(await json(`/proof/inclusion?index=${index}&tree_size=${size}`));
        const leaf = fromHex((await json(`/entries?from=${index}&limit=1`)).entries[0].leaf_hash)!;
        verifyInclusion(hasher, index, size, leaf, proof.siblings, root);
      }
    }
  });

  test("the verifier key and checkpoint survive a restart; the key file is reused", async () => {
    await fill(3);
    const key = await text("/checkpoint/key");
    const note = await text("/checkpoint");
    const overrides = { "node.data_dir": t.config.node.data_dir };
    await t.node.close();
    const again = await makeApp(overrides);
    try {
      expect(await (await again.call("GET", "/checkpoint/key")).text()).toBe(key);
      expect(await (await again.call("GET", "/checkpoint")).text()).toBe(note);
    } finally {
      await again.node.close();
    }
  });

  const garbage: [string, string][] = [
    ["/proof/inclusion?index=-1&tree_size=3", "negative index"],
    ["/proof/inclusion?index=abc&tree_size=3", "non-numeric index"],
    ["/proof/inclusion?index=3&tree_size=3", "index not below tree size"],
    ["/proof/inclusion?index=0&tree_size=99", "tree size beyond the tree"],
    ["/proof/inclusion?tree_size=3", "missing index"],
    ["/proof/inclusion?index=0&tree_size=1e3", "exponent"],
    ["/proof/consistency?from=2&to=1", "from beyond to"],
    ["/proof/consistency?from=0&to=99", "to beyond the tree"],
    ["/proof/consistency?from=x", "non-numeric from"],
    ["/proof/consistency", "missing from"],
    ["/entries?from=-5", "negative from"],
    ["/entries?from=0&limit=0", "zero limit"],
    ["/entries?from=99", "from beyond the ledger"],
  ];
  for (const [path, name] of garbage) {
    test(`garbage proof parameters answer 400, never 500: ${name}`, async () => {
      await fill(3);
      const response = await t.call("GET", path);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe("invalid_range");
    });
  }

  test("verify of an unknown key or version answers 404", async () => {
    await fill(2);
    expect((await t.call("GET", "/verify/nope")).status).toBe(404);
    expect((await t.call("GET", "/verify/k0?version=9")).status).toBe(404);
    expect((await t.call("GET", "/verify/k0?version=x")).status).toBe(400);
  });
});
