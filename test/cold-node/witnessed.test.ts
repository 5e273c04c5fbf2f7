/**
 * A bucket's checkpoint under a client policy that requires an external witness: a real node
 * (SQLite, Raft single voter) submitting its checkpoints to a C2SP tlog-witness on loopback, and
 * archiving into s3rver on loopback with a size threshold that leaves a tail unarchived, so the
 * bucket's size B is behind everything the witness has seen (it would refuse B: a witness never
 * cosigns a size below its last). The bucket's `checkpoint` carries member signatures only; its
 * `witnessed-checkpoint` extends it to a witnessed size. Audits (library and CLI, over HTTP and a
 * directory copy) and restores require the witness and pass through the extension; a missing,
 * tampered or foreign extension is refused, naming it.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { restoreCommand, restoreNode } from "../../src/cluster/restore.ts";
import { auditTiles, httpTileSource, type TileAuditResult } from "../../src/client/index.ts";
import { directoryTileSource } from "../../src/client/tile-directory.ts";
import { parseCosignatureVerifierKey, parseVerifierKey } from "../../src/crypto/index.ts";
import { parseCheckpoint, parseWitnessedExtension, splitNote, verifyCheckpointPolicy, type CosignatureVerifier, type NoteVerifier } from "../../src/merkle/index.ts";
import { scribe } from "../cli/support.ts";
import { tempDir } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { startWitness, type TestWitness } from "../support/witness.ts";
import { copyBucketPrefix, fillLedger } from "../tiles/support.ts";
import { coldOverrides, openNode, until } from "./support.ts";

const prefix = "witnessed";
const origin = "scribe-test/witnessed-bucket";
const logger = createLogger({ ...loadConfig().logging, level: "silent" });

let s3: S3ServerHandle;
let witness: TestWitness;
let other: TestWitness;
let node: Awaited<ReturnType<typeof openNode>>;
let overrides: Record<string, unknown>;
let members: NoteVerifier[];
let witnesses: CosignatureVerifier[];
let memberKey: string;
let bucketUrl: string;
const dirs: { path: string; remove(): void }[] = [];
const dir = () => {
  const d = tempDir("scribe-witnessed-");
  dirs.push(d);
  return d.path;
};

async function bucketObject(name: string): Promise<string | undefined> {
  const response = await fetch(`${bucketUrl}/${name}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${name}: ${response.status}`);
  return response.text();
}

/** Waits until the node serves a checkpoint of at least `size` leaves cosigned by the witness. */
async function witnessedAtLeast(size: number): Promise<void> {
  await until(`a witnessed checkpoint of ${size} leaves`, async () => {
    const latest = node.node.checkpoints.latest();
    if (!latest || latest.checkpoint.size < size) return false;
    return verifyCheckpointPolicy(latest.note, { members, witnesses }).then(
      () => true,
      () => false,
    );
  });
}

function expectOk(result: TileAuditResult): Extract<TileAuditResult, { ok: true }> {
  if (!result.ok) throw new Error(`audit failed: ${JSON.stringify(result.failure)}`);
  return result;
}

beforeAll(async () => {
  s3 = await startS3Server();
  witness = await startWitness("witness.test/w1");
  other = await startWitness("witness.test/other");
  overrides = coldOverrides(s3, prefix, {
    // Only full 4 KiB segments are sealed: the newest entries stay behind in the hot tier.
    "storage.tiering.age_threshold_secs": 3600,
    "security.checkpoint_origin": origin,
    "security.cosign_interval_ms": 50,
    "witness.endpoints": [witness.url],
    "witness.keys": [witness.verifierKey],
    "witness.timeout_secs": 5,
  });
  node = await openNode(dir(), overrides);
  memberKey = node.node.verifierKey;
  await witness.trust(origin, [memberKey]);
  members = [await parseVerifierKey(memberKey)];
  witnesses = [await parseCosignatureVerifierKey(witness.verifierKey)];
  bucketUrl = `${s3.endpoint}/${s3.bucket}/${prefix}`;
  await fillLedger(node.node, 500);
  await witnessedAtLeast(500);
  await node.node.cold!.runOnce();
}, 120_000);

