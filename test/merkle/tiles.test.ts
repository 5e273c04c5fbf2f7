/**
 * C2SP tlog-tiles math (src/merkle/tiles.ts): paths as the spec spells them, which tiles a tree of
 * a given size has (the spec's own examples), hash tiles read from a real tree store cross-checked
 * against the tree's proofs, a naive MTH and the RFC 6962 vectors, and entry bundles.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { contentTypeBytesMax, encodeEntry, entryBytesMax, keyBytesMax } from "../../src/ledger/index.ts";
import { fromBase64, toHex } from "../../src/lib/index.ts";
import {
  bundleEntryBytesMax,
  consistencyProofPlan,
  decodeEntryBundle,
  encodeEntryBundle,
  entryBundlePath,
  foldPlan,
  fullTileHash,
  hashTilePath,
  inclusionProofPlan,
  MemoryTreeStore,
  MerkleTree,
  nodeHashFromTiles,
  nodeRunReader,
  parseTilePath,
  partialTiles,
  readHashTile,
  rootFromTiles,
  tileAt,
  tileIndexPath,
  tileParent,
  tilesBetween,
  tilesForNodes,
  tilesForRoot,
  tileWidthAt,
  VerificationError,
  type Tile,
} from "../../src/merkle/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";
import { SqliteTreeStore } from "../../src/storage/index.ts";
import { Database } from "bun:sqlite";
import { ReferenceTree } from "./reference.ts";

const hasher = createNativeHasher();

describe("tile paths", () => {
  test("the index is written in groups of three digits, all but the last prefixed with x", () => {
    expect(tileIndexPath(1234067)).toBe("x001/x234/067");
    expect(tileIndexPath(0)).toBe("000");
    expect(tileIndexPath(5)).toBe("005");
    expect(tileIndexPath(999)).toBe("999");
    expect(tileIndexPath(1000)).toBe("x001/000");
    expect(tileIndexPath(273)).toBe("273");
    expect(hashTilePath({ level: 3, index: 1234067, width: 8 })).toBe("tile/3/x001/x234/067.p/8");
    expect(hashTilePath({ level: 0, index: 273, width: 256 })).toBe("tile/0/273");
    expect(entryBundlePath({ level: 0, index: 1234067, width: 256 })).toBe("tile/entries/x001/x234/067");
    expect(entryBundlePath({ level: 0, index: 273, width: 235 })).toBe("tile/entries/273.p/235");
  });

  test("parsing gives back the tile, for hash tiles and entry bundles", () => {
    const tiles: Tile[] = [
      { level: 0, index: 0, width: 256 },
      { level: 0, index: 273, width: 235 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
      { level: 5, index: 1234067, width: 255 },
      { level: 63, index: 2 ** 53 - 1, width: 256 },
    ];
    for (const t of tiles) {
      expect(parseTilePath(hashTilePath(t))).toEqual({ kind: "hash", tile: t });
      if (t.level === 0) expect(parseTilePath(entryBundlePath(t))).toEqual({ kind: "entries", tile: t });
    }
  });

  test("only the canonical spelling parses; everything else is invalid_request naming the problem", () => {
    const bad: [string, RegExp][] = [
      ["tile/00/000", /level/],
      ["tile/64/000", /level/],
      ["tile/-1/000", /level/],
      ["tile/0/1", /3 digits/],
      ["tile/0/0000", /3 digits/],
      ["tile/0/x001", /3 digits/],
      ["tile/0/001/002", /x and 3 digits/],
      ["tile/0/x000/001", /leading x000/],
      ["tile/0/000.p/256", /partial width/],
      ["tile/0/000.p/0", /partial width/],
      ["tile/0/000.p/05", /partial width/],
      ["tile/0/000.p/", /partial width/],
      ["tile/0/000.p", /3 digits/],
      ["tile/entries/000/extra", /x and 3 digits/],
      ["tile/entries", /want tile/],
      ["tiles/0/000", /want tile/],
      ["tile/0/x999/x999/x999/x999/x999/999", /too large/],
    ];
    for (const [path, why] of bad) {
      let error: unknown;
      try {
        parseTilePath(path);
      } catch (e) {
        error = e;
      }
      expect(error, path).toMatchObject({ code: "invalid_request" });
      expect((error as Error).message, path).toMatch(why);
    }
  });
});

describe("which tiles a tree has", () => {
  test("the spec's example: a tree of 70,000 leaves", () => {
    expect(tileWidthAt(0, 272, 70_000)).toBe(256);
    expect(tileAt(0, 273, 70_000)).toEqual({ level: 0, index: 273, width: 112 });
    expect(tileAt(0, 274, 70_000)).toBeUndefined();
    expect(partialTiles(70_000)).toEqual([
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    const all = tilesBetween(0, 70_000);
    const count = (level: number, full: boolean) => all.filter((t) => t.level === level && (t.width === 256) === full).length;
    expect([count(0, true), count(0, false), count(1, true), count(1, false), count(2, true), count(2, false)]).toEqual([273, 1, 1, 1, 0, 1]);
    expect(all.length).toBe(277);
  });

  test("the spec's example: a tree of 256 leaves is one full level 0 tile and a level 1 tile of width 1", () => {
    expect(tilesBetween(0, 256)).toEqual([
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
    expect(partialTiles(256)).toEqual([{ level: 1, index: 0, width: 1 }]);
    expect(partialTiles(0)).toEqual([]);
  });

  test("growing publishes the tiles that became full and the new partial tiles, nothing twice", () => {
    expect(tilesBetween(300, 300)).toEqual([]);
    // 300 → 700: level 0 tile 1 fills, tile 2 is partial (188); level 1 grows from width 1 to 2.
    expect(tilesBetween(300, 700)).toEqual([
      { level: 0, index: 1, width: 256 },
      { level: 0, index: 2, width: 188 },
      { level: 1, index: 0, width: 2 },
    ]);
    // 513 → 515: only the level 0 partial tile changes (level 1 stays width 2).
    expect(tilesBetween(513, 515)).toEqual([{ level: 0, index: 2, width: 3 }]);
    // Publishing in steps covers every full tile of the whole range exactly once.
    const steps = [0, 1, 255, 256, 257, 1000, 65_535, 65_536, 70_123];
    const full = new Set<string>();
    for (let i = 1; i < steps.length; i++) {
      for (const t of tilesBetween(steps[i - 1]!, steps[i]!)) {
        if (t.width < 256) continue;
        expect(full.has(hashTilePath(t))).toBe(false);
        full.add(hashTilePath(t));
      }
    }
    expect(full).toEqual(new Set(tilesBetween(0, 70_123).filter((t) => t.width === 256).map(hashTilePath)));
  });
});

/** Leaf hashes 0..n-1: SHA-256 leaves of their index as 4 bytes. */
function makeLeaves(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => hasher.hashLeaf(new Uint8Array([i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255])));
}

