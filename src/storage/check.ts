/**
 * @module storage/check. Offline verification of a STOPPED node's database (`scribe-node check`,
 * src/cluster/check.ts): everything the node wrote is re-derived from the bytes and compared.
 *
 *  - sqlite      PRAGMA quick_check (pages, b-trees, record formats)
 *  - entry       every `entries` row's canonical encoding hashes to its stored Merkle leaf; no hole
 *  - chain       every entry's version follows from its key's previous entry (prev_index)
 *  - value       every value still in the hot tier matches its entry (size, SHA-256); a put's value
 *                is missing only below the cold tier's evicted index; no value without a put
 *  - tree        every stored interior node is the hash of its stored children; no node is missing
 *                or lies beyond the ledger; the stored tree's root at the checkpoint's size is the
 *                signed root
 *  - checkpoint  the last signed checkpoint parses, verifies with the given key, is not beyond
 *                the ledger, and the root recomputed from the entries themselves is its root
 *  - raft        the Raft log's indexes are contiguous from the compacted point, terms never
 *                decrease, the hard state's commit (and the applied point) are not beyond the log
 *  - meta        the cold tier's indexes: evicted <= archived <= ledger size
 *
 * Read-only: without WAL frames the file is opened `immutable` (no lock, no -wal or -shm made);
 * with WAL frames (a node killed) read-only in WAL mode, which leaves the database and the WAL as
 * they are (SQLite may rebuild the -shm index, a cache of the WAL). All reads run in one read
 * transaction. Memory is bounded: entries, tree nodes and values are read in chunks or one by one.
 */

import { constants, Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { encodeEntry, entryLeafMismatch, valueMismatch, versionMismatch, type StoredEntry } from "../ledger/index.ts";
import { bytesEqual, toHex } from "../lib/index.ts";
import {
  forEachPostOrder,
  hashSize,
  parseCheckpoint,
  postOrderNode,
  postOrderNodeCount,
  postOrderPosition,
  rangeNodes,
  splitNote,
  verifyNote,
  type Checkpoint,
  type Hasher,
  type NoteVerifier,
} from "../merkle/index.ts";
import { defaultHasher } from "../crypto/index.ts";
import { CompactRange } from "./cold/hashing.ts";
import { entryColumns, rowToEntry, type EntryRow } from "./hot.ts";
import { copyLegacyTreeRows, hasLegacyTreeTable, TreeRows } from "./tree-store.ts";

export type CheckKind = "sqlite" | "entry" | "chain" | "value" | "tree" | "checkpoint" | "raft" | "meta";
export const checkKinds: readonly CheckKind[] = ["sqlite", "entry", "chain", "value", "tree", "checkpoint", "raft", "meta"];

export interface CheckProblem {
  kind: CheckKind;
  /** The ledger index (entry, chain, value, tree leaf range start) or Raft index it is about; null when none. */
  index: number | null;
  key?: string;
  message: string;
}

export interface CheckOptions {
  /** The node's SQLite database (`<data_dir>/scribe.db`). */
  databasePath: string;
  /** Verifies the last signed checkpoint's signature; absent, it is not checked (a warning says so). */
  verifier?: NoteVerifier;
  /** Problems listed per kind; more are only counted (default problemsPerKindDefault). */
  problemsPerKindMax?: number;
  /** Called after each chunk of entries with (entries checked, ledger size). */
  onProgress?: (done: number, total: number) => void;
}

export interface CheckReport {
  /** True when no problem of any kind was found. */
  clean: boolean;
  /** Entries in the ledger (highest index + 1). */
  entries: number;
  /** Values hashed, and puts whose value the cold tier evicted (not checked here). */
  values: { checked: number; evicted: number };
  /** Interior tree nodes checked. */
  treeNodes: number;
  checkpoint: { size: number; root: string; signature: "verified" | "unchecked" | "bad" } | null;
  raft: { firstIndex: number; lastIndex: number; commit: number; term: number } | null;
  counts: Record<CheckKind, number>;
  /** The first problemsPerKindMax problems of each kind, in the order found. */
  problems: CheckProblem[];
  /** What could not be checked (e.g. no verifier key). */
  warnings: string[];
}

/** The check cannot run: no database at the path, a bad argument (usage error, exit 2). */
export class CheckUsageError extends Error {
  override name = "CheckUsageError";
  /** True when the command line itself is wrong (the usage text helps). */
  constructor(
    message: string,
    readonly badArguments = false,
  ) {
    super(message);
  }
}

/** Problems listed per kind by default: enough to see a pattern, short enough to read. */
export const problemsPerKindDefault = 20;
/** Entries read per query (with their leaves): bounds memory; values are read one at a time. */
const entryChunkEntries = 1024;
/** Tables every scribe-node database has (the tree's: tree_hashes, or tree_nodes in a file written before it). */
const ledgerTables = ["entries", "vals", "meta", "tree_hashes"] as const;

/** Collects problems: the first `perKindMax` of each kind, and a count of all. */
class Problems {
  readonly counts = Object.fromEntries(checkKinds.map((k) => [k, 0])) as Record<CheckKind, number>;
  readonly list: CheckProblem[] = [];
  constructor(private readonly perKindMax: number) {}

  add(kind: CheckKind, index: number | null, message: string, key?: string): void {
    this.counts[kind] += 1;
    if (this.counts[kind] <= this.perKindMax) this.list.push({ kind, index, ...(key !== undefined ? { key } : {}), message });
  }

  get total(): number {
    return checkKinds.reduce((sum, kind) => sum + this.counts[kind], 0);
  }
}

/** A path as a SQLite URI path (every segment percent-encoded). */
function uriPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * Opens the database without writing it: `immutable` when the WAL holds no frames (nothing to
 * read there, and no file is created), else read-only in WAL mode (the WAL must be read).
 */
export function openReadOnly(path: string): Database {
  if (!existsSync(path)) throw new CheckUsageError(`no database at ${path}`);
  if (!statSync(path).isFile()) throw new CheckUsageError(`${path} is not a file`);
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) return new Database(path, { readonly: true });
  return new Database(`file:${uriPath(path)}?immutable=1`, constants.SQLITE_OPEN_READONLY | constants.SQLITE_OPEN_URI);
}

