/**
 * @module tree-store. The Merkle tree's complete subtree hashes in SQLite: table `tree_hashes`,
 * nodes ordered by their post-order position (src/merkle/node-id.ts, postOrderPosition: leaf 0,
 * leaf 1, node 1/0, leaf 2, …), stored in runs: a row holds the hashes of the consecutive
 * positions [pos, pos + n), n <= treeRowNodesMax, back to back. Every append completes the next
 * positions, so a group commit's new nodes are ONE row (or a few) at the right edge of one B-tree,
 * written once and never changed: about 4 pages per 64 writes where the earlier `tree_nodes
 * (level, idx)` table, a row per node inserted into one region per level, wrote about 22, and one
 * statement per group commit instead of one per node (docs/PERFORMANCE.md). Written inside the
 * commit cycle's transaction, so a tree node is durable exactly when the entries it covers are.
 *
 * A database written before this layout (table `tree_nodes`) is converted when opened, in one
 * transaction (docs/FORMATS.md section 7); `copyLegacyTreeRows` also serves the offline check,
 * which reads such a file without writing it.
 */

import type { Database, Statement } from "bun:sqlite";
import { assert, bytesEqual, toHex } from "../lib/index.ts";
import { forEachNode, forEachPostOrder, hashSize, NodeConflictError, postOrderPosition, runLength, type NodeId, type NodeRun, type NodeRunReader, type TreeStore } from "../merkle/index.ts";

/** Most nodes one readRun returns: a full tile (256) is what callers ask for; 4096 leaves room. */
const runNodesMax = 4096;

/**
 * Most hashes in one row: 256 (8 KiB) keeps a point read to a few pages while a group commit of
 * 64 writes (about 128 nodes) is one row and a batch of 1,000 about eight.
 */
export const treeRowNodesMax = 256;

/** The table's definition (also used by the offline check's in-memory conversion of an old file). */
export const treeHashesTable = "CREATE TABLE IF NOT EXISTS tree_hashes (pos INTEGER PRIMARY KEY, hashes BLOB NOT NULL)";

/** True when `db` still has the table of the layout before post-order positions. */
export function hasLegacyTreeTable(db: Database): boolean {
  return db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'tree_nodes'").get()!.n > 0;
}

/**
 * Copies the legacy `tree_nodes` rows of `from` into `to`'s tree_hashes (the same database or
 * not), in position order so that consecutive nodes share rows as an append would have written
 * them: the tree of as many leaves as level 0 holds, walked in post-order with a point read per
 * node (about 3 s per million entries here), then any node beyond that tree on its own. Returns
 * the nodes copied.
 */
export function copyLegacyTreeRows(from: Database, to: Database): number {
  to.exec(treeHashesTable);
  const rows = new TreeRows(to);
  const get = from.prepare<{ hash: Uint8Array }, [number, number]>("SELECT hash FROM tree_nodes WHERE level = ? AND idx = ?");
  const size = (from.query<{ n: number | null }, []>("SELECT MAX(idx) AS n FROM tree_nodes WHERE level = 0").get()?.n ?? -1) + 1;
  const run = new Uint8Array(treeRowNodesMax * hashSize);
  let runStart = 0;
  let runNodes = 0;
  let position = 0;
  let copied = 0;
  const flush = () => {
    if (runNodes > 0) rows.insertRun(runStart, run.subarray(0, runNodes * hashSize));
    runNodes = 0;
  };
  forEachPostOrder(size, (level, index) => {
    const hash = get.get(level, index)?.hash;
    if (hash && hash.length !== hashSize) {
      flush();
      rows.insertRow(position, hash); // malformed: kept as it is, for the check to report
      copied++;
    } else if (hash) {
      if (runNodes === 0) runStart = position;
      run.set(hash, runNodes * hashSize);
      runNodes++;
      copied++;
      if (runNodes === treeRowNodesMax) flush();
    } else {
      flush(); // a hole in the old table stays a hole
    }
    position++;
  });
  flush();
  const beyond = from.query<{ level: number; idx: number; hash: Uint8Array }, [number]>("SELECT level, idx, hash FROM tree_nodes WHERE (idx + 1) * (1 << level) > ?").iterate(size);
  for (const node of beyond) {
    rows.insertRow(postOrderPosition(node.level, node.idx), node.hash);
    copied++;
  }
  return copied;
}

/**
 * Reads and writes the rows of a tree_hashes table. Rows never overlap; a lookup finds the row
 * that starts at or before a position and checks that it reaches it. The last row read is kept
 * (rows never change, and proofs and tiles read neighbours), until `forget()`.
 */
