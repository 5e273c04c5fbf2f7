/**
 * src/client's tile verifier and tile audit over static logs held in memory (what a bucket or a
 * CDN serves): proofs come only from tiles; a tile that does not authenticate against the signed
 * root is refused with its name and never cached; a missing partial tile falls back to the full
 * one; the cache stays within its bound; forks, broken chains and unreadable objects are reported
 * as what they are. The 70,123-entry end-to-end run is test/tiles/log.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { auditTiles, MemoryPersistence, TileCache, TileVerifier, TrustedState, type TileSource } from "../../src/client/index.ts";
import { directoryTileSource } from "../../src/client/tile-directory.ts";
import { encodeEntry, type Entry } from "../../src/ledger/entry.ts";
import { toHex, utf8 } from "../../src/lib/index.ts";
import {
  encodeEntryBundle,
  entryBundlePath,
  hashTilePath,
  MemoryTreeStore,
  MerkleTree,
  nodeRunReader,
  parseCheckpoint,
  readHashTile,
  splitNote,
  signCheckpoint,
  tilesBetween,
  VerificationError,
  type NoteSigner,
} from "../../src/merkle/index.ts";
import { createNativeHasher, generateSigner, parseVerifierKey } from "../../src/crypto/index.ts";
import { tempDir } from "../support/node-process.ts";

const hasher = createNativeHasher();
const origin = "tiles.test/log";
const { signer, verifierKey } = await generateSigner("tiles.test");
const verifiers = [await parseVerifierKey(verifierKey)];

function makeEntries(count: number, seed = 0): Entry[] {
  const heads = new Map<string, number>();
  return Array.from({ length: count }, (_, index) => {
    const key = `key-${index % 37}`;
    const entry: Entry = { index, op: "put", key, valueHash: hasher.digest(utf8(`v${index}`)), valueBytes: `v${index}`.length, contentType: "text/plain", timestampMs: 1_000 + index + seed, prevIndex: heads.get(key) ?? -1 };
    heads.set(key, index);
    return entry;
  });
}

/** A log's objects by path, as a bucket would hold them after publishing `sizes` in turn. */
async function staticLog(entries: readonly Entry[], sizes: readonly number[], key: NoteSigner = signer) {
  const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
  tree.appendLeaves(entries.map(encodeEntry));
  const objects = new Map<string, Uint8Array>();
  let from = 0;
  for (const size of sizes) {
    for (const t of tilesBetween(from, size)) {
      objects.set(hashTilePath(t), readHashTile(nodeRunReader(tree.store), t)!);
      if (t.level === 0) objects.set(entryBundlePath(t), encodeEntryBundle(entries.slice(t.index * 256, t.index * 256 + t.width).map(encodeEntry)));
    }
    from = size;
  }
  const notes = await Promise.all(sizes.map((size) => signCheckpoint({ origin, size, rootHash: tree.rootAt(size) }, key)));
  objects.set("checkpoint", utf8(notes.at(-1)!));
  return { tree, objects, notes };
}

function memorySource(objects: Map<string, Uint8Array>): TileSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    location: "memory:",
    reads,
    async read(path, bytesMax) {
      reads.push(path);
      const bytes = objects.get(path);
      if (bytes && bytes.length > bytesMax) throw new Error(`${path} too large`);
      return bytes?.slice();
    },
  };
}

const flipped = (bytes: Uint8Array, at: number) => {
  const copy = bytes.slice();
  copy[at]! ^= 1;
  return copy;
};

