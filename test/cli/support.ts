/**
 * Helpers for the CLI tests: run `scribe` as a real process, fill a node fast with POST /batch,
 * and tamper with a stopped node's SQLite file the way an attacker with disk access would.
 */

import { Database } from "bun:sqlite";
import { join } from "node:path";
import { encodeEntry, type Entry } from "../../src/ledger/entry.ts";
import { MerkleTree } from "../../src/merkle/index.ts";
import { defaultHasher } from "../../src/crypto/index.ts";
import { SqliteTreeStore } from "../../src/storage/index.ts";

export const repoRoot = join(import.meta.dir, "..", "..");
export const cliPath = join(repoRoot, "src/cli/main.ts");

export interface CliResult {
  exitCode: number;
  stdout: Uint8Array;
  stdoutText: string;
  stderr: string;
}

/** Runs `bun src/cli/main.ts ...args` and collects its output. */
export async function scribe(args: string[], options: { stdin?: Uint8Array; env?: Record<string, string> } = {}): Promise<CliResult> {
  const proc = Bun.spawn(["bun", cliPath, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    stdin: options.stdin ? new Blob([options.stdin as Uint8Array<ArrayBuffer>]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stdoutText: new TextDecoder().decode(stdout), stderr };
}

/** Most operations one POST /batch takes (the server's storage.max_batch_ops default). */
const batchOpsMax = 1000;

/** POSTs the ops in batches of at most batchOpsMax; returns the last receipt batch's tree size. */
export async function fill(url: string, ops: readonly Record<string, unknown>[]): Promise<number> {
  let size = 0;
  for (let start = 0; start < ops.length; start += batchOpsMax) {
    const response = await fetch(`${url}/batch`, { method: "POST", body: JSON.stringify({ ops: ops.slice(start, start + batchOpsMax) }) });
    if (!response.ok) throw new Error(`batch failed: ${response.status} ${await response.text()}`);
    size = ((await response.json()) as { last_index: number }).last_index + 1;
  }
  return size;
}

/** Opens a stopped node's database for tampering. */
export function openDatabase(dataDir: string): Database {
  return new Database(join(dataDir, "scribe.db"));
}

interface EntryRow {
  idx: number;
  op: number;
  key: string;
  value_hash: Uint8Array;
  value_bytes: number;
  content_type: string;
  ts: number;
  prev_idx: number;
}

/**
 * Rewrites history the way only a thorough attacker would: after the entries were altered,
 * rebuild every tree node from them and forget the last signed checkpoint, so the node signs a
 * self-consistent but different tree of the same size. Only a client that kept an old
 * checkpoint can tell.
 */
export function rebuildTree(db: Database): void {
  const rows = db.query<EntryRow, []>("SELECT idx, op, key, value_hash, value_bytes, content_type, ts, prev_idx FROM entries ORDER BY idx").all();
  const hasher = defaultHasher()!;
  const leaves = new Uint8Array(rows.length * 32);
  rows.forEach((row, i) => {
    const entry: Entry = { index: row.idx, op: row.op === 0 ? "put" : "delete", key: row.key, valueHash: row.value_hash, valueBytes: row.value_bytes, contentType: row.content_type, timestampMs: row.ts, prevIndex: row.prev_idx };
    leaves.set(hasher.hashLeaf(encodeEntry(entry)), i * 32);
  });
  db.transaction(() => {
    db.run("DELETE FROM tree_hashes");
    MerkleTree.open({ hasher, store: new SqliteTreeStore(db) }).appendLeafHashes(leaves);
    db.run("DELETE FROM meta WHERE k IN ('checkpoint_note', 'checkpoint_quorum')");
  })();
}
