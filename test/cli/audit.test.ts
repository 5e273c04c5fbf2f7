/**
 * `scribe audit` and `scribe verify` against real nodes, healthy and tampered. The tamper tests
 * stop a node, change its SQLite file directly (a value; an entry field; a whole rewritten tree),
 * restart it on the same port, and check what a user sees: GET /verify reports verified:false,
 * `scribe verify` exits 1, `scribe audit` exits 1 naming exactly the tampered index, and a state
 * file catches a history that was rewritten consistently.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { cliPath, fill, openDatabase, rebuildTree, repoRoot, scribe } from "./support.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startNode(dataDir: string, port?: number): Promise<NodeProcess> {
  const node = await spawnNode({ dataDir, port });
  cleanups.push(() => node.kill("SIGKILL").then(() => undefined));
  return node;
}

function newDir(): string {
  const dir = tempDir("scribe-audit-");
  cleanups.push(() => dir.remove());
  return dir.path;
}

/**
 * `keys` keys × `versions` versions, version v of every key in batch v (so key i's version v is
 * at index (v - 1) * keys + i); every 10th key's last version is a delete.
 */
function ledgerOps(keys: number, versions: number): Record<string, unknown>[] {
  const ops: Record<string, unknown>[] = [];
  for (let v = 1; v <= versions; v++) {
    for (let i = 0; i < keys; i++) {
      if (v === versions && i % 10 === 9) ops.push({ op: "delete", key: `k${i}` });
      else if (i % 7 === 3) ops.push({ op: "put", key: `k${i}`, value_base64: btoa(String.fromCharCode(v, i & 0xff, 0, 255)) });
      else ops.push({ op: "put", key: `k${i}`, value: `value ${v} of key ${i}` });
    }
  }
  return ops;
}

const keyCount = 1000;
const versionCount = 3;
/** The tampered key: key 123's latest version, in the middle of the log. */
const tamperedKey = "k123";
const tamperedIndex = (versionCount - 1) * keyCount + 123;

async function keyOf(node: NodeProcess): Promise<string> {
  return (await (await fetch(`${node.url}/checkpoint/key`)).text()).trim();
}