describe("TileVerifier", () => {
  test("every inclusion and consistency proof of a 700-entry log equals the tree's own", async () => {
    const entries = makeEntries(700);
    const { tree, objects } = await staticLog(entries, [700]);
    const verifier = await TileVerifier.create({ source: memorySource(objects), hasher });
    const { checkpoint } = await verifier.checkpoint(verifiers, origin);
    for (let index = 0; index < 700; index += 7) {
      expect((await verifier.inclusionProof(index, checkpoint)).map(toHex)).toEqual(tree.inclusionProof(index, 700).map(toHex));
      expect(await verifier.entry(index, checkpoint)).toEqual(entries[index]!);
    }
    for (const from of [0, 1, 255, 256, 257, 511, 512, 699, 700]) {
      expect((await verifier.consistencyProof(from, checkpoint)).map(toHex)).toEqual(tree.consistencyProof(from, 700).map(toHex));
    }
    await expect(verifier.verifyInclusion(hasher.hashLeaf(utf8("not an entry")), 5, checkpoint)).rejects.toThrow(VerificationError);
  });

  test("a tampered full tile is refused by name and not cached; once repaired it is accepted", async () => {
    const { objects } = await staticLog(makeEntries(700), [700]);
    const good = objects.get("tile/0/001")!;
    objects.set("tile/0/001", flipped(good, 100));
    const verifier = await TileVerifier.create({ source: memorySource(objects), hasher });
    const { checkpoint } = await verifier.checkpoint(verifiers);
    await expect(verifier.inclusionProof(300, checkpoint)).rejects.toThrow(/memory:\/tile\/0\/001 hashes to [0-9a-f]{64}, but tile\/1\/000\.p\/2 of the signed tree holds/);
    await expect(verifier.leafHash(300, checkpoint)).rejects.toThrow(VerificationError);
    objects.set("tile/0/001", good);
    expect(toHex(await verifier.leafHash(300, checkpoint))).toBe(toHex(good.subarray(44 * 32, 45 * 32)));
  });

  test("tampered partial tiles do not hash to the signed root; a tile of the wrong length is refused", async () => {
    const { objects } = await staticLog(makeEntries(700), [700]);
    objects.set("tile/1/000.p/2", flipped(objects.get("tile/1/000.p/2")!, 0));
    const verifier = await TileVerifier.create({ source: memorySource(objects), hasher });
    const { checkpoint } = await verifier.checkpoint(verifiers);
    await expect(verifier.leafHash(3, checkpoint)).rejects.toThrow(/the partial tiles of size 700 \(.*tile\/1\/000\.p\/2.*\) at memory: hash to/);
    const { objects: other } = await staticLog(makeEntries(700), [700]);
    other.set("tile/0/000", other.get("tile/0/000")!.subarray(0, 8000));
    const second = await TileVerifier.create({ source: memorySource(other), hasher });
    await expect(second.leafHash(3, checkpoint)).rejects.toThrow(/has 8000 bytes, a tile of width 256 has 8192/);
  });

  test("a missing partial tile or bundle falls back to the full one (a log that dropped its partials)", async () => {
    const entries = makeEntries(600);
    const { objects, notes } = await staticLog(entries, [300, 600]);
    objects.delete("tile/0/001.p/44");
    objects.delete("tile/entries/001.p/44");
    const source = memorySource(objects);
    const verifier = await TileVerifier.create({ source, hasher });
    const old = parseCheckpoint(splitNote(notes[0]!).body);
    expect(old.size).toBe(300);
    expect(await verifier.entry(290, old)).toEqual(entries[290]!);
    expect(source.reads).toContain("tile/0/001");
    expect(source.reads).toContain("tile/entries/001");
  });

  test("consistency from tiles moves a trusted state forward, and refuses a fork", async () => {
    const entries = makeEntries(1_000);
    const { objects, notes } = await staticLog(entries, [400, 1_000]);
    const verifier = await TileVerifier.create({ source: memorySource(objects), hasher });
    const state = new TrustedState({ verifiers, persistence: new MemoryPersistence(notes[0]), hasher });
    expect((await verifier.updateTrustedState(state, notes[1]!)).size).toBe(1_000);
    expect((await state.current())!.size).toBe(1_000);

    // Another history of the same size 400 prefix length, signed by the same key: a fork.
    const forked = await staticLog(makeEntries(1_000, 7), [400, 1_000]);
    const forkVerifier = await TileVerifier.create({ source: memorySource(forked.objects), hasher });
    const trusting400 = new TrustedState({ verifiers, persistence: new MemoryPersistence(notes[0]), hasher });
    await expect(forkVerifier.updateTrustedState(trusting400, forked.notes[1]!)).rejects.toThrow(VerificationError);
    expect((await trusting400.current())!.size).toBe(400);
  });

  test("the cache keeps at most its limit of authenticated tiles, least recently used out first", async () => {
    const { objects } = await staticLog(makeEntries(5_000), [5_000]);
    const verifier = await TileVerifier.create({ source: memorySource(objects), hasher, cacheTilesMax: 8 });
    const { checkpoint } = await verifier.checkpoint(verifiers);
    for (let index = 0; index < 5_000; index += 256) await verifier.inclusionProof(index, checkpoint);
    expect(verifier.cache.size).toBe(8);
    expect(() => new TileCache(7)).toThrow(RangeError);
    const cache = new TileCache(8);
    for (let i = 0; i < 9; i++) cache.set(`t${i}`, new Uint8Array([i]));
    expect(cache.get("t0")).toBeUndefined();
    expect(cache.get("t1")).toEqual(new Uint8Array([1]));
  });
});