export class TreeRows {
  private readonly rowAtOrBefore: Statement<{ pos: number; hashes: Uint8Array }, [number]>;
  private readonly rowsFrom: Statement<{ pos: number; hashes: Uint8Array }, [number, number]>;
  /** Prepared on first use: a read-only file (scribe-node check) never needs it. */
  private insert: Statement<unknown, [number, Uint8Array]> | undefined;
  private cached: { pos: number; hashes: Uint8Array } | undefined;

  constructor(private readonly db: Database) {
    this.rowAtOrBefore = db.prepare("SELECT pos, hashes FROM tree_hashes WHERE pos <= ? ORDER BY pos DESC LIMIT 1");
    this.rowsFrom = db.prepare("SELECT pos, hashes FROM tree_hashes WHERE pos > ? AND pos <= ? ORDER BY pos");
  }

  /** One past the highest stored position (0 for an empty table). */
  end(): number {
    const last = this.db.query<{ pos: number; n: number }, []>("SELECT pos, length(hashes) AS n FROM tree_hashes ORDER BY pos DESC LIMIT 1").get();
    return last ? last.pos + last.n / hashSize : 0;
  }

  /** The stored hash at `pos` (a view into the row: copy it before handing it out), or undefined. */
  hashAt(pos: number): Uint8Array | undefined {
    let row = this.cached;
    if (!row || pos < row.pos || pos >= row.pos + row.hashes.length / hashSize) {
      row = this.rowAtOrBefore.get(pos) ?? undefined;
      if (!row) return undefined;
      this.cached = row;
    }
    const offset = (pos - row.pos) * hashSize;
    return offset + hashSize <= row.hashes.length ? row.hashes.subarray(offset, offset + hashSize) : undefined;
  }

  /** Calls `visit` for every stored position in [from, to], in order. */
  forEachIn(from: number, to: number, visit: (pos: number, hash: Uint8Array) => void): void {
    if (to < from) return;
    for (const row of this.rowsFrom.iterate(from - treeRowNodesMax, to)) {
      const count = row.hashes.length / hashSize;
      for (let i = Math.max(0, from - row.pos); i < count && row.pos + i <= to; i++) visit(row.pos + i, row.hashes.subarray(i * hashSize, (i + 1) * hashSize));
    }
  }

  /**
   * Every stored position in [from, to] with its hash, in order (the offline check walks the table
   * with it). A row whose length is not a multiple of 32 yields its short tail as a short hash.
   */
  *hashesIn(from: number, to: number): Generator<{ pos: number; hash: Uint8Array }> {
    for (const row of this.rowsFrom.iterate(from - treeRowNodesMax, to)) {
      const count = Math.ceil(row.hashes.length / hashSize);
      for (let i = Math.max(0, from - row.pos); i < count && row.pos + i <= to; i++) yield { pos: row.pos + i, hash: row.hashes.subarray(i * hashSize, (i + 1) * hashSize) };
    }
  }

  /** Stores the hashes of consecutive positions from `pos` (none stored yet), in rows of at most treeRowNodesMax. */
  insertRun(pos: number, hashes: Uint8Array): void {
    const count = hashes.length / hashSize;
    for (let i = 0; i < count; i += treeRowNodesMax) {
      const n = Math.min(treeRowNodesMax, count - i);
      this.insertRow(pos + i, hashes.subarray(i * hashSize, (i + n) * hashSize));
    }
  }

  /** Stores one row as it is. */
  insertRow(pos: number, bytes: Uint8Array): void {
    this.insert ??= this.db.prepare("INSERT INTO tree_hashes (pos, hashes) VALUES (?, ?)");
    this.insert.run(pos, bytes);
  }

  /** Drops the cached row (after a rolled-back transaction may have removed it). */
  forget(): void {
    this.cached = undefined;
  }
}

export class SqliteTreeStore implements TreeStore, NodeRunReader {
  private readonly rows: TreeRows;
  /** One past the highest stored position: a node at or past it is certainly absent. */
  private endPos: number;
  /** Nodes converted from the legacy `tree_nodes` table when this store opened (0: none). */
  readonly migratedNodes: number;

  constructor(private readonly db: Database) {
    this.migratedNodes = hasLegacyTreeTable(db)
      ? db.transaction(() => {
          const copied = copyLegacyTreeRows(db, db);
          db.exec("DROP TABLE tree_nodes");
          return copied;
        })()
      : 0;
    db.exec(treeHashesTable);
    this.rows = new TreeRows(db);
    this.endPos = this.rows.end();
  }

