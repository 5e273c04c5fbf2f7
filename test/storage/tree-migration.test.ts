/**
 * A data directory written by the code before the tree_hashes layout (fixtures/tree-nodes-layout:
 * made with the tree of commit 5551b70, see its README.md; 340 entries, a signed checkpoint, the
 * Merkle nodes in `tree_nodes (level, idx)`): `scribe-node check` reads it as it is (converted in
 * memory, with a warning), and a node opening it converts the table at open. Afterwards the
 * signed root, every proof and every value are what they were, new writes extend the same tree
 * (consistent with the old checkpoint), and the file has no `tree_nodes` table left.
 */
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { consistencyProofFromJson, verifyKeyResponse } from "../../src/client/index.ts";
import { defaultHasher, parseVerifierKey } from "../../src/crypto/index.ts";
import { parseCheckpoint, postOrderNodeCount, splitNote, verifyConsistency } from "../../src/merkle/index.ts";
import { checkDataFiles } from "../../src/storage/index.ts";
import { spawnNode, tempDir } from "../support/node-process.ts";

const fixture = join(import.meta.dir, "fixtures", "tree-nodes-layout");
const dir = tempDir("scribe-tree-migration-");
afterAll(() => dir.remove());

function tables(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name);
  } finally {
    db.close();
  }
}

test("a tree_nodes data directory is checked as it is, converted at open, and keeps its root, proofs and values", async () => {
  const dataDir = join(dir.path, "data");
  cpSync(fixture, dataDir, { recursive: true, filter: (src) => !src.endsWith(".md") });
  const databasePath = join(dataDir, "scribe.db");
  expect(tables(databasePath)).toContain("tree_nodes");
  const oldNote = (() => {
    const db = new Database(databasePath, { readonly: true });
    try {
      return db.query<{ v: string }, []>("SELECT v FROM meta WHERE k = 'checkpoint_note'").get()!.v;
    } finally {
      db.close();
    }
  })();
  const old = parseCheckpoint(splitNote(oldNote).body);
  expect(old.size).toBe(340);

  const before = await checkDataFiles({ databasePath });
  expect(before.problems).toEqual([]);
  expect(before.clean).toBe(true);
  expect(before.treeNodes).toBe(postOrderNodeCount(340) - 340);
  expect(before.warnings.join("\n")).toContain("tree_nodes");

  const node = await spawnNode({ dataDir, env: { SCRIBE_LOGGING_LEVEL: "info" } });
  try {
    expect(node.output()).toContain("converted the Merkle tree table");
    const verifier = await parseVerifierKey((await (await fetch(`${node.url}/checkpoint/key`)).text()).trim());
    const hasher = defaultHasher()!;
    // The latest value of a key written many times, and a batch key, prove against a checkpoint of the same tree.
    for (const key of ["fixture/3", "fixture/52", "batch/39"]) {
      const value = new Uint8Array(await (await fetch(`${node.url}/kv/${key}`)).arrayBuffer());
      const proof = await (await fetch(`${node.url}/verify/${key}`)).json();
      const verified = await verifyKeyResponse(proof, { verifiers: [verifier], key, value, hasher });
      expect(verified.checkpoint.size).toBe(340);
      expect(verified.checkpoint.rootHash).toEqual(old.rootHash);
    }
    // A new write extends the converted tree: consistent with the checkpoint signed before the conversion.
    expect((await fetch(`${node.url}/kv/after-migration`, { method: "PUT", body: "new" })).status).toBe(200);
    const consistency = consistencyProofFromJson(await (await fetch(`${node.url}/proof/consistency?from=340&to=341`)).json());
    expect(consistency.fromRoot).toEqual(old.rootHash);
    verifyConsistency(hasher, 340, 341, consistency.proof, old.rootHash, consistency.toRoot);
  } finally {
    await node.kill("SIGTERM");
  }
  expect(tables(databasePath)).not.toContain("tree_nodes");
  expect(tables(databasePath)).toContain("tree_hashes");
  const converted = new Database(databasePath, { readonly: true });
  try {
    const { rows, nodes } = converted.query<{ rows: number; nodes: number }, []>("SELECT COUNT(*) AS rows, SUM(length(hashes)) / 32 AS nodes FROM tree_hashes").get()!;
    expect(nodes).toBe(postOrderNodeCount(341));
    expect(rows).toBeLessThan(10); // 676 nodes converted in position order, 256 to a row, and the new write's row
  } finally {
    converted.close();
  }
  const after = await checkDataFiles({ databasePath });
  expect(after.problems).toEqual([]);
  expect(after.clean).toBe(true);
  expect(after.entries).toBe(341);
  expect(after.warnings.join("\n")).not.toContain("tree_nodes");
});
