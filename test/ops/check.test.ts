/**
 * `scribe-node check DATA_DIR` on real data directories written by real node processes: clean
 * (after SIGTERM, and after SIGKILL with frames still in the WAL) it exits 0 and changes no file;
 * with a value byte, an entries row, a tree node, the Raft log or the checkpoint key wrong it exits
 * 1 naming the index; output is bounded per kind; a running node and a directory without a
 * database are refused with exit 2.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { cpSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigner } from "../../src/crypto/index.ts";
import { postOrderPosition } from "../../src/merkle/index.ts";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const dirs: { remove(): void }[] = [];
const nodes: NodeProcess[] = [];
/** A data directory after a clean stop (SIGTERM), and one after SIGKILL (frames left in the WAL). */
let stopped: string;
let killed: string;
let verifierKey: string;
const entryCount = 300;

function newDir(): string {
  const dir = tempDir("scribe-check-");
  dirs.push(dir);
  return dir.path;
}

/** 300 entries in 30 batches (30 Raft entries): 20 keys, versions, and a delete every 50. */
function batches(): Record<string, unknown>[][] {
  const ops = Array.from({ length: entryCount }, (_, i) => (i % 50 === 49 ? { op: "delete", key: `k${i % 20}` } : { op: "put", key: `k${i % 20}`, value: `value ${i} of key ${i % 20}` }));
  return Array.from({ length: ops.length / 10 }, (_, b) => ops.slice(b * 10, b * 10 + 10));
}

