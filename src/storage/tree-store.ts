/**
 * @module tree-store. The Merkle tree's complete subtree hashes in SQLite: table `tree_hashes`,
 * one row per node keyed by its post-order position (src/merkle/node-id.ts, postOrderPosition:
 * leaf 0, leaf 1, node 1/0, leaf 2, …). Every append completes the next positions, so each group
 * commit's new nodes go at the right edge of one B-tree: about 2 pages written per 64 writes,
 * where the earlier `tree_nodes (level, idx)` table inserted into one region per level and wrote
 * about 22 (docs/PERFORMANCE.md). Written inside the commit cycle's transaction, so a tree node
 * is durable exactly when the entries it covers are.
 *
 * A database written before this layout (table `tree_nodes`) is converted when opened, in one
 * transaction (docs/FORMATS.md, "The hot tier's tree table"); `legacyTreeRows` reads such a file
 * without writing it (scribe-node check).
 */

import type { Database, Statement } from "bun:sqlite";
import { bytesEqual, toHex } from "../lib/index.ts";
import { forEachNode, hashSize, NodeConflictError, postOrderPosition, type NodeId, type NodeRun, type NodeRunReader, type TreeStore } from "../merkle/index.ts";

/** Most nodes one readRun returns: a full tile (256) is what callers ask for; 4096 leaves room. */
const runNodesMax = 4096;

/** The table's definition (also used by the offline check's in-memory conversion of an old file). */
export const treeHashesTable = "CREATE TABLE IF NOT EXISTS tree_hashes (pos INTEGER PRIMARY KEY, hash BLOB NOT NULL)";

/** Legacy rows in a Database's `tree_nodes` table, in (level, idx) order. */
export function legacyTreeRows(db: Database): IterableIterator<{ level: number; idx: number; hash: Uint8Array }> {
  return db.query<{ level: number; idx: number; hash: Uint8Array }, []>("SELECT level, idx, hash FROM tree_nodes ORDER BY level, idx").iterate();
}

/** True when `db` still has the table of the layout before post-order positions. */
export function hasLegacyTreeTable(db: Database): boolean {
  return db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'tree_nodes'").get()!.n > 0;
}

/** Copies legacy `tree_nodes` rows of `from` into `to`'s tree_hashes (same database or not). Returns the rows copied. */
export function copyLegacyTreeRows(from: Database, to: Database): number {
  to.exec(treeHashesTable);
  const insert = to.prepare<unknown, [number, Uint8Array]>("INSERT INTO tree_hashes (pos, hash) VALUES (?, ?)");
  let rows = 0;
  for (const row of legacyTreeRows(from)) {
    insert.run(postOrderPosition(row.level, row.idx), row.hash);
    rows++;
  }
  return rows;
}

export class SqliteTreeStore implements TreeStore, NodeRunReader {
  private readonly get: Statement<{ hash: Uint8Array }, [number]>;
  private readonly range: Statement<{ pos: number; hash: Uint8Array }, [number, number]>;
  private readonly insert: Statement<unknown, [number, Uint8Array]>;
  /** Nodes converted from the legacy `tree_nodes` table when this store opened (0: none). */
  readonly migratedNodes: number;

  constructor(private readonly db: Database) {
    this.migratedNodes = hasLegacyTreeTable(db)
      ? db.transaction(() => {
          const rows = copyLegacyTreeRows(db, db);
          db.exec("DROP TABLE tree_nodes");
          return rows;
        })()
      : 0;
    db.exec(treeHashesTable);
    this.get = db.prepare("SELECT hash FROM tree_hashes WHERE pos = ?");
    this.range = db.prepare("SELECT pos, hash FROM tree_hashes WHERE pos >= ? AND pos <= ? ORDER BY pos");
    this.insert = db.prepare("INSERT INTO tree_hashes (pos, hash) VALUES (?, ?) ON CONFLICT (pos) DO NOTHING");
  }

  getNodes(ids: readonly NodeId[]): (Uint8Array | undefined)[] {
    return ids.map((id) => this.get.get(postOrderPosition(id.level, id.index))?.hash);
  }

  /**
   * Hashes of nodes (level, index + i), i < count (tiles read through this). Leaves come from one
   * range query (about two rows per leaf: the leaves and their parents); higher levels, whose
   * nodes lie far apart, from a point query each.
   */
  readRun(level: number, index: number, count: number): Uint8Array | undefined {
    if (!(Number.isInteger(count) && count >= 0 && count <= runNodesMax)) throw new RangeError(`readRun count must be 0..${runNodesMax}, got ${count}`);
    const out = new Uint8Array(count * hashSize);
    if (count === 0) return out;
    if (level === 0) {
      const rows = new Map(this.range.all(postOrderPosition(0, index), postOrderPosition(0, index + count - 1)).map((r) => [r.pos, r.hash]));
      for (let i = 0; i < count; i++) {
        const hash = rows.get(postOrderPosition(0, index + i));
        if (!hash) return undefined;
        out.set(hash, i * hashSize);
      }
      return out;
    }
    for (let i = 0; i < count; i++) {
      const hash = this.get.get(postOrderPosition(level, index + i))?.hash;
      if (!hash) return undefined;
      out.set(hash, i * hashSize);
    }
    return out;
  }

  /** Stores every node; a node already stored with another hash throws and rolls the batch back. */
  putNodes(runs: readonly NodeRun[]): void {
    this.db.transaction(() => {
      forEachNode(runs, (level, index, hash) => {
        const pos = postOrderPosition(level, index);
        if (this.insert.run(pos, hash).changes === 1) return;
        const stored = this.get.get(pos)!.hash;
        if (!bytesEqual(stored, hash)) {
          throw new NodeConflictError(`node ${level}/${index} is ${toHex(stored)}; refusing to overwrite it with ${toHex(hash)}`);
        }
      });
    })();
  }
}