afterAll(async () => {
  await node?.node.close();
  await s3?.stop();
  witness?.stop();
  other?.stop();
  for (const d of dirs) d.remove();
});

describe("the bucket of a node with a witness", () => {
  test("its checkpoint is member-signed at the archived size, behind what the witness saw; the extension reaches a witnessed size", async () => {
    const note = (await bucketObject("checkpoint"))!;
    const bucket = (await verifyCheckpointPolicy(note, { members })).checkpoint;
    expect(bucket.size).toBeGreaterThan(0);
    expect(bucket.size).toBeLessThan(500);
    expect(bucket.origin).toBe(origin);
    await expect(verifyCheckpointPolicy(note, { members, witnesses })).rejects.toThrow("cosignatures of 0 of the 1 trusted witnesses");
    const extension = parseWitnessedExtension((await bucketObject("witnessed-checkpoint"))!);
    expect(extension.fromSize).toBe(bucket.size);
    const witnessed = await verifyCheckpointPolicy(extension.note, { members, witnesses, origin });
    expect(witnessed.checkpoint.size).toBeGreaterThanOrEqual(500);
    expect(extension.proof.length).toBeGreaterThan(0);
    const cold = await node.cold();
    expect(cold.witnessed_from).toBe(bucket.size);
    expect(cold.witnessed_size).toBe(witnessed.checkpoint.size);
  });

  test("an audit of the bucket that requires the witness passes through the extension; another witness is refused", async () => {
    const result = expectOk(await auditTiles({ source: httpTileSource(bucketUrl), verifiers: members, policy: { witnesses }, values: "require" }));
    expect(result.witnessed.by).toBe("extension");
    expect(result.witnessed.size).toBeGreaterThanOrEqual(500);
    expect(result.checkpoint.size).toBeLessThan(500);
    const foreign = await auditTiles({ source: httpTileSource(bucketUrl), verifiers: members, policy: { witnesses: [await parseCosignatureVerifierKey(other.verifierKey)] } });
    expect(foreign.ok).toBe(false);
    if (!foreign.ok) {
      expect(foreign.failure.kind).toBe("checkpoint");
      expect(foreign.failure.object).toBe("witnessed-checkpoint");
      expect(foreign.failure.message).toContain("the witnessed checkpoint does not meet the policy");
    }
    // Without a witness requirement nothing changes: the checkpoint alone suffices.
    expect(expectOk(await auditTiles({ source: httpTileSource(bucketUrl), verifiers: members })).witnessed.by).toBe("none");
  });

  test("scribe audit --tiles --witness passes, twice with one state file; --witness of another witness fails", async () => {
    const stateFile = join(dir(), "state.json");
    const args = ["audit", "--tiles", bucketUrl, "--key", memberKey, "--witness", witness.verifierKey, "--state", stateFile];
    const first = await scribe(args);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdoutText).toContain("AUDIT OK");
    expect(first.stdoutText).toContain("witnessed through witnessed-checkpoint: a checkpoint of size");
    // The state file now trusts the bucket's (member-signed) checkpoint; the next audit starts from it.
    const second = await scribe(args);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stdoutText).toContain("consistent with the trusted checkpoint of size");
    const refused = await scribe(["audit", "--tiles", bucketUrl, "--key", memberKey, "--witness", other.verifierKey]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("witnessed-checkpoint");
  }, 60_000);

  test("a copy whose extension is missing, tampered or for another size is refused, naming the object", async () => {
    const copy = dir();
    copyBucketPrefix(s3, prefix, copy);
    const path = join(copy, "witnessed-checkpoint");
    const original = readFileSync(path, "utf8");
    const audit = () => auditTiles({ source: directoryTileSource(copy), verifiers: members, policy: { witnesses } });
    expectOk(await audit());

    const lines = original.split("\n");
    lines[1] = Buffer.alloc(32, 7).toString("base64"); // a proof hash replaced
    writeFileSync(path, lines.join("\n"));
    let result = await audit();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.failure.object).toBe("witnessed-checkpoint");
      expect(result.failure.message).toContain("is not consistent with the checkpoint");
    }

    writeFileSync(path, original.replace(/^old (\d+)/, (_, n: string) => `old ${Number(n) - 1}`));
    result = await audit();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure.message).toMatch(/extends size \d+, not \d+ \(the two are published one after the other: retry later\)/);

    rmSync(path);
    result = await audit();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.failure.object).toBe("checkpoint");
      expect(result.failure.message).toContain("and no witnessed checkpoint extends it");
    }
  });

  test("scribe-node restore with a witness policy restores through the extension; another witness is refused", async () => {
    const restoredDir = dir();
    const config = loadConfig({ overrides: { ...overrides, "node.data_dir": restoredDir, "witness.endpoints": [], "witness.keys": [] } });
    const bucketSize = parseCheckpoint(splitNote((await bucketObject("checkpoint"))!).body).size;
    const result = await restoreNode({ config, verifierKeys: [memberKey], witnessKeys: [witness.verifierKey], logger });
    expect(result.checkpoint.size).toBe(bucketSize);
    expect(result.checkpoint.origin).toBe(origin);

    const refusedDir = dir();
    const refusedConfig = loadConfig({ overrides: { ...overrides, "node.data_dir": refusedDir } });
    await expect(restoreNode({ config: refusedConfig, verifierKeys: [memberKey], witnessKeys: [other.verifierKey], logger })).rejects.toThrow(/does not verify with the given keys and policy: .*witnessed checkpoint does not meet the policy/);
  }, 60_000);

  test("the restore command takes --witness and --witness-policy, and refuses a policy without keys", async () => {
    const deps = { loadConfig: (options: Parameters<typeof loadConfig>[0]) => loadConfig({ ...options, overrides: { ...overrides, ...options?.overrides } }), createLogger: () => logger };
    const errors: string[] = [];
    const printed: string[] = [];
    const originalError = console.error;
    const originalLog = console.log;
    console.error = (...args: unknown[]) => errors.push(args.join(" "));
    console.log = (...args: unknown[]) => printed.push(args.join(" "));
    try {
      expect(await restoreCommand(["--from-s3", "--verifier-key", memberKey, "--witness-policy", "1", "--data-dir", dir()], {}, deps)).toBe(2);
      expect(errors.join("\n")).toContain("--witness-policy wants a count, majority or all, with --witness keys");
      expect(await restoreCommand(["--from-s3", "--verifier-key", memberKey, "--witness", witness.verifierKey, "--witness", other.verifierKey, "--witness-policy", "1", "--data-dir", join(dir(), "restored")], {}, deps)).toBe(0);
      expect(JSON.parse(printed.at(-1)!)).toMatchObject({ restored: true });
      expect(await restoreCommand(["--from-s3", "--verifier-key", memberKey, "--witness", witness.verifierKey, "--witness", other.verifierKey, "--data-dir", join(dir(), "refused")], {}, deps)).toBe(1);
      expect(errors.at(-1)).toContain("cosignatures of 1 of the 2 trusted witnesses; the policy wants 2");
    } finally {
      console.error = originalError;
      console.log = originalLog;
    }
  }, 60_000);

  test("the extension follows the log: rewritten when the witness sees more, not rewritten when nothing changed", async () => {
    const before = await node.cold();
    await fillLedger(node.node, 100, 500);
    await witnessedAtLeast(600);
    await node.node.cold!.runOnce();
    const after = await node.cold();
    expect(after.witnessed_published).toBe(before.witnessed_published + 1);
    expect(after.witnessed_size).toBeGreaterThanOrEqual(600);
    const bucket = parseCheckpoint(splitNote((await bucketObject("checkpoint"))!).body);
    const extension = parseWitnessedExtension((await bucketObject("witnessed-checkpoint"))!);
    expect(extension.fromSize).toBe(bucket.size);
    expectOk(await auditTiles({ source: httpTileSource(bucketUrl), verifiers: members, policy: { witnesses } }));
    await node.node.cold!.runOnce();
    expect((await node.cold()).witnessed_published).toBe(after.witnessed_published);
  }, 60_000);
});
