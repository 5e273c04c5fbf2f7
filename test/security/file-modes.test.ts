/**
 * Regression tests (issue 10): the database files were created 0644 in a 0755 data directory, and
 * an existing signing key was loaded whoever could read it. Now a node (process, embedded library
 * or restore) makes its data directory 0700 and its database, WAL, SHM and key files 0600, checked
 * with stat() on real files; an existing directory or key that group or others can access is
 * warned about at start, and refused (exit 2) with --strict-permissions.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../src/cluster/logger.ts";
import { restoreNode } from "../../src/cluster/restore.ts";
import { loadConfig } from "../../src/config/index.ts";
import { ScribeLedger } from "../../src/embedded.ts";
import { coldOverrides, openNode } from "../cold-node/support.ts";
import { freePort, spawnNode, tempDir } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const dir = tempDir("scribe-modes-");
afterAll(() => dir.remove());

const modeOf = (path: string) => statSync(path).mode & 0o777;
const database = (dataDir: string) => join(dataDir, "scribe.db");
const keyFile = (dataDir: string) => join(dataDir, "checkpoint-signing.key");

/** Every path of a running node's data directory with its mode. */
function modes(dataDir: string): Record<string, number> {
  const db = database(dataDir);
  return {
    dir: modeOf(dataDir),
    db: modeOf(db),
    wal: modeOf(`${db}-wal`),
    shm: modeOf(`${db}-shm`),
    key: modeOf(keyFile(dataDir)),
  };
}
const privateModes = { dir: 0o700, db: 0o600, wal: 0o600, shm: 0o600, key: 0o600 };