test("audit passes on a healthy ledger of 3000 entries, across pages, with progress lines", async () => {
  const node = await startNode(newDir());
  const size = await fill(node.url, ledgerOps(keyCount, versionCount));
  expect(size).toBe(keyCount * versionCount);
  const started = performance.now();
  const result = await scribe(["audit", "--server", node.url, "--key", await keyOf(node), "--page", "700"]);
  const elapsedMs = performance.now() - started;
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdoutText).toStartWith(`AUDIT OK: ${size} entries (2900 puts, 100 deletes, ${keyCount} keys,`);
  expect(result.stdoutText).toContain(`size ${size})`);
  // stderr is a pipe here: plain progress lines, not a redrawn bar
  expect(result.stderr).toContain(`audit: ${size}/${size} entries (100%)`);
  expect(result.stderr).not.toContain("\r");
  console.log(`audit of ${size} entries: ${elapsedMs.toFixed(0)} ms (CLI process included)`);

  // On a terminal (script(1) gives the CLI a pseudo-terminal) the progress is a redrawn bar.
  const scriptPath = Bun.which("script");
  if (scriptPath) {
    const command = ["bun", cliPath, "audit", "--server", node.url, "--key", await keyOf(node), "--page", "300"].map((arg) => `'${arg}'`).join(" ");
    const tty = Bun.spawnSync([scriptPath, "-qec", command, "/dev/null"], { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" } });
    const output = tty.stdout.toString();
    expect(tty.exitCode, output).toBe(0);
    expect(output).toContain("\r\x1b[2Kaudit [");
    expect(output).toContain(`100% ${size}/${size} entries`);
    expect(output).toContain(`AUDIT OK: ${size} entries`);
    expect(output).not.toContain(`audit: ${size}/${size}`);
  }
});

describe("tampering with a stopped node's SQLite file", () => {
  async function tampered(change: (db: ReturnType<typeof openDatabase>) => void): Promise<{ node: NodeProcess; key: string }> {
    const dir = newDir();
    let node = await startNode(dir);
    await fill(node.url, ledgerOps(keyCount, versionCount));
    const key = await keyOf(node);
    const before = await scribe(["audit", "--server", node.url, "--key", key]);
    expect(before.exitCode, before.stderr).toBe(0);
    expect(await node.kill("SIGTERM")).toBe(0);
    const db = openDatabase(dir);
    change(db);
    db.close();
    node = await startNode(dir, node.port);
    return { node, key };
  }

  async function expectCaught(node: NodeProcess, key: string, serverError: RegExp, auditKind: string): Promise<void> {
    const response = (await (await fetch(`${node.url}/verify/${tamperedKey}`)).json()) as { verified: boolean; error: string | null };
    expect(response.verified).toBe(false);
    expect(response.error).toMatch(serverError);

    const verify = await scribe(["verify", tamperedKey, "--server", node.url, "--key", key]);
    expect(verify.exitCode).toBe(1);
    expect(verify.stderr).toStartWith(`scribe: verification FAILED for key "${tamperedKey}"`);
    expect(verify.stdoutText).toBe("");

    const audit = await scribe(["audit", "--server", node.url, "--key", key]);
    expect(audit.exitCode).toBe(1);
    expect(audit.stderr).toContain(`scribe: audit FAILED at index ${tamperedIndex} (${auditKind})`);
    expect(audit.stdoutText).toBe("");

    // Untouched keys still verify.
    expect((await scribe(["verify", "k124", "--server", node.url, "--key", key])).exitCode).toBe(0);
  }

  test("a stored value (vals row) is caught by /verify, scribe verify and scribe audit", async () => {
    const { node, key } = await tampered((db) => {
      const row = db.query<{ value: Uint8Array }, [number]>("SELECT value FROM vals WHERE idx = ?").get(tamperedIndex)!;
      expect(new TextDecoder().decode(row.value)).toBe(`value ${versionCount} of key 123`);
      expect(db.run("UPDATE vals SET value = ? WHERE idx = ?", [new TextEncoder().encode(`value ${versionCount} of key 124`), tamperedIndex]).changes).toBe(1);
    });
    await expectCaught(node, key, /stored value of entry \d+ does not match its value hash/, "value");
  });

  test("an entry field (content_type of an entries row) is caught by /verify, scribe verify and scribe audit", async () => {
    const { node, key } = await tampered((db) => {
      expect(db.run("UPDATE entries SET content_type = 'text/html' WHERE idx = ?", [tamperedIndex]).changes).toBe(1);
    });
    await expectCaught(node, key, /does not match its leaf/, "leaf");
    // The altered entry is in the key's history: history --verify refuses it, other keys' pass.
    const history = await scribe(["history", tamperedKey, "--verify", "--server", node.url, "--key", key]);
    expect(history.exitCode).toBe(1);
    expect(history.stderr).toContain(`history of "${tamperedKey}" FAILED verification`);
    expect(history.stdoutText).toBe("");
    expect((await scribe(["history", "k124", "--verify", "--server", node.url, "--key", key])).exitCode).toBe(0);
  });

  test("an earlier entry's key (entries.key) is named even though a later key chain breaks too", async () => {
    const earlyIndex = 57;
    const { node, key } = await tampered((db) => {
      expect(db.run("UPDATE entries SET key = 'intruder' WHERE idx = ?", [earlyIndex]).changes).toBe(1);
    });
    const audit = await scribe(["audit", "--server", node.url, "--key", key]);
    expect(audit.exitCode).toBe(1);
    expect(audit.stderr).toContain(`audit FAILED at index ${earlyIndex} (leaf)`);
  });
});

test("a state file catches a server that rewrote its history consistently (same key, new tree)", async () => {
  const dir = newDir();
  let node = await startNode(dir);
  await fill(node.url, ledgerOps(100, 3));
  const key = await keyOf(node);
  const state = join(dir, "..", `${dir.split("/").at(-1)}.state.json`);
  cleanups.push(() => Bun.file(state).delete().catch(() => undefined));
  const first = await scribe(["audit", "--server", node.url, "--key", key, "--state", state]);
  expect(first.exitCode, first.stderr).toBe(0);
  // The ledger grows; the next audit checks consistency with the trusted checkpoint and moves it.
  await fill(node.url, ledgerOps(100, 2).slice(0, 100).map((op) => ({ ...op, key: `${op.key}-more` })));
  const grown = await scribe(["audit", "--server", node.url, "--key", key, "--state", state]);
  expect(grown.exitCode, grown.stderr).toBe(0);
  expect(grown.stdoutText).toContain("consistent with the trusted checkpoint of size 300");
  expect(grown.stdoutText).toContain("now trusts size 400");

  expect(await node.kill("SIGTERM")).toBe(0);
  const db = openDatabase(dir);
  db.run("UPDATE entries SET content_type = 'text/html' WHERE idx = 42");
  rebuildTree(db);
  db.close();
  node = await startNode(dir, node.port);

  // Without history, the forged ledger is self-consistent: nothing to catch.
  const fresh = await scribe(["audit", "--server", node.url, "--key", key]);
  expect(fresh.exitCode, fresh.stderr).toBe(0);
  // With the state file, the new checkpoint contradicts the trusted one.
  const audit = await scribe(["audit", "--server", node.url, "--key", key, "--state", state]);
  expect(audit.exitCode).toBe(1);
  expect(audit.stderr).toContain("scribe: audit FAILED (consistency)");
  expect(audit.stderr).toContain("inconsistent with the trusted checkpoint (size 400)");
  const verify = await scribe(["verify", "k1", "--server", node.url, "--state", state]);
  expect(verify.exitCode).toBe(1);
  expect(verify.stderr).toContain("fork");
  const checkpoint = await scribe(["checkpoint", "--server", node.url, "--state", state]);
  expect(checkpoint.exitCode).toBe(1);
  const history = await scribe(["history", "k1", "--verify", "--server", node.url, "--state", state]);
  expect(history.exitCode).toBe(1);
  expect(history.stderr).toContain("fork");
  // The state file still trusts the old checkpoint.
  expect(JSON.parse(await Bun.file(state).text()).checkpoint).toContain("\n400\n");
});
