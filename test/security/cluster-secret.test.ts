/**
 * Regression tests (issue 10): `discovery.cluster_secret` used to be checked for length only, so
 * a guessable secret was accepted. Now a weak one is refused when the configuration is loaded
 * (from TOML, the environment or a flag) with a message that says how to make a good one, and
 * `scribe-node gen-secret` prints one that is accepted.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { assessSecret, clusterSecretBitsMin, ConfigError, loadConfig } from "../../src/config/index.ts";
import { freePort, tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");
const dir = tempDir("scribe-secret-");
afterAll(() => dir.remove());

/** Values seen in real configs, docs and tests, and the classic weak shapes. */
const weakSecrets: Record<string, string> = {
  "too short": "Zq8#pL2",
  "too short for hex (96 bits)": "9f86d081884c7d659a2feaa0",
  "one character repeated": "x".repeat(64),
  "two characters alternating": "ab".repeat(32),
  "the old local-cluster placeholder": "local-dev-cluster-secret-change-me",
  "the old compose default": "compose-cluster-secret-change-me",
  "the old test secret": "test-cluster-secret-0123456789",
  changeme: "changemechangemechangemechangeme",
  "change-me sentence": "change-me-to-a-long-random-string",
  "keyboard walk": "qwertyuiopasdfghjklzxcvbnm1234567890",
  "repeated block of hex": "0123456789abcdef0123456789abcdef",
  "password pattern": "Password123!Password123!Password123!",
  "a passphrase of common words": "correct horse battery staple",
  "a sentence": "ThisIsMyVeryLongAndSecureClusterSecret2024!",
};

function genSecret(): { code: number; out: string; err: string } {
  const result = Bun.spawnSync(["bun", join(repoRoot, "src/main.ts"), "gen-secret"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
}

describe("weak secrets are refused when the configuration is loaded", () => {
  for (const [name, secret] of Object.entries(weakSecrets)) {
    test(name, () => {
      let error: unknown;
      try {
        loadConfig({ overrides: { "discovery.cluster_secret": secret } });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain('"discovery.cluster_secret" is too weak');
      expect(message).toContain("`scribe-node gen-secret`");
      expect(message).toContain(`${clusterSecretBitsMin} bits`);
      expect(message).not.toContain(secret); // never echoed into logs or terminals
    });
  }

  test("from TOML and from the environment alike", () => {
    expect(() => loadConfig({ text: `[discovery]\ncluster_secret = "local-dev-cluster-secret-change-me"\n` })).toThrow(/too weak/);
    expect(() => loadConfig({ env: { SCRIBE_DISCOVERY_CLUSTER_SECRET: "compose-cluster-secret-change-me" } })).toThrow(/too weak/);
  });

  test("an empty secret (single node) is not a weak secret", () => {
    expect(loadConfig({}).discovery.cluster_secret).toBe("");
  });

  test("random secrets of 20 bytes or more pass in every usual encoding", () => {
    for (let i = 0; i < 300; i++) {
      for (const bytes of [20, 24, 32]) {
        for (const encoding of ["hex", "base64", "base64url"] as const) {
          const secret = randomBytes(bytes).toString(encoding);
          const strength = assessSecret(secret);
          if (strength.weakness !== undefined) throw new Error(`${bytes} random bytes in ${encoding} refused: ${strength.weakness}`);
        }
      }
    }
  });
});

describe("scribe-node gen-secret", () => {
  test("prints 32 random bytes in base64url that the configuration accepts, different every time", () => {
    const secrets = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const result = genSecret();
      expect(result.code).toBe(0);
      expect(result.err).toBe("");
      const secret = result.out.trim();
      expect(result.out).toBe(`${secret}\n`);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret, "base64url").length).toBe(32);
      expect(assessSecret(secret).bits).toBeGreaterThanOrEqual(2 * clusterSecretBitsMin - 48);
      expect(loadConfig({ overrides: { "discovery.cluster_secret": secret } }).discovery.cluster_secret).toBe(secret);
      secrets.add(secret);
    }
    expect(secrets.size).toBe(5);
  });
});

describe("a node with a weak secret does not start", () => {
  test("exit status 2 and a message that says how to make a secret; nothing is created", () => {
    const dataDir = join(dir.path, "weak-node");
    const configPath = join(dir.path, "weak.toml");
    writeFileSync(configPath, `[discovery]\ncluster_secret = "local-dev-cluster-secret-change-me"\n`);
    const result = Bun.spawnSync(["bun", join(repoRoot, "src/main.ts"), "--config", configPath, "--data-dir", dataDir, "--port", String(freePort()), "--raft-port", String(freePort())], {
      cwd: repoRoot,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect(result.exitCode).toBe(2);
    const stderr = result.stderr.toString();
    expect(stderr).toContain("scribe-node: configuration error:");
    expect(stderr).toContain("`scribe-node gen-secret`");
    expect(stderr).not.toContain("local-dev-cluster-secret-change-me");
    expect(Bun.spawnSync(["test", "-e", dataDir]).exitCode).not.toBe(0);
  });

  test("a node started with a gen-secret secret runs", async () => {
    const secret = genSecret().out.trim();
    const port = freePort();
    const proc = Bun.spawn(["bun", join(repoRoot, "src/main.ts"), "--data-dir", join(dir.path, "good-node"), "--port", String(port), "--raft-port", String(freePort())], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", SCRIBE_DISCOVERY_CLUSTER_SECRET: secret, SCRIBE_LOGGING_LEVEL: "warn" },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      let status = 0;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && proc.exitCode === null) {
        status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
        if (status === 200) break;
        await Bun.sleep(100);
      }
      expect(status).toBe(200);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
});
