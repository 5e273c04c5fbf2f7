/**
 * The log as C2SP tlog-tiles, end to end, at 70,123 entries (partial tiles at levels 0, 1 and 2):
 * a real node (SQLite, Raft single voter) filled through its own propose path, archived into a
 * real s3rver on loopback. Tiles and bundles read from the node over HTTP, from the bucket over
 * HTTP and from a directory copy rebuild the signed root; proofs from tiles equal the proof
 * endpoints'; a tampered tile, bundle or value in the bucket is named (object and index) by the
 * audit and by `scribe audit --tiles`; restore from the bucket gives a node whose checkpoint
 * matches the bucket's.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { restoreNode } from "../../src/cluster/restore.ts";
import {
  auditTiles,
  httpTileSource,
  parseVerifierKey,
  TileVerifier,
  TrustedState,
  MemoryPersistence,
  type TileAuditFailureKind,
  type TileAuditResult,
  type TileSource,
} from "../../src/client/index.ts";
import { directoryTileSource } from "../../src/client/tile-directory.ts";
import { fromHex, toHex } from "../../src/lib/index.ts";
import { entryBundlePath, hashTilePath, parseCheckpoint, splitNote, tilesBetween, type NoteVerifier } from "../../src/merkle/index.ts";
import { readManifest } from "../../src/storage/cold/index.ts";
import { listStored, coldOverrides, openNode } from "../cold-node/support.ts";
import { scribe } from "../cli/support.ts";
import { tempDir } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { appFetch, copyBucketPrefix, fillLedger } from "./support.ts";

const size = 70_123;
const prefix = "tiles-log";
const logger = createLogger({ ...loadConfig().logging, level: "silent" });

let s3: S3ServerHandle;
let node: Awaited<ReturnType<typeof openNode>>;
let overrides: Record<string, unknown>;
let verifierKey: string;
let verifiers: NoteVerifier[];
let bucketUrl: string;
let earlyNote: string;
const dirs: { path: string; remove(): void }[] = [];
const dir = () => {
  const d = tempDir("scribe-tiles-");
  dirs.push(d);
  return d.path;
};

beforeAll(async () => {
  s3 = await startS3Server();
  overrides = coldOverrides(s3, prefix, { "storage.segment_size": 4 * 1024 * 1024 });
  node = await openNode(dir(), overrides);
  await fillLedger(node.node, 1_000);
  earlyNote = (await node.node.checkpoint()).note;
  await fillLedger(node.node, size - 1_000, 1_000);
  await node.node.cold!.runOnce();
  verifierKey = node.node.verifierKey;
  verifiers = [await parseVerifierKey(verifierKey)];
  bucketUrl = `${s3.endpoint}/${s3.bucket}/${prefix}`;
}, 180_000);

afterAll(async () => {
  await node?.node.close();
  await s3?.stop();
  for (const d of dirs) d.remove();
});

const nodeSource = (): TileSource => httpTileSource("http://scribe.test", { fetch: appFetch(node.app) });

function expectOk(result: TileAuditResult): Extract<TileAuditResult, { ok: true }> {
  if (!result.ok) throw new Error(`audit failed: ${JSON.stringify(result.failure)}`);
  return result;
}

describe("on the node", () => {
  test("GET /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/... rebuild the signed root", async () => {
    const note = await (await node.call("GET", "/checkpoint")).text();
    expect(parseCheckpoint(splitNote(note).body).size).toBe(size);
    const { stats } = expectOk(await auditTiles({ source: nodeSource(), verifiers }));
    expect(stats).toMatchObject({ entries: size, tiles: 277, bundles: 274, keys: 500, deletes: 717, puts: size - 717, valuesChecked: false });
    for (const [path, width] of [["tile/0/273.p/235", 235], ["tile/1/001.p/17", 17], ["tile/2/000.p/1", 1], ["tile/0/272", 256], ["tile/1/000", 256]] as const) {
      const response = await node.call("GET", `/${path}`);
      expect(response.status, path).toBe(200);
      expect((await response.arrayBuffer()).byteLength, path).toBe(width * 32);
      expect(response.headers.get("cache-control"), path).toBe(width === 256 ? "public, max-age=31536000, immutable" : "public, max-age=10");
    }
    expect((await node.call("GET", "/tile/0/274")).status).toBe(404);
    expect((await node.call("GET", "/tile/0/273.p/236")).status).toBe(404);
    expect((await node.call("GET", "/tile/2/000")).status).toBe(404);
  }, 60_000);

  test("proofs from tiles alone equal the proof endpoints'; a trusted state moves forward with them", async () => {
    const verifier = await TileVerifier.create({ source: nodeSource() });
    const { checkpoint, note } = await verifier.checkpoint(verifiers);
    expect(checkpoint.size).toBe(size);
    for (const index of [0, 255, 256, 65_535, 65_536, 69_887, 69_888, size - 1]) {
      const proof = (await (await node.call("GET", `/proof/inclusion?index=${index}&tree_size=${size}`)).json()) as { siblings: string[]; leaf_hash: string };
      expect((await verifier.inclusionProof(index, checkpoint)).map(toHex), `inclusion ${index}`).toEqual(proof.siblings);
      await verifier.verifyInclusion(fromHex(proof.leaf_hash)!, index, checkpoint);
      expect((await verifier.entry(index, checkpoint)).index).toBe(index);
    }
    for (const from of [1, 256, 1_000, 65_536, 70_000]) {
      const proof = (await (await node.call("GET", `/proof/consistency?from=${from}&to=${size}`)).json()) as { proof: string[]; from_root: string };
      expect((await verifier.consistencyProof(from, checkpoint)).map(toHex), `consistency ${from}`).toEqual(proof.proof);
      expect(toHex(await verifier.rootAt(from, checkpoint))).toBe(proof.from_root);
    }
    expect(verifier.cache.size).toBeLessThanOrEqual(verifier.cache.tilesMax);
    const state = new TrustedState({ verifiers, persistence: new MemoryPersistence(earlyNote) });
    expect((await state.current())!.size).toBe(1_000);
    await verifier.updateTrustedState(state, note);
    expect((await state.current())!.size).toBe(size);
  }, 60_000);

  test("one inclusion proof reads a handful of tiles, and a second one near it reads from the cache", async () => {
    const verifier = await TileVerifier.create({ source: nodeSource(), cacheTilesMax: 16 });
    const { checkpoint } = await verifier.checkpoint(verifiers);
    await verifier.inclusionProof(12_345, checkpoint);
    const first = verifier.reads;
    expect(first).toBeLessThanOrEqual(6); // tile 0/48, its parents 1/000 and 2/000.p/1, the other partial tiles
    await verifier.inclusionProof(12_346, checkpoint);
    expect(verifier.reads).toBe(first);
  });
});

describe("in the bucket", () => {
  test("the same tiles and bundles as the node's, written once before the checkpoint, and they rebuild the root with every value", async () => {
    const { uploader, layout } = node.node.cold!.storage;
    const manifest = (await readManifest(uploader, layout))!;
    expect(manifest.next_index).toBe(size);
    expect(manifest.tiles_size).toBe(size);
    const stored = new Set(listStored(s3, `${prefix}/tile`).map((key) => key.slice(prefix.length + 1)));
    const expected = tilesBetween(0, size).flatMap((t) => (t.level === 0 ? [hashTilePath(t), entryBundlePath(t)] : [hashTilePath(t)]));
    expect(expected.length).toBe(551);
    for (const path of expected) {
      expect(stored.has(path), path).toBe(true);
      const fromNode = new Uint8Array(await (await node.call("GET", `/${path}`)).arrayBuffer());
      expect(toHex(readFileSync(s3.objectPath(`${prefix}/${path}`))), path).toBe(toHex(fromNode));
    }
    // Extra objects are only the partial tiles of earlier segment ends (never deleted, never rewritten).
    for (const path of stored) if (!expected.includes(path)) expect(path, path).toMatch(/\.p\/[0-9]+$/);

    const { stats, checkpoint } = expectOk(await auditTiles({ source: httpTileSource(bucketUrl), verifiers }));
    expect(checkpoint.size).toBe(size);
    expect(stats).toMatchObject({ entries: size, tiles: 277, bundles: 274, values: size, valuesChecked: true });
    expect(stats.segments).toBe(manifest.segments.length);

    // Another pass with nothing new writes nothing.
    const before = ((await node.cold()) as unknown as { tiles_written: number }).tiles_written;
    await node.node.cold!.runOnce();
    expect(((await node.cold()) as unknown as { tiles_written: number }).tiles_written).toBe(before);
  }, 120_000);

  test("a directory copy of the bucket audits the same, with the library and with `scribe audit --tiles`", async () => {
    const copy = dir();
    expect(copyBucketPrefix(s3, prefix, copy)).toBeGreaterThan(551);
    const { stats } = expectOk(await auditTiles({ source: directoryTileSource(copy), verifiers }));
    expect(stats.values).toBe(size);

    const fromDir = await scribe(["audit", "--tiles", copy, "--key", verifierKey]);
    expect(fromDir.exitCode, fromDir.stderr).toBe(0);
    expect(fromDir.stdoutText).toContain(`AUDIT OK (tiles at ${copy}): ${size} entries`);
    expect(fromDir.stdoutText).toContain(`${size} values in ${stats.segments} segments match their entries`);

    const state = `${dir()}/state.json`;
    const fromBucket = await scribe(["audit", "--tiles", bucketUrl, "--key", verifierKey, "--state", state]);
    expect(fromBucket.exitCode, fromBucket.stderr).toBe(0);
    expect(JSON.parse(readFileSync(state, "utf8")).checkpoint).toContain(`\n${size}\n`);

    const noKey = await scribe(["audit", "--tiles", bucketUrl]);
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain("needs the verifier key");
  }, 120_000);

  test("a tampered tile, bundle or value in the bucket is named by the audit: which object, which index", async () => {
    const audit = () => auditTiles({ source: httpTileSource(bucketUrl), verifiers });
    /** Runs `check` with the object changed by `edit`, then puts the original bytes back. */
    const tampered = async (path: string, edit: (bytes: Uint8Array) => Uint8Array, check: () => Promise<void>) => {
      const file = s3.objectPath(`${prefix}/${path}`);
      const original = readFileSync(file);
      writeFileSync(file, edit(new Uint8Array(original)));
      try {
        await check();
      } finally {
        writeFileSync(file, original);
      }
    };
    const flip = (offset: number) => (bytes: Uint8Array) => {
      bytes[offset]! ^= 0x01;
      return bytes;
    };
    const expectFailure = async (want: { kind: TileAuditFailureKind; object: string; index: number }) => {
      const result = await audit();
      expect(result.ok).toBe(false);
      if (!result.ok) expect({ kind: result.failure.kind, object: result.failure.object, index: result.failure.index }).toEqual(want);
    };

    await tampered("tile/0/100", flip(5 * 32 + 9), () => expectFailure({ kind: "tile", object: "tile/0/100", index: 100 * 256 + 5 }));
    await tampered("tile/1/000", flip(3 * 32), () => expectFailure({ kind: "tile", object: "tile/1/000", index: 3 * 256 }));
    await tampered("tile/0/273.p/235", flip(200 * 32 + 31), () => expectFailure({ kind: "tile", object: "tile/0/273.p/235", index: 273 * 256 + 200 }));
    await tampered("tile/2/000.p/1", flip(0), () => expectFailure({ kind: "tile", object: "tile/2/000.p/1", index: 0 }));

    // A bundle entry's timestamp (its last byte sits 9 bytes before the entry's end).
    const entryEnd = (bundle: Uint8Array, i: number) => {
      let at = 0;
      for (let k = 0; k <= i; k++) at += 2 + ((bundle[at]! << 8) | bundle[at + 1]!);
      return at;
    };
    await tampered("tile/entries/050", (b) => flip(entryEnd(b, 7) - 9)(b), () => expectFailure({ kind: "bundle", object: "tile/entries/050", index: 50 * 256 + 7 }));
    await tampered("tile/entries/273.p/235", (b) => flip(entryEnd(b, 0) - 9)(b), () => expectFailure({ kind: "bundle", object: "tile/entries/273.p/235", index: 273 * 256 }));

    // A value inside a gzipped segment: decompress, change one value byte, recompress.
    const { uploader, layout } = node.node.cold!.storage;
    const segment = (await readManifest(uploader, layout))!.segments[1]!;
    const segmentPath = segment.object_key.slice(prefix.length + 1);
    const index = segment.first_index + 3;
    const raw = Bun.gunzipSync(readFileSync(s3.objectPath(segment.object_key)));
    let at = 22;
    for (let i = 0; i < 3; i++) at += 4 + new DataView(raw.buffer).getUint32(at) + 4 + new DataView(raw.buffer).getUint32(at + 4 + new DataView(raw.buffer).getUint32(at));
    const valueAt = at + 4 + new DataView(raw.buffer).getUint32(at) + 4;
    await tampered(segmentPath, () => Bun.gzipSync(flip(valueAt)(raw) as Uint8Array<ArrayBuffer>), () => expectFailure({ kind: "value", object: segmentPath, index }));

    // A missing tile is named too.
    await uploader.delete(layout.logKey("tile/0/007"));
    await expectFailure({ kind: "missing", object: "tile/0/007", index: 7 * 256 });
    const cli = await scribe(["audit", "--tiles", bucketUrl, "--key", verifierKey]);
    expect(cli.exitCode).toBe(1);
    expect(cli.stderr).toContain("audit FAILED at index 1792 in tile/0/007 (missing)");
    await uploader.putOnce(layout.logKey("tile/0/007"), new Uint8Array(await (await node.call("GET", "/tile/0/007")).arrayBuffer()), "application/octet-stream");

    await tampered("tile/0/100", flip(0), async () => {
      const named = await scribe(["audit", "--tiles", bucketUrl, "--key", verifierKey]);
      expect(named.exitCode).toBe(1);
      expect(named.stderr).toContain("audit FAILED at index 25600 in tile/0/100 (tile)");
    });
    expectOk(await audit());
  }, 180_000);

  test("restore from the bucket (checked against its tiles) gives a node whose checkpoint matches; a tampered tile stops it", async () => {
    const { uploader, layout } = node.node.cold!.storage;
    const bucketNote = new TextDecoder().decode((await uploader.getBytes(layout.checkpointKey(), 65_536))!);
    const bucketCheckpoint = parseCheckpoint(splitNote(bucketNote).body);

    const tamperedFile = s3.objectPath(`${prefix}/tile/0/000`);
    const original = readFileSync(tamperedFile);
    const bad = new Uint8Array(original);
    bad[40]! ^= 1;
    writeFileSync(tamperedFile, bad);
    const refusedDir = dir();
    try {
      const config = loadConfig({ overrides: { ...overrides, "node.data_dir": refusedDir } });
      await expect(restoreNode({ config, verifierKeys: [verifierKey], logger })).rejects.toThrow(/tiles do not match its signed checkpoint: .*tile\/0\/000/);
    } finally {
      writeFileSync(tamperedFile, original);
    }

    const restoredDir = dir();
    const config = loadConfig({ overrides: { ...overrides, "node.data_dir": restoredDir } });
    const result = await restoreNode({ config, verifierKeys: [verifierKey], logger });
    expect(result.tree_size).toBe(size);
    const restored = await openNode(restoredDir, { ...overrides, "storage.tiering.enable_auto_archival": false });
    try {
      const checkpoint = parseCheckpoint(splitNote(await (await restored.call("GET", "/checkpoint")).text()).body);
      expect(checkpoint.size).toBe(bucketCheckpoint.size);
      expect(toHex(checkpoint.rootHash)).toBe(toHex(bucketCheckpoint.rootHash));
      for (const path of ["tile/0/000", "tile/1/001.p/17", "tile/entries/273.p/235"]) {
        expect(toHex(new Uint8Array(await (await restored.call("GET", `/${path}`)).arrayBuffer())), path).toBe(toHex(readFileSync(s3.objectPath(`${prefix}/${path}`))));
      }
    } finally {
      await restored.node.close();
    }
  }, 180_000);
});