describe("auditTiles", () => {
  test("a log whose entries break a key chain is reported as a chain failure once its tiles check out", async () => {
    const entries = makeEntries(300);
    entries[100] = { ...entries[100]!, prevIndex: 20 }; // key-26 was last at 63, not 20
    const { objects } = await staticLog(entries, [300]);
    const result = await auditTiles({ source: memorySource(objects), verifiers, hasher });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.failure).toMatchObject({ kind: "chain", index: 100, object: "tile/entries/000" });
  });

  test("a bundle and its tile changed together do not reproduce the signed root: reported as such", async () => {
    const entries = makeEntries(600);
    const { objects } = await staticLog(entries, [600]);
    const forged = makeEntries(600, 1);
    const forgedLog = await staticLog(forged, [600]);
    objects.set("tile/entries/001", forgedLog.objects.get("tile/entries/001")!);
    objects.set("tile/0/001", forgedLog.objects.get("tile/0/001")!);
    const result = await auditTiles({ source: memorySource(objects), verifiers, hasher });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.failure.kind).toBe("tree");
      expect(result.failure.message).toContain("tile/1/000.p/2");
    }
  });

  test("without manifest.json values are not checked (or, when required, that is the failure); a wrong key fails at the checkpoint", async () => {
    const { objects } = await staticLog(makeEntries(300), [300]);
    const result = await auditTiles({ source: memorySource(objects), verifiers, hasher });
    expect(result.ok && result.stats.valuesChecked).toBe(false);
    const required = await auditTiles({ source: memorySource(objects), verifiers, hasher, values: "require" });
    expect(!required.ok && required.failure.kind).toBe("manifest");
    const other = await generateSigner("someone-else");
    const wrongKey = await auditTiles({ source: memorySource(objects), verifiers: [await parseVerifierKey(other.verifierKey)], hasher });
    expect(!wrongKey.ok && wrongKey.failure).toMatchObject({ kind: "checkpoint", object: "checkpoint" });
  });

  test("a trusted state catches a rewritten log of the same key, and moves forward on a good one", async () => {
    const { objects, notes } = await staticLog(makeEntries(900), [500, 900]);
    const state = new TrustedState({ verifiers, persistence: new MemoryPersistence(notes[0]), hasher });
    const forked = await staticLog(makeEntries(900, 3), [500, 900]);
    const refused = await auditTiles({ source: memorySource(forked.objects), verifiers, hasher, trustedState: state });
    expect(!refused.ok && refused.failure.kind).toBe("consistency");
    expect((await state.current())!.size).toBe(500);
    const accepted = await auditTiles({ source: memorySource(objects), verifiers, hasher, trustedState: state });
    expect(accepted.ok).toBe(true);
    expect((await state.current())!.size).toBe(900);
  });
});

test("directoryTileSource reads paths below its directory only; a missing file is an absent object", async () => {
  const dir = tempDir("scribe-tile-dir-");
  try {
    mkdirSync(join(dir.path, "tile/0/000.p"), { recursive: true });
    writeFileSync(join(dir.path, "tile/0/000.p/1"), new Uint8Array(32));
    const source = directoryTileSource(dir.path);
    expect(await source.read("tile/0/000.p/1", 32)).toEqual(new Uint8Array(32));
    expect(await source.read("tile/0/001", 8192)).toBeUndefined();
    expect(await source.read("tile/0/000.p/1/deeper", 8192)).toBeUndefined();
    await expect(source.read("tile/0/000.p/1", 31)).rejects.toThrow(/more than the 31 expected/);
    await expect(source.read("../outside", 10)).rejects.toThrow(/leaves/);
  } finally {
    dir.remove();
  }
});