async function writeNode(signal: "SIGTERM" | "SIGKILL"): Promise<{ dir: string; key: string }> {
  const dir = newDir();
  const node = await spawnNode({ dataDir: dir });
  nodes.push(node);
  for (const ops of batches()) {
    const response = await fetch(`${node.url}/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ops }) });
    expect(response.status).toBe(200);
  }
  expect((await fetch(`${node.url}/checkpoint`)).status).toBe(200); // signs and stores a checkpoint of all 300
  const key = (await (await fetch(`${node.url}/checkpoint/key`)).text()).trim();
  await node.kill(signal);
  return { dir, key };
}

beforeAll(async () => {
  const clean = await writeNode("SIGTERM");
  stopped = clean.dir;
  verifierKey = clean.key;
  killed = (await writeNode("SIGKILL")).dir;
}, 60_000);

afterAll(async () => {
  for (const node of nodes) await node.kill("SIGKILL");
  for (const dir of dirs) dir.remove();
});

async function check(dir: string, ...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts"), "check", dir, ...args], { cwd: repoRoot, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" } });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

/** Every file of a directory with the SHA-256 of its bytes. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, new Bun.CryptoHasher("sha256").update(readFileSync(join(dir, name))).digest("hex")]));
}

/** A copy of a written data directory with `tamper` applied to its database. */
function tampered(from: string, tamper: (db: Database) => void): string {
  const dir = newDir();
  cpSync(from, dir, { recursive: true });
  const db = new Database(join(dir, "scribe.db"));
  tamper(db);
  db.close();
  return dir;
}

function flipValueBit(db: Database, index: number): void {
  const value = new Uint8Array(db.query<{ value: Uint8Array }, [number]>("SELECT value FROM vals WHERE idx = ?").get(index)!.value);
  value[2]! ^= 0x04;
  expect(db.run("UPDATE vals SET value = ? WHERE idx = ?", [value, index]).changes).toBe(1);
}

test("a clean directory: exit 0, and not one file changed, created or removed", async () => {
  const before = snapshot(stopped);
  expect(Object.keys(before)).toEqual(["checkpoint-signing.key", "scribe.db"]);
  const result = await check(stopped);
  expect(result.exitCode, result.stderr + result.stdout).toBe(0);
  expect(result.stdout).toContain(`${entryCount} entries; ${entryCount - 6} values checked`);
  expect(result.stdout).toContain(`checkpoint  size ${entryCount}`);
  expect(result.stdout).toContain("signature verified");
  // A sole voter stores no Raft log of its own commands: the log is compacted through the last one.
  expect(result.stdout).toMatch(/raft log    empty after \d+, commit \d+, term 1\n/);
  expect(result.stdout).toEndWith("CLEAN: no corruption found\n");
  expect(result.stderr).toBe("");
  expect(snapshot(stopped)).toEqual(before);

  const json = await check(stopped, "--json", "--verifier-key", verifierKey);
  expect(json.exitCode).toBe(0);
  const report = JSON.parse(json.stdout) as { clean: boolean; entries: number; counts: Record<string, number>; checkpoint: { signature: string }; problems: unknown[] };
  expect(report).toMatchObject({ clean: true, entries: entryCount, checkpoint: { signature: "verified" }, problems: [] });
  expect(Object.values(report.counts).every((count) => count === 0)).toBe(true);
});

test("a node killed with frames in its WAL: the WAL is read, the database and WAL are left as they were", async () => {
  const before = snapshot(killed);
  expect(Object.keys(before)).toContain("scribe.db-wal");
  const result = await check(killed, "--progress");
  expect(result.exitCode, result.stdout).toBe(0);
  expect(result.stdout).toContain(`${entryCount} entries`);
  expect(result.stderr).toContain(`check: ${entryCount}/${entryCount} entries (100%)`);
  const after = snapshot(killed);
  expect(Object.keys(after)).toEqual(Object.keys(before));
  // The -shm file is SQLite's index of the WAL, a cache it may rebuild; the data files are untouched.
  for (const name of ["scribe.db", "scribe.db-wal", "checkpoint-signing.key"]) expect(after[name]).toBe(before[name]!);
});

test("a value byte: exit 1 naming the index and key", async () => {
  const dir = tampered(stopped, (db) => flipValueBit(db, 123));
  const result = await check(dir);
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toContain("CORRUPT: 1 problem (value 1)");
  expect(result.stdout).toMatch(/ value {7}index 123 key "k3": value hashes to [0-9a-f]{64}, entry 123 says/);
});

test("an entries row (its key): exit 1 naming the index, and the broken chains and root that follow", async () => {
  const dir = tampered(stopped, (db) => expect(db.run("UPDATE entries SET key = 'intruder' WHERE idx = 57").changes).toBe(1));
  const result = await check(dir);
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toMatch(/ entry {7}index 57 key "intruder": entry 57 hashes to leaf [0-9a-f]{64}, the tree's leaf is/);
  expect(result.stdout).toContain('chain       index 57 key "intruder": entry 57 (key "intruder") links to entry 37, whose key is "k17"');
  expect(result.stdout).toContain("the root recomputed from the entries at size 300");
});

test("a tree node: exit 1 naming the node and its leaves, not its parents", async () => {
  // Node 2/5 is at post-order position 44 of the tree_hashes table (postOrderPosition(2, 5)).
  expect(postOrderPosition(2, 5)).toBe(44);
  const dir = tampered(stopped, (db) => {
    // Rows hold runs of positions: zero the 32 bytes of position 44 inside the row that holds it.
    const row = db.query<{ pos: number; hashes: Uint8Array }, []>("SELECT pos, hashes FROM tree_hashes WHERE pos <= 44 ORDER BY pos DESC LIMIT 1").get()!;
    const hashes = new Uint8Array(row.hashes);
    expect(hashes.length).toBeGreaterThanOrEqual((44 - row.pos + 1) * 32);
    hashes.fill(0, (44 - row.pos) * 32, (44 - row.pos + 1) * 32);
    expect(db.run("UPDATE tree_hashes SET hashes = ? WHERE pos = ?", [hashes, row.pos]).changes).toBe(1);
  });
  const result = await check(dir);
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toContain("CORRUPT: 1 problem (tree 1)");
  expect(result.stdout).toContain("tree        index 20: tree node 2/5 (leaves 20..23) is not the hash of its two children");
});

test("a hole in the Raft log: exit 1 naming the missing index", async () => {
  let hole = 0;
  const dir = tampered(stopped, (db) => {
    // A sole voter's log is empty after its compacted point: put two entries after it, one apart.
    const compacted = JSON.parse(db.query<{ v: string }, []>("SELECT v FROM raft_state WHERE k = 'compacted'").get()!.v) as { index: number; term: number };
    expect(compacted.index).toBeGreaterThan(10);
    hole = compacted.index + 2;
    for (const idx of [compacted.index + 1, compacted.index + 3]) db.run("INSERT INTO raft_log (idx, term, type, data) VALUES (?, ?, 0, x'00')", [idx, compacted.term]);
  });
  const result = await check(dir);
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toContain("CORRUPT: 1 problem (raft 1)");
  expect(result.stdout).toContain(`raft        index ${hole}: Raft log entry ${hole} is missing (a hole before ${hole + 1})`);
});

test("a checkpoint that another key signed: exit 1", async () => {
  const other = (await generateSigner(verifierKey.split("+")[0]!)).verifierKey;
  const result = await check(stopped, "--verifier-key", other);
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toContain("signature bad");
  expect(result.stdout).toContain("the stored checkpoint's signature does not verify");
});

test("output is bounded: the first N of each kind, and every one counted", async () => {
  const dir = tampered(stopped, (db) => {
    for (let index = 100; index < 130; index++) flipValueBit(db, index);
  });
  const result = await check(dir, "--max-per-kind", "5");
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toContain("CORRUPT: 30 problems (value 30)");
  expect(result.stdout.split("\n").filter((line) => line.startsWith("  value ")).length).toBe(6); // 5 listed + the count line
  expect(result.stdout).toContain("value       … and 25 more (--max-per-kind to list them)");
  const report = JSON.parse((await check(dir, "--max-per-kind", "5", "--json")).stdout) as { counts: { value: number }; problems: { index: number }[] };
  expect(report.counts.value).toBe(30);
  expect(report.problems.map((p) => p.index)).toEqual([100, 101, 102, 103, 104]);
});

test("usage errors exit 2: no database, no directory, bad arguments, a node running on the directory", async () => {
  const empty = newDir();
  const none = await check(empty);
  expect(none.exitCode).toBe(2);
  expect(none.stderr).toContain("has no database");
  expect(readdirSync(empty)).toEqual([]);
  expect((await check(join(empty, "absent"))).exitCode).toBe(2);
  const noArgs = Bun.spawnSync(["bun", join(repoRoot, "src/main.ts"), "check"], { cwd: repoRoot });
  expect(noArgs.exitCode).toBe(2);
  expect(noArgs.stderr.toString()).toContain("usage: scribe-node check DATA_DIR");
  expect((await check(stopped, "--max-per-kind", "many")).exitCode).toBe(2);

  const live = newDir();
  cpSync(stopped, live, { recursive: true });
  const node = await spawnNode({ dataDir: live });
  nodes.push(node);
  const refused = await check(live);
  expect(refused.exitCode).toBe(2);
  expect(refused.stderr).toContain(`its database is open in pid ${node.pid}`);
  expect(refused.stdout).toBe("");
  await node.kill("SIGTERM");
  expect((await check(live)).exitCode).toBe(0);
});