/** Verifies the node's files; never writes them. Throws CheckUsageError when there is no database. */
export async function checkDataFiles(options: CheckOptions): Promise<CheckReport> {
  const problems = new Problems(options.problemsPerKindMax ?? problemsPerKindDefault);
  const warnings: string[] = [];
  const hasher = defaultHasher()!;
  const db = openReadOnly(options.databasePath);
  const report: CheckReport = { clean: false, entries: 0, values: { checked: 0, evicted: 0 }, treeNodes: 0, checkpoint: null, raft: null, counts: problems.counts, problems: problems.list, warnings };
  try {
    if (!quickCheck(db, problems)) return finish(report, problems);
    const tables = new Set(db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name));
    if (!tables.has("entries")) throw new CheckUsageError(`${options.databasePath} is not a scribe-node database (it has no entries table)`);
    const legacy = !tables.has("tree_hashes") && hasLegacyTreeTable(db);
    const missing = ledgerTables.filter((t) => !tables.has(t) && !(t === "tree_hashes" && legacy));
    for (const table of missing) problems.add("sqlite", null, `the ${table} table is missing`);
    if (missing.length > 0) return finish(report, problems);
    db.exec("BEGIN");
    // A file written before the tree_hashes layout: its tree_nodes rows are read converted, in memory.
    const treeDb = legacy ? new Database(":memory:") : db;
    try {
      if (legacy) {
        copyLegacyTreeRows(db, treeDb);
        warnings.push("the tree is in the table layout before tree_hashes (tree_nodes): checked as converted in memory; the node converts the file when it next opens it");
      }
      const size = (db.query<{ n: number | null }, []>("SELECT MAX(idx) AS n FROM entries").get()?.n ?? -1) + 1;
      report.entries = size;
      const meta = readMeta(db);
      const checkpoint = await openCheckpoint(meta.note, size, options.verifier, problems, warnings);
      report.checkpoint = checkpoint ? { size: checkpoint.checkpoint.size, root: toHex(checkpoint.checkpoint.rootHash), signature: checkpoint.signature } : null;
      const scan = scanEntries(db, treeDb, { size, evictedIndex: meta.evictedIndex, checkpointSize: checkpoint?.checkpoint.size, hasher, problems, onProgress: options.onProgress });
      report.values = scan.values;
      if (checkpoint && scan.rootAtCheckpoint && !bytesEqual(scan.rootAtCheckpoint, checkpoint.checkpoint.rootHash)) {
        problems.add("checkpoint", null, `the root recomputed from the entries at size ${checkpoint.checkpoint.size} is ${toHex(scan.rootAtCheckpoint)}, but the signed checkpoint's is ${toHex(checkpoint.checkpoint.rootHash)}`);
      }
      checkOrphanValues(db, problems);
      report.treeNodes = checkTree(treeDb, size, hasher, problems);
      if (checkpoint) checkStoredRoot(treeDb, checkpoint.checkpoint, hasher, problems);
      report.raft = tables.has("raft_log") && tables.has("raft_state") ? checkRaft(db, size, problems) : null;
      if (!report.raft) problems.add("raft", null, "the Raft tables (raft_log, raft_state) are missing");
      checkColdProgress(meta, size, problems);
    } finally {
      db.exec("COMMIT");
      if (treeDb !== db) treeDb.close();
    }
    return finish(report, problems);
  } catch (error) {
    if (error instanceof CheckUsageError) throw error;
    // SQLite refusing to read (not a database, a malformed page) is corruption of the file itself.
    problems.add("sqlite", null, `SQLite could not read the database: ${(error as Error).message}`);
    return finish(report, problems);
  } finally {
    db.close();
  }
}

