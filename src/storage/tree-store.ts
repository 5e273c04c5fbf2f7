/**
 * @module tree-store. The Merkle tree's complete subtree hashes in SQLite (table `tree_nodes`,
 * one row per node, keyed by level and index). Written inside the commit cycle's transaction, so
 * a tree node is durable exactly when the entries it covers are.
 */

import type { Database, Statement } from "bun:sqlite";
import { bytesEqual, toHex } from "../lib/index.ts";
import { forEachNode, hashSize, NodeConflictError, type NodeId, type NodeRun, type NodeRunReader, type TreeStore } from "../merkle/index.ts";

/** Most nodes one readRun returns: a full tile (256) is what callers ask for; 4096 leaves room. */
const runNodesMax = 4096;

export class SqliteTreeStore implements TreeStore, NodeRunReader {
  private readonly get: Statement<{ hash: Uint8Array }, [number, number]>;
  private readonly range: Statement<{ idx: number; hash: Uint8Array }, [number, number, number]>;
  private readonly insert: Statement<unknown, [number, number, Uint8Array]>;

  constructor(private readonly db: Database) {
    db.exec("CREATE TABLE IF NOT EXISTS tree_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID");
    this.get = db.prepare("SELECT hash FROM tree_nodes WHERE level = ? AND idx = ?");
    this.range = db.prepare("SELECT idx, hash FROM tree_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx");
    this.insert = db.prepare("INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?) ON CONFLICT (level, idx) DO NOTHING");
  }

  getNodes(ids: readonly NodeId[]): (Uint8Array | undefined)[] {
    return ids.map((id) => this.get.get(id.level, id.index)?.hash);
  }

  /** Hashes of nodes (level, index + i), i < count, in one range query (tiles read through this). */
  readRun(level: number, index: number, count: number): Uint8Array | undefined {
    if (!(Number.isInteger(count) && count >= 0 && count <= runNodesMax)) throw new RangeError(`readRun count must be 0..${runNodesMax}, got ${count}`);
    const rows = this.range.all(level, index, index + count);
    if (rows.length !== count) return undefined;
    const out = new Uint8Array(count * hashSize);
    rows.forEach((row, i) => out.set(row.hash, i * hashSize));
    return out;
  }

  /** Stores every node; a node already stored with another hash throws and rolls the batch back. */
  putNodes(runs: readonly NodeRun[]): void {
    this.db.transaction(() => {
      forEachNode(runs, (level, index, hash) => {
        if (this.insert.run(level, index, hash).changes === 1) return;
        const stored = this.get.get(level, index)!.hash;
        if (!bytesEqual(stored, hash)) {
          throw new NodeConflictError(`node ${level}/${index} is ${toHex(stored)}; refusing to overwrite it with ${toHex(hash)}`);
        }
      });
    })();
  }
}