  /** Re-reads what is stored, after a transaction that wrote nodes was rolled back. */
  reload(): void {
    this.rows.forget();
    this.endPos = this.rows.end();
  }

  private hashAt(pos: number): Uint8Array | undefined {
    return pos < this.endPos ? this.rows.hashAt(pos) : undefined;
  }

  getNodes(ids: readonly NodeId[]): (Uint8Array | undefined)[] {
    return ids.map((id) => this.hashAt(postOrderPosition(id.level, id.index))?.slice());
  }

  /**
   * Hashes of nodes (level, index + i), i < count (tiles read through this). Leaves come from one
   * range of rows (about two positions per leaf: the leaves and their parents); higher levels,
   * whose nodes lie further apart, a lookup each (rows read once are kept for the next).
   */
  readRun(level: number, index: number, count: number): Uint8Array | undefined {
    if (!(Number.isInteger(count) && count >= 0 && count <= runNodesMax)) throw new RangeError(`readRun count must be 0..${runNodesMax}, got ${count}`);
    const out = new Uint8Array(count * hashSize);
    if (count === 0) return out;
    if (level === 0) {
      const first = postOrderPosition(0, index);
      const last = postOrderPosition(0, index + count - 1);
      if (last >= this.endPos) return undefined;
      let next = 0;
      this.rows.forEachIn(first, last, (pos, hash) => {
        if (next < count && pos === postOrderPosition(0, index + next)) out.set(hash, hashSize * next++);
      });
      return next === count ? out : undefined;
    }
    for (let i = 0; i < count; i++) {
      const hash = this.hashAt(postOrderPosition(level, index + i));
      if (!hash) return undefined;
      out.set(hash, i * hashSize);
    }
    return out;
  }

  /**
   * Stores every node; a node already stored with another hash throws and stores nothing of the
   * batch. An append (the nodes are exactly the positions after the last stored one) is written
   * as rows at once; anything else is checked node by node first.
   */
  putNodes(runs: readonly NodeRun[]): void {
    let count = 0;
    for (const run of runs) count += runLength(run);
    if (count === 0) return;
    const appended = this.asAppend(runs, count);
    const write = appended ? () => this.rows.insertRun(this.endPos, appended) : () => this.putScattered(runs);
    if (this.db.inTransaction) write();
    else this.db.transaction(write)();
    this.endPos = appended ? this.endPos + count : this.rows.end();
  }

  /** The nodes' hashes in position order when they are exactly the `count` positions from endPos; else undefined. */
  private asAppend(runs: readonly NodeRun[], count: number): Uint8Array | undefined {
    const out = new Uint8Array(count * hashSize);
    const filled = new Uint8Array(count);
    for (const { level, index, hashes } of runs) {
      for (let i = 0, from = 0; from < hashes.length; i++, from += hashSize) {
        const offset = postOrderPosition(level, index + i) - this.endPos;
        if (offset < 0 || offset >= count || filled[offset] === 1) return undefined;
        filled[offset] = 1;
        // Byte by byte: a subarray per node costs more than copying its 32 bytes.
        const to = offset * hashSize;
        for (let b = 0; b < hashSize; b++) out[to + b] = hashes[from + b]!;
      }
    }
    return out;
  }

  /** Nodes anywhere: each stored one compared (a conflict throws before anything is written), the absent ones written in runs. */
  private putScattered(runs: readonly NodeRun[]): void {
    const fresh = new Map<number, Uint8Array>();
    forEachNode(runs, (level, index, hash) => {
      const pos = postOrderPosition(level, index);
      const stored = this.hashAt(pos);
      if (stored && !bytesEqual(stored, hash)) throw new NodeConflictError(`node ${level}/${index} is ${toHex(stored)}; refusing to overwrite it with ${toHex(hash)}`);
      if (!stored) fresh.set(pos, hash);
    });
    const positions = [...fresh.keys()].sort((a, b) => a - b);
    for (let i = 0; i < positions.length; ) {
      let j = i + 1;
      while (j < positions.length && positions[j] === positions[j - 1]! + 1) j++;
      const hashes = new Uint8Array((j - i) * hashSize);
      for (let k = i; k < j; k++) hashes.set(fresh.get(positions[k]!)!, (k - i) * hashSize);
      assert(!this.rows.hashAt(positions[i]!), `tree_hashes: position ${positions[i]} is stored already`);
      this.rows.insertRun(positions[i]!, hashes);
      i = j;
    }
  }
}