function treeOf(leaves: readonly Uint8Array[]) {
  const store = new MemoryTreeStore();
  const tree = MerkleTree.open({ hasher, store });
  const all = new Uint8Array(leaves.length * 32);
  leaves.forEach((leaf, i) => all.set(leaf, i * 32));
  tree.appendLeafHashes(all);
  return { tree, store };
}

describe("hash tiles from a stored tree (70,123 leaves: partial tiles at levels 0, 1 and 2)", () => {
  const size = 70_123;
  const leaves = makeLeaves(size);
  const { tree, store } = treeOf(leaves);
  const reader = nodeRunReader(store);
  const tiles = new Map<string, Uint8Array>();
  for (const t of tilesBetween(0, size)) tiles.set(hashTilePath(t), readHashTile(reader, t)!);
  const lookup = (t: Tile) => tiles.get(hashTilePath(t)) ?? readHashTile(reader, t);

  test("partial tiles at three levels, and their hashes give the tree's root", () => {
    expect(partialTiles(size)).toEqual([
      { level: 0, index: 273, width: 235 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    expect(tilesForRoot(size).sort((a, b) => a.level - b.level)).toEqual(partialTiles(size));
    expect(toHex(rootFromTiles(hasher, size, lookup))).toBe(toHex(tree.root()));
  });

  test("every tile hash is the spec's MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]) (naive reference)", () => {
    const reference = new ReferenceTree(hasher, leaves);
    for (const t of [{ level: 0, index: 0, width: 256 }, { level: 0, index: 273, width: 235 }, { level: 1, index: 0, width: 256 }, { level: 1, index: 1, width: 17 }, { level: 2, index: 0, width: 1 }]) {
      const bytes = tiles.get(hashTilePath(t))!;
      expect(bytes.length).toBe(t.width * 32);
      const span = 256 ** t.level;
      for (const i of new Set([0, 1, t.width - 1].filter((i) => i < t.width))) {
        const begin = (t.index * 256 + i) * span;
        expect(toHex(bytes.subarray(i * 32, (i + 1) * 32)), `${hashTilePath(t)}[${i}]`).toBe(toHex(reference.hash(begin, begin + span)));
      }
    }
  });

  test("each full tile's hash is the hash its parent tile holds for it", () => {
    for (const t of tilesBetween(0, size).filter((t) => t.width === 256)) {
      const parent = tileParent(t, size);
      const parentBytes = tiles.get(hashTilePath(parent.tile))!;
      expect(toHex(fullTileHash(hasher, tiles.get(hashTilePath(t))!))).toBe(toHex(parentBytes.subarray(parent.offset * 32, parent.offset * 32 + 32)));
    }
  });

  test("inclusion and consistency proofs computed from tiles equal the tree's own (the proof endpoints' code)", () => {
    const sizes = [1, 2, 255, 256, 257, 4_097, 65_535, 65_536, 65_537, 70_000, size];
    for (const n of sizes) {
      const at = (t: Tile) => readHashTile(reader, t);
      expect(toHex(rootFromTiles(hasher, n, at)), `root ${n}`).toBe(toHex(tree.rootAt(n)));
      for (const index of new Set([0, 1, Math.floor(n / 2), n - 1].filter((i) => i < n))) {
        const plan = inclusionProofPlan(index, n);
        for (const t of tilesForNodes(plan.ids, n)) expect(t.width).toBe(tileWidthAt(t.level, t.index, n));
        const proof = foldPlan(plan, plan.ids.map((id) => nodeHashFromTiles(hasher, id, n, at)), hasher);
        expect(proof.map(toHex), `inclusion ${index} in ${n}`).toEqual(tree.inclusionProof(index, n).map(toHex));
      }
      for (const m of [1, Math.floor(n / 3), n - 1].filter((m) => m >= 1 && m <= n)) {
        const plan = consistencyProofPlan(m, n);
        const proof = foldPlan(plan, plan.ids.map((id) => nodeHashFromTiles(hasher, id, n, at)), hasher);
        expect(proof.map(toHex), `consistency ${m} → ${n}`).toEqual(tree.consistencyProof(m, n).map(toHex));
      }
    }
  });

  test("the SQLite tree store's range read gives the same tiles as the per-node reads", () => {
    const db = new Database(":memory:");
    const sqlite = new SqliteTreeStore(db);
    const sqliteTree = MerkleTree.open({ hasher, store: sqlite });
    const all = new Uint8Array(1_000 * 32);
    leaves.slice(0, 1_000).forEach((leaf, i) => all.set(leaf, i * 32));
    sqliteTree.appendLeafHashes(all);
    for (const t of tilesBetween(0, 1_000)) {
      expect(toHex(readHashTile(sqlite, t)!)).toBe(toHex(readHashTile(nodeRunReader({ getNodes: (ids) => sqlite.getNodes(ids), putNodes: () => {} }), t)!));
      expect(toHex(readHashTile(sqlite, t)!)).toBe(toHex(readHashTile(reader, t)!));
    }
    expect(readHashTile(sqlite, { level: 0, index: 3, width: 256 })).toBeUndefined(); // only 1,000 leaves
    db.close();
  });
});

describe("the RFC 6962 vectors (/work/shared/vectors) through tiles", () => {
  // The eight leaves of the RFC 6962 test tree the vectors are made from.
  const data = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map((hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16)));
  const { store } = treeOf(data.map((d) => hasher.hashLeaf(d)));
  const at = (t: Tile) => readHashTile(nodeRunReader(store), t);
  const dir = join(import.meta.dir, "vectors");
  const b64 = (text: string) => fromBase64(text)!;

  test("happy-path inclusion proofs and roots come out of the tiles", () => {
    for (const name of ["0", "1", "2"]) {
      const v = JSON.parse(readFileSync(join(dir, "inclusion", name, "happy-path.json"), "utf8")) as { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null };
      const plan = inclusionProofPlan(v.leafIdx, v.treeSize);
      const proof = foldPlan(plan, plan.ids.map((id) => nodeHashFromTiles(hasher, id, v.treeSize, at)), hasher);
      expect(proof.map(toHex)).toEqual((v.proof ?? []).map((p) => toHex(b64(p))));
      expect(toHex(rootFromTiles(hasher, v.treeSize, at))).toBe(toHex(b64(v.root)));
      expect(toHex(at({ level: 0, index: 0, width: v.treeSize })!.subarray(v.leafIdx * 32, v.leafIdx * 32 + 32))).toBe(toHex(b64(v.leafHash)));
    }
  });

  test("happy-path consistency proofs come out of the tiles", () => {
    for (const name of ["0", "1", "2"]) {
      const v = JSON.parse(readFileSync(join(dir, "consistency", name, "happy-path.json"), "utf8")) as { size1: number; size2: number; root1: string; root2: string; proof: string[] | null };
      const plan = consistencyProofPlan(v.size1, v.size2);
      const proof = foldPlan(plan, plan.ids.map((id) => nodeHashFromTiles(hasher, id, v.size2, at)), hasher);
      expect(proof.map(toHex)).toEqual((v.proof ?? []).map((p) => toHex(b64(p))));
      expect(toHex(rootFromTiles(hasher, v.size1, at))).toBe(toHex(b64(v.root1)));
      expect(toHex(rootFromTiles(hasher, v.size2, at))).toBe(toHex(b64(v.root2)));
    }
  });
});

describe("entry bundles", () => {
  test("uint16 big-endian length prefixes, in order; decoding gives the same leaves", () => {
    const entries = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(300).fill(7)];
    const bundle = encodeEntryBundle(entries);
    expect(toHex(bundle.subarray(0, 5))).toBe("0003010203");
    expect(toHex(bundle.subarray(5, 7))).toBe("0000");
    expect(toHex(bundle.subarray(7, 9))).toBe("012c");
    expect(bundle.length).toBe(2 + 3 + 2 + 2 + 300);
    expect(decodeEntryBundle(bundle, 3).map(toHex)).toEqual(entries.map(toHex));
  });

  test("the longest canonical entry (1024-byte key, 255-byte content type) fits a bundle", () => {
    const entry = { index: 2 ** 40, op: "put" as const, key: "k".repeat(keyBytesMax), valueHash: new Uint8Array(32), valueBytes: 4, contentType: "t".repeat(contentTypeBytesMax), timestampMs: 1, prevIndex: 5 };
    const encoded = encodeEntry(entry);
    expect(encoded.length).toBe(entryBytesMax);
    expect(entryBytesMax).toBe(1351);
    expect(entryBytesMax).toBeLessThanOrEqual(bundleEntryBytesMax);
    expect(decodeEntryBundle(encodeEntryBundle([encoded, encoded]))[1]!.length).toBe(entryBytesMax);
  });

  test("a truncated bundle, a wrong count, or more than 256 entries is a VerificationError", () => {
    const bundle = encodeEntryBundle([new Uint8Array([1, 2, 3]), new Uint8Array([4])]);
    expect(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1))).toThrow(VerificationError);
    expect(() => decodeEntryBundle(bundle.subarray(0, 6))).toThrow(/ends inside the length/);
    expect(() => decodeEntryBundle(bundle, 3)).toThrow(/holds 2 entries, expected 3/);
    const many = new Uint8Array(257 * 2); // 257 empty entries
    expect(() => decodeEntryBundle(many)).toThrow(/more than 256/);
  });
});
