/**
 * @module embedded. Scribe Ledger as a library: the same engine the server runs, without HTTP.
 *
 *   const ledger = await ScribeLedger.open("./data");
 *   const receipt = await ledger.put("hello", "Hello, Hyra!");
 *   const value = (await ledger.get("hello"))?.text();
 *   await ledger.close();
 */

import { loadConfig, type Config } from "./config/index.ts";
import { ClusterNode, createLogger, replayEntries } from "./cluster/index.ts";
import { defaultHasher } from "./crypto/index.ts";
import { idempotencyKeyProblem, putOperation, validateContentType, validateKey, type Entry, type Operation, type Receipt, type StoredEntry } from "./ledger/index.ts";
import { isScribeError, ScribeError, toHex, utf8 } from "./lib/index.ts";

export interface PutOptions {
  contentType?: string;
  /** Only if the key's current version is this (0: the key must not exist). */
  ifMatch?: number;
  /** Only if the key does not exist (or is deleted). */
  ifNoneMatch?: boolean;
  /** Makes a retry of this write safe: within the window, the same key and request answer the first receipt and append nothing. */
  idempotencyKey?: string;
}

export interface GetOptions {
  /** Read this version (1-based) instead of the latest. */
  version?: number;
  /** Read the key as it was when the ledger's last index was `at`. */
  at?: number;
}

export type BatchOp =
  | ({ op: "put"; key: string; value: string | Uint8Array } & PutOptions)
  | { op: "delete"; key: string; ifMatch?: number };

/** A value read from the ledger with its entry. */
export class LedgerValue {
  constructor(
    readonly bytes: Uint8Array,
    readonly entry: StoredEntry,
  ) {}
  text(): string {
    return new TextDecoder().decode(this.bytes);
  }
  get version(): number {
    return this.entry.version;
  }
  get index(): number {
    return this.entry.index;
  }
}

/** An entry taken from another Scribe ledger (ScribeLedger.importEntries). */
export interface ImportRecord {
  entry: Entry;
  /** The value of a put (empty for a delete). */
  value: Uint8Array;
  /** The leaf hash the source's tree holds for the entry; re-applying it must give the same. */
  leafHash?: Uint8Array;
}

/** A checkpoint of this ledger, signed with its own key. */
export interface LedgerCheckpoint {
  note: string;
  origin: string;
  size: number;
  rootHash: Uint8Array;
}

export interface OpenOptions {
  /** Configuration overrides by dotted name, e.g. { "storage.max_value_size": 1024 }. */
  overrides?: Record<string, unknown>;
  /**
   * Called once if the engine fails (a storage error, a broken invariant). The ledger then
   * refuses writes and linearizable reads with an `unavailable` ScribeError naming the cause;
   * close it and open it again to resume from what is durable. The process is never exited.
   */
  onFatal?: (error: unknown) => void;
}

export class ScribeLedger {
  private constructor(
    private readonly node: ClusterNode,
    readonly config: Config,
  ) {}

  /** Opens (creating if needed) a ledger whose data lives in `dir`. */
  static async open(dir: string, options: OpenOptions = {}): Promise<ScribeLedger> {
    const config = loadConfig({ overrides: { ...options.overrides, "node.data_dir": dir } });
    const logger = createLogger({ ...config.logging, level: "silent" });
    return new ScribeLedger(await ClusterNode.open({ config, logger, onFatal: options.onFatal }), config);
  }

  private toOperation(op: BatchOp): Operation {
    const key = validateKey(op.key);
    if (op.op === "delete") return op.ifMatch === undefined ? { op: "delete", key } : { op: "delete", key, ifMatch: op.ifMatch };
    const value = typeof op.value === "string" ? utf8(op.value) : op.value;
    const limit = this.config.storage.max_value_size;
    if (value.length > limit) throw new ScribeError("value_too_large", `the value is ${value.length} bytes; the most is ${limit}`);
    const fallback = typeof op.value === "string" ? "text/plain; charset=utf-8" : "application/octet-stream";
    return putOperation({ key, value, contentType: validateContentType(op.contentType, fallback), ifMatch: op.ifMatch, ifNoneMatch: op.ifNoneMatch }, defaultHasher()!);
  }

  /** Validated propose options for an idempotency key. */
  private writeOptions(idempotencyKey: string | undefined): { idempotencyKey?: string } {
    if (idempotencyKey === undefined) return {};
    const problem = idempotencyKeyProblem(idempotencyKey);
    if (problem !== undefined) throw new ScribeError("invalid_request", problem);
    return { idempotencyKey };
  }