function finish(report: CheckReport, problems: Problems): CheckReport {
  report.clean = problems.total === 0;
  return report;
}

/** PRAGMA quick_check; false when the file is not readable as a database at all. */
function quickCheck(db: Database, problems: Problems): boolean {
  let rows: { quick_check: string }[];
  try {
    rows = db.query<{ quick_check: string }, []>("PRAGMA quick_check").all();
  } catch (error) {
    problems.add("sqlite", null, `SQLite cannot read the file: ${(error as Error).message}`);
    return false;
  }
  for (const row of rows) if (row.quick_check !== "ok") problems.add("sqlite", null, `quick_check: ${row.quick_check}`);
  return true;
}

interface Meta {
  note: string | undefined;
  archivedIndex: number;
  evictedIndex: number;
}

function readMeta(db: Database): Meta {
  const get = db.prepare<{ v: unknown }, [string]>("SELECT v FROM meta WHERE k = ?");
  const note = get.get("checkpoint_note")?.v;
  return {
    note: typeof note === "string" ? note : undefined,
    archivedIndex: Number(get.get("cold_archived_index")?.v ?? 0),
    evictedIndex: Number(get.get("cold_evicted_index")?.v ?? 0),
  };
}

/** The last signed checkpoint: parsed, its signature verified when a key is given, within the ledger. */
async function openCheckpoint(
  note: string | undefined,
  size: number,
  verifier: NoteVerifier | undefined,
  problems: Problems,
  warnings: string[],
): Promise<{ checkpoint: Checkpoint; signature: "verified" | "unchecked" | "bad" } | undefined> {
  if (note === undefined) {
    warnings.push("no signed checkpoint is stored (the node never served one): the tree is checked against itself only");
    return undefined;
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(splitNote(note).body);
  } catch (error) {
    problems.add("checkpoint", null, `the stored checkpoint does not parse: ${(error as Error).message}`);
    return undefined;
  }
  let signature: "verified" | "unchecked" | "bad" = "unchecked";
  if (verifier) {
    try {
      await verifyNote(note, verifier);
      signature = "verified";
    } catch (error) {
      signature = "bad";
      problems.add("checkpoint", null, `the stored checkpoint's signature does not verify with ${verifier.name}: ${(error as Error).message}`);
    }
  } else {
    warnings.push("no verifier key: the stored checkpoint's signature was not checked");
  }
  if (checkpoint.size > size) {
    problems.add("checkpoint", null, `the signed checkpoint covers ${checkpoint.size} entries, but the ledger has only ${size}`);
    return undefined;
  }
  return { checkpoint, signature };
}