/** Runs `fn` with the process umask set to the usual 022, so only the code's own modes keep files private. */
async function withUmask022<T>(fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(0o022);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

function runNode(args: string[], env: Record<string, string> = {}) {
  const result = Bun.spawnSync(["bun", join(repoRoot, "src/main.ts"), "--port", String(freePort()), "--raft-port", String(freePort()), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: result.exitCode, stderr: result.stderr.toString() };
}

describe("new files are private", () => {
  test("a node process: data dir 0700; database, WAL, SHM and signing key 0600 (stat while it runs)", async () => {
    const dataDir = join(dir.path, "process", "data");
    const node = await spawnNode({ dataDir });
    try {
      expect((await fetch(`${node.url}/kv/a`, { method: "PUT", body: "1" })).status).toBe(200);
      expect(modes(dataDir)).toEqual(privateModes);
      expect(modeOf(join(dir.path, "process"))).toBe(0o700); // a parent it had to make
      expect(node.output()).not.toContain("group or others can access");
    } finally {
      await node.kill("SIGKILL");
    }
  });

  test("the embedded library, in a process whose umask is 022", async () => {
    const dataDir = join(dir.path, "library", "data");
    await withUmask022(async () => {
      const ledger = await ScribeLedger.open(dataDir);
      try {
        await ledger.put("a", "1");
        expect(modes(dataDir)).toEqual(privateModes);
      } finally {
        await ledger.close();
      }
    });
  });

  describe("restore from S3", () => {
    let s3: S3ServerHandle;
    beforeAll(async () => {
      s3 = await startS3Server();
    });
    afterAll(async () => {
      await s3.stop();
    });

    test("rebuilds a data dir with the same modes, in a process whose umask is 022", async () => {
      const overrides = coldOverrides(s3, "modes");
      const source = await openNode(join(dir.path, "restore-source"), overrides);
      for (let i = 0; i < 40; i++) expect((await source.call("PUT", `/kv/k${i}`, { body: "x".repeat(200) })).status).toBe(200);
      await source.node.cold!.runOnce();
      const verifierKey = source.node.verifierKey;
      await source.node.close();
      const dataDir = join(dir.path, "restored", "data");
      await withUmask022(async () => {
        const config = loadConfig({ overrides: { ...overrides, "node.data_dir": dataDir } });
        const result = await restoreNode({ config, verifierKeys: [verifierKey], logger: createLogger({ ...config.logging, level: "silent" }) });
        expect(result.tree_size).toBeGreaterThan(0);
      });
      expect(modeOf(dataDir)).toBe(0o700);
      expect(modeOf(database(dataDir))).toBe(0o600);
      expect(modeOf(keyFile(dataDir))).toBe(0o600);
    }, 60_000);
  });
});

describe("existing files that group or others can access", () => {
  /** A data directory made by a node, then opened up as an older version (or a careless copy) left it. */
  async function exposedDataDir(name: string): Promise<string> {
    const dataDir = join(dir.path, name);
    const ledger = await ScribeLedger.open(dataDir);
    await ledger.put("a", "1");
    await ledger.close();
    chmodSync(dataDir, 0o755);
    chmodSync(keyFile(dataDir), 0o644);
    return dataDir;
  }

  test("are warned about at start, each with its mode and the fix, and the node runs; modes are left alone", async () => {
    const dataDir = await exposedDataDir("warned");
    const node = await spawnNode({ dataDir });
    try {
      expect((await fetch(`${node.url}/kv/a`)).status).toBe(200);
      const warnings = node
        .output()
        .split("\n")
        .filter((line) => line.includes("group or others can access"))
        .map((line) => JSON.parse(line) as { level: number; path: string; kind: string; mode: string; msg: string });
      expect(warnings.map((w) => [w.kind, w.path, w.mode])).toEqual([
        ["data directory", dataDir, "0755"],
        ["signing key", keyFile(dataDir), "0644"],
      ]);
      expect(warnings.every((w) => w.level === 40)).toBe(true);
      expect(warnings[0]!.msg).toContain(`chmod 700 ${dataDir}`);
      expect(warnings[1]!.msg).toContain(`chmod 600 ${keyFile(dataDir)}`);
      expect(warnings[0]!.msg).toContain("--strict-permissions");
      expect(modeOf(dataDir)).toBe(0o755);
    } finally {
      await node.kill("SIGKILL");
    }
  });

  test("--strict-permissions refuses them: exit 2, a message naming each path and the chmod that fixes it", async () => {
    const dataDir = await exposedDataDir("strict");
    const refused = runNode(["--data-dir", dataDir, "--strict-permissions"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("scribe-node: configuration error: refusing to start with strict permissions");
    expect(refused.stderr).toContain(`the data directory ${dataDir} is mode 0755`);
    expect(refused.stderr).toContain(`the signing key ${keyFile(dataDir)} is mode 0644`);
    expect(refused.stderr).toContain(`chmod 700 ${dataDir}; chmod 600 ${keyFile(dataDir)}`);
    // The same from the configuration key.
    expect(runNode(["--data-dir", dataDir], { SCRIBE_SECURITY_STRICT_PERMISSIONS: "true" }).code).toBe(2);
    // Fixed as told, the strict node starts.
    chmodSync(dataDir, 0o700);
    chmodSync(keyFile(dataDir), 0o600);
    const node = await spawnNode({ dataDir, args: ["--strict-permissions"] });
    try {
      expect(await (await fetch(`${node.url}/kv/a`)).text()).toBe("1");
    } finally {
      await node.kill("SIGKILL");
    }
  });

  test("a signing key outside the data directory (security.signing_key_file) readable by its group is refused in strict mode", async () => {
    const dataDir = await exposedDataDir("outside-key");
    chmodSync(dataDir, 0o700);
    const outside = join(dir.path, "signing.key");
    copyFileSync(keyFile(dataDir), outside);
    chmodSync(outside, 0o640);
    const refused = runNode(["--data-dir", dataDir, "--strict-permissions"], { SCRIBE_SECURITY_SIGNING_KEY_FILE: outside });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`the signing key ${outside} is mode 0640`);
    expect(refused.stderr).not.toContain("data directory");
    expect(existsSync(outside)).toBe(true);
  });
});