  async put(key: string, value: string | Uint8Array, options: PutOptions = {}): Promise<Receipt> {
    const { idempotencyKey, ...conditions } = options;
    const result = await this.node.propose([this.toOperation({ op: "put", key, value, ...conditions })], undefined, this.writeOptions(idempotencyKey));
    return result.receipts[0]!;
  }

  async delete(key: string, options: { ifMatch?: number; idempotencyKey?: string } = {}): Promise<Receipt> {
    const result = await this.node.propose([this.toOperation({ op: "delete", key, ifMatch: options.ifMatch })], undefined, this.writeOptions(options.idempotencyKey));
    return result.receipts[0]!;
  }

  /** Appends all operations atomically at consecutive indexes. */
  async batch(ops: BatchOp[], options: { idempotencyKey?: string } = {}): Promise<Receipt[]> {
    if (ops.length === 0) throw new ScribeError("invalid_request", "the batch has no operations");
    return (await this.node.propose(ops.map((op) => this.toOperation(op)), undefined, this.writeOptions(options.idempotencyKey))).receipts;
  }

  /** The latest (or a past) value of `key`; undefined when absent or deleted. Async: a value that left the hot tier is read from S3. */
  async get(key: string, options: GetOptions = {}): Promise<LedgerValue | undefined> {
    validateKey(key);
    try {
      const result = await (options.version !== undefined
        ? this.node.getVersion(key, options.version)
        : options.at !== undefined
          ? this.node.getAt(key, options.at)
          : this.node.get(key));
      return new LedgerValue(result.value, result.entry);
    } catch (error) {
      if (isScribeError(error) && (error.code === "not_found" || error.code === "deleted" || error.code === "version_not_found")) return undefined;
      throw error;
    }
  }

  /** Every version of `key`, oldest first (empty when the key never existed). */
  history(key: string): StoredEntry[] {
    validateKey(key);
    const out: StoredEntry[] = [];
    const pageSize = 1000;
    for (;;) {
      const page = this.node.ledger.store.history(key, out.length + 1, pageSize);
      out.push(...page);
      if (page.length < pageSize) return out;
    }
  }

  /** Number of entries in the ledger. */
  get size(): number {
    return this.node.size;
  }

  /** Up to `limit` entries from index `from`, in index order. */
  entries(from: number, limit: number): StoredEntry[] {
    return this.node.entries(from, limit);
  }

  /**
   * Appends entries that came from another Scribe ledger — a mirror's range, verified against
   * the source's signed checkpoints (`scribe mirror`) — at their original indexes and with their
   * original timestamps, through the same state machine as every write (src/cluster/replay.ts):
   * the first must be at this ledger's size, every value must match its entry, and re-applying
   * each must give back the very same entry (and `leafHash`, when given). All or nothing: one
   * transaction; a record that fails throws verification_failed and nothing is kept. A ledger
   * that imports must take no writes of its own, or the next import no longer fits.
   */
  importEntries(records: readonly ImportRecord[]): void {
    if (records.length === 0) return;
    replayEntries(
      this.node.ledger,
      records.map((r) => ({ entry: r.entry, value: r.value, leafHash: r.leafHash === undefined ? undefined : toHex(r.leafHash) })),
      "import",
    );
    this.node.notifyWatchers();
  }

  /** The Merkle root of the first `size` entries (default: all of them). */
  root(size = this.node.size): Uint8Array {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.node.size) throw new ScribeError("invalid_range", `no root for size ${size}: the ledger has ${this.node.size} entries`);
    return this.node.tree.rootAt(size);
  }

  /** The compact range of the first `size` entries (one subtree hash per set bit of `size`, largest first). */
  compactRange(size = this.node.size): Uint8Array[] {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.node.size) throw new ScribeError("invalid_range", `no compact range of size ${size}: the ledger has ${this.node.size} entries`);
    return this.node.tree.compactRange(size);
  }

  /** The latest checkpoint of the whole ledger, signed with this ledger's own key (signed now if the ledger grew). */
  async checkpoint(): Promise<LedgerCheckpoint> {
    const { note, checkpoint } = await this.node.checkpoint();
    return { note, origin: checkpoint.origin, size: checkpoint.size, rootHash: checkpoint.rootHash };
  }

  /** The verifier key of this ledger's checkpoints. */
  get verifierKey(): string {
    return this.node.verifierKey;
  }

  /** Finishes queued writes and closes the database. */
  async close(): Promise<void> {
    await this.node.close();
  }
}