interface ScanOptions {
  size: number;
  evictedIndex: number;
  checkpointSize: number | undefined;
  hasher: Hasher;
  problems: Problems;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Walks the entries in index order, a chunk at a time: each against its stored leaf, its version
 * against its key's previous entry, its value (if still hot) against it. Returns the counts and
 * the root of the leaves recomputed from the entries at the checkpoint's size.
 */
function scanEntries(db: Database, treeDb: Database, options: ScanOptions): { values: CheckReport["values"]; rootAtCheckpoint: Uint8Array | undefined } {
  const { size, problems, hasher } = options;
  const entryRange = db.prepare<EntryRow, [number, number]>(`SELECT ${entryColumns} FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx`);
  // Leaves [from, to) and the parents between them: positions postOrderPosition(0, from)..(0, to - 1).
  const tree = new TreeRows(treeDb);
  const previousOf = db.prepare<{ key: string; version: number }, [number]>("SELECT key, version FROM entries WHERE idx = ?");
  const valueOf = db.prepare<{ value: Uint8Array }, [number]>("SELECT value FROM vals WHERE idx = ?");
  const values = { checked: 0, evicted: 0 };
  const range = CompactRange.empty();
  let rootAtCheckpoint: Uint8Array | undefined = options.checkpointSize === 0 ? range.root() : undefined;
  let rootKnown = true;
  for (let from = 0; from < size; from += entryChunkEntries) {
    const to = Math.min(size, from + entryChunkEntries);
    const rows = new Map(entryRange.all(from, to).map((row) => [row.idx, row]));
    const nodes = new Map<number, Uint8Array>();
    tree.forEachIn(postOrderPosition(0, from), postOrderPosition(0, to - 1), (pos, hash) => nodes.set(pos, hash));
    for (let index = from; index < to; index++) {
      const row = rows.get(index);
      const stored = nodes.get(postOrderPosition(0, index));
      if (stored === undefined || stored.length !== hashSize) problems.add("tree", index, `the stored leaf of entry ${index} is ${stored ? `${stored.length} bytes` : "missing"}`);
      if (!row) {
        problems.add("entry", index, `the entries row of index ${index} is missing`);
        if (stored?.length === hashSize) range.append(stored);
        else rootKnown = false;
      } else {
        const entry = rowToEntry(row);
        const computed = leafOf(entry, hasher);
        range.append(computed ?? new Uint8Array(hashSize));
        if (stored?.length === hashSize && (!computed || !bytesEqual(computed, stored))) {
          problems.add("entry", index, entryLeafMismatch(entry, stored, hasher) ?? `entry ${index} does not match its leaf`, entry.key);
        }
        const previous = entry.prevIndex >= 0 ? previousOf.get(entry.prevIndex) ?? undefined : undefined;
        const chain = versionMismatch(entry, previous);
        if (chain) problems.add("chain", index, chain, entry.key);
        checkValue(entry, valueOf.get(index)?.value, options, values);
      }
      if (range.size === options.checkpointSize) rootAtCheckpoint = rootKnown ? range.root() : undefined;
    }
    options.onProgress?.(to, size);
  }
  return { values, rootAtCheckpoint };
}

/** The leaf hash of an entry, or undefined when the row is too malformed to encode. */
function leafOf(entry: StoredEntry, hasher: Hasher): Uint8Array | undefined {
  try {
    return hasher.hashLeaf(encodeEntry(entry));
  } catch {
    return undefined;
  }
}

function checkValue(entry: StoredEntry, value: Uint8Array | undefined, options: ScanOptions, counts: CheckReport["values"]): void {
  if (entry.op !== "put") return; // a value row of a delete is found by checkOrphanValues
  if (value === undefined) {
    if (entry.index < options.evictedIndex) counts.evicted += 1;
    else options.problems.add("value", entry.index, `the value of entry ${entry.index} is missing from the hot tier, which the cold tier never evicted (evicted below ${options.evictedIndex})`, entry.key);
    return;
  }
  counts.checked += 1;
  const mismatch = valueMismatch(entry, value, options.hasher);
  if (mismatch) options.problems.add("value", entry.index, mismatch, entry.key);
}

/** Value rows with no put entry at their index. */
function checkOrphanValues(db: Database, problems: Problems): void {
  const rows = db.query<{ idx: number }, []>("SELECT v.idx AS idx FROM vals v LEFT JOIN entries e ON e.idx = v.idx WHERE e.idx IS NULL OR e.op != 0 ORDER BY v.idx").iterate();
  for (const row of rows) problems.add("value", row.idx, `a value is stored at index ${row.idx}, where there is no put entry`);
}

/**
 * Every interior node of the tree of `size` leaves: present, 32 bytes, the hash of its stored
 * children; and no node beyond the tree. One pass over `tree_hashes` in position order: the nodes
 * of a tree of n leaves are exactly the post-order positions [0, 2n - popcount(n)), and each
 * parent comes right after its two children, so a stack of log n nodes holds what it needs.
 * A missing, malformed or bad node is reported at its own level, not again for its parent.
 * Returns the number of interior nodes checked.
 */
function checkTree(treeDb: Database, size: number, hasher: Hasher, problems: Problems): number {
  const tree = new TreeRows(treeDb);
  const rows = tree.hashesIn(0, Number.MAX_SAFE_INTEGER);
  let next = rows.next();
  let checked = 0;
  let position = 0;
  /** Subtrees whose parent is not complete yet: their hash (undefined when missing or malformed) and whether they are bad. */
  const stack: { hash: Uint8Array | undefined; bad: boolean }[] = [];
  forEachPostOrder(size, (level, index) => {
    while (!next.done && next.value.pos < position) next = rows.next(); // duplicates cannot exist (primary key)
    const stored = !next.done && next.value.pos === position ? next.value.hash : undefined;
    position++;
    const valid = stored?.length === hashSize ? stored : undefined;
    if (level === 0) {
      stack.push({ hash: valid, bad: false }); // leaves are checked against their entries by scanEntries
      return;
    }
    checked += 1;
    const right = stack.pop()!;
    const left = stack.pop()!;
    const where = `tree node ${level}/${index} (leaves ${index * 2 ** level}..${(index + 1) * 2 ** level - 1})`;
    let bad = false;
    if (!valid) {
      problems.add("tree", index * 2 ** level, `${where} is ${stored ? `${stored.length} bytes` : "missing"}`);
      bad = true;
    } else if (left.hash && right.hash && !left.bad && !right.bad && !bytesEqual(hasher.hashChildren(left.hash, right.hash), valid)) {
      problems.add("tree", index * 2 ** level, `${where} is not the hash of its two children`);
      bad = true;
    }
    stack.push({ hash: valid, bad });
  });
  for (const { pos } of tree.hashesIn(postOrderNodeCount(size), Number.MAX_SAFE_INTEGER)) {
    const node = postOrderNode(pos);
    problems.add("tree", node.index * 2 ** node.level, `tree node ${node.level}/${node.index} covers leaves beyond the ledger's ${size} entries`);
  }
  return checked;
}

/** The stored tree's root at the checkpoint's size (what proofs are served from) is the signed root. */
function checkStoredRoot(treeDb: Database, checkpoint: Checkpoint, hasher: Hasher, problems: Problems): void {
  if (checkpoint.size === 0) return;
  const tree = new TreeRows(treeDb);
  const nodes = rangeNodes(0, checkpoint.size).map((id) => tree.hashAt(postOrderPosition(id.level, id.index)));
  if (nodes.some((hash) => hash?.length !== hashSize)) return; // reported by checkTree / scanEntries
  let root = nodes.at(-1)!;
  for (let i = nodes.length - 2; i >= 0; i--) root = hasher.hashChildren(nodes[i]!, root);
  if (!bytesEqual(root, checkpoint.rootHash)) {
    problems.add("tree", null, `the stored tree's root at size ${checkpoint.size} is ${toHex(root)}, but the signed checkpoint's is ${toHex(checkpoint.rootHash)}`);
  }
}

/** Parses a raft_state JSON value; undefined when absent, a problem when malformed. */
function raftState<T>(db: Database, name: string, problems: Problems): T | undefined {
  const row = db.query<{ v: string }, [string]>("SELECT v FROM raft_state WHERE k = ?").get(name);
  if (!row) return undefined;
  try {
    return JSON.parse(row.v) as T;
  } catch {
    problems.add("raft", null, `raft_state ${name} is not JSON: ${JSON.stringify(String(row.v).slice(0, 80))}`);
    return undefined;
  }
}

/**
 * The Raft log's structure: indexes contiguous from the compacted point, terms never decreasing,
 * the hard state's commit and term and the applied point consistent with the log and the ledger.
 */
function checkRaft(db: Database, ledgerSize: number, problems: Problems): CheckReport["raft"] {
  const compacted = raftState<{ index: number; term: number }>(db, "compacted", problems) ?? { index: 0, term: 0 };
  const hard = raftState<{ term: number; vote: number; commit: number }>(db, "hard_state", problems) ?? { term: 0, vote: 0, commit: 0 };
  const applied = raftState<{ raftIndex: number; ledgerSize: number }>(db, "applied", problems) ?? { raftIndex: 0, ledgerSize: 0 };
  let expected = compacted.index + 1;
  let lastTerm = compacted.term;
  for (const row of db.query<{ idx: number; term: number }, []>("SELECT idx, term FROM raft_log ORDER BY idx").iterate()) {
    if (row.idx < expected) problems.add("raft", row.idx, `Raft log entry ${row.idx} is at or below the compacted index ${compacted.index}`);
    else if (row.idx > expected) problems.add("raft", expected, row.idx - expected === 1 ? `Raft log entry ${expected} is missing (a hole before ${row.idx})` : `Raft log entries ${expected}..${row.idx - 1} are missing (a hole before ${row.idx})`);
    if (row.term < lastTerm) problems.add("raft", row.idx, `Raft log entry ${row.idx} has term ${row.term}, below the previous entry's ${lastTerm}`);
    lastTerm = Math.max(lastTerm, row.term);
    expected = Math.max(expected, row.idx + 1);
  }
  const lastIndex = expected - 1;
  if (hard.commit > lastIndex) problems.add("raft", hard.commit, `the hard state's commit index ${hard.commit} is beyond the log's last index ${lastIndex}`);
  if (hard.term < lastTerm) problems.add("raft", lastIndex, `the hard state's term ${hard.term} is below the last log entry's term ${lastTerm}`);
  if (applied.raftIndex > lastIndex) problems.add("raft", applied.raftIndex, `the applied index ${applied.raftIndex} is beyond the log's last index ${lastIndex}`);
  if (applied.ledgerSize > ledgerSize) problems.add("raft", applied.raftIndex, `the applied point records a ledger of ${applied.ledgerSize} entries, but it has ${ledgerSize}`);
  let previousSize = 0;
  for (const row of db.query<{ raft_index: number; ledger_size: number }, []>("SELECT raft_index, ledger_size FROM raft_applied ORDER BY raft_index").iterate()) {
    if (row.ledger_size < previousSize || row.ledger_size > ledgerSize) problems.add("raft", row.raft_index, `applied point ${row.raft_index} records a ledger of ${row.ledger_size} entries (previous ${previousSize}, ledger ${ledgerSize})`);
    previousSize = Math.max(previousSize, row.ledger_size);
  }
  return { firstIndex: compacted.index + 1, lastIndex, commit: hard.commit, term: hard.term };
}

function checkColdProgress(meta: Meta, size: number, problems: Problems): void {
  if (meta.evictedIndex > meta.archivedIndex || meta.archivedIndex > size) {
    problems.add("meta", null, `the cold tier's indexes are inconsistent: evicted below ${meta.evictedIndex}, archived below ${meta.archivedIndex}, ledger size ${size}`);
  }
}
