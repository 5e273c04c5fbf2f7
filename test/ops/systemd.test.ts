/**
 * systemd/: the unit passes `systemd-analyze verify` (skipped, with the reason printed, where
 * systemd-analyze is not installed), keeps its hardening, and the environment template names only
 * real configuration variables.
 */

import { expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { envNameOf, schema } from "../../src/config/index.ts";
import { tempDir } from "../support/node-process.ts";

const systemdDir = join(import.meta.dir, "..", "..", "systemd");
const unitText = readFileSync(join(systemdDir, "scribe-node@.service"), "utf8");
const analyze = Bun.which("systemd-analyze");

test.skipIf(!analyze)("systemd-analyze verify accepts scribe-node@.service without warnings", () => {
  const dir = tempDir("scribe-systemd-");
  try {
    // verify checks that ExecStart's binary exists: point it at a stub in the temp directory.
    const stub = join(dir.path, "scribe-node");
    writeFileSync(stub, "#!/bin/sh\nexit 0\n");
    chmodSync(stub, 0o755);
    writeFileSync(join(dir.path, "scribe-node@.service"), unitText.replaceAll("/usr/local/bin/scribe-node", stub));
    copyFileSync(join(systemdDir, "scribe-node.env.example"), join(dir.path, "scribe-node.env.example"));
    const run = Bun.spawnSync([analyze!, "verify", "--man=no", join(dir.path, "scribe-node@1.service")], { stdout: "pipe", stderr: "pipe" });
    const output = `${run.stdout.toString()}${run.stderr.toString()}`;
    expect(output.trim()).toBe("");
    expect(run.exitCode).toBe(0);
  } finally {
    dir.remove();
  }
});

if (!analyze) {
  test("systemd-analyze is not installed", () => {
    console.log("skipping systemd-analyze verify: systemd-analyze is not on PATH (install the systemd package to run it)");
  });
}

test("the unit is hardened and restarts on failure", () => {
  for (const line of [
    "DynamicUser=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "Restart=on-failure",
    "RestartPreventExitStatus=2",
    "LimitNOFILE=65536",
    "StateDirectory=scribe-ledger/%i",
    "ReadWritePaths=/var/lib/scribe-ledger/%i /var/log/scribe-ledger/%i",
    "CapabilityBoundingSet=",
    "SystemCallFilter=@system-service",
  ]) {
    expect(unitText.split("\n")).toContain(line);
  }
});

test("the environment template names only real SCRIBE_* variables", () => {
  const known = new Set(Object.entries(schema).flatMap(([section, fields]) => Object.keys(fields).map((key) => envNameOf(section, key))));
  const template = readFileSync(join(systemdDir, "scribe-node.env.example"), "utf8");
  const named = [...template.matchAll(/^#?\s*(SCRIBE_[A-Z0-9_]+)=/gm)].map((m) => m[1]!);
  expect(named.length).toBeGreaterThan(10);
  expect(named.filter((name) => !known.has(name))).toEqual([]);
  const unitNames = [...unitText.matchAll(/^Environment=(SCRIBE_[A-Z0-9_]+)=/gm)].map((m) => m[1]!);
  expect(unitNames.filter((name) => !known.has(name))).toEqual([]);
});
