/**
 * @module node. One Scribe Ledger node: the write path (proposals → group commit → apply →
 * respond) and the read path (head cache → value cache → hot tier).
 *
 * Write path. Concurrent proposals queue up; one commit cycle takes everything queued (up to
 * `storage.group_commit_max_ops` operations), applies each proposal's command to the ledger state
 * machine in arrival order, writes all resulting entries and values in ONE SQLite transaction
 * (one fsync with sync = full) and only then resolves the proposals. A proposal whose
 * preconditions fail is refused without touching the others. The cycle runs on `setImmediate`,
 * so every request that arrived while the previous transaction was being fsync'd joins the next.
 *
 * This is a one-voter Raft group collapsed into one step: persist and apply share the transaction.
 * The replicated path (cluster/) puts the encoded command into the Raft log instead and applies it
 * when committed, with the same state machine and the same store.
 */

import type { Config } from "../config/index.ts";
import type { Consistency, LedgerService, NodeStatus, ReadResult, Receipt, SignedCheckpoint } from "../http/index.ts";
import { applyCommand, encodeEntry, type AppliedOp, type Command, type KeyHead, type LedgerView, type Operation } from "../ledger/index.ts";
import { ScribeError, toHex } from "../lib/index.ts";
import { defaultHasher, hashSize, MerkleTree, type Hasher } from "../merkle/index.ts";
import { HotStore, LruCache, SqliteTreeStore, type StoredEntry } from "../storage/index.ts";
import { Checkpointer, defaultSigningKeyFile, loadOrCreateSigner } from "./checkpoints.ts";
import type { Logger } from "./logger.ts";

/** Bounds of the proposal queue: past these, new writes get 503 `unavailable` (back-pressure). */
const queuedOpsMax = 1_000_000;

interface Pending {
  ops: Operation[];
  resolve: (receipts: Receipt[]) => void;
  reject: (error: Error) => void;
}

export interface NodeOptions {
  config: Config;
  logger?: Logger;
  now?: () => number;
}

/** The origin line of this node's checkpoints (security.checkpoint_origin, or one from its address). */
export function checkpointOrigin(config: Config): string {
  return config.security.checkpoint_origin || `scribe-ledger/${config.node.address}:${config.network.client_port}`;
}

export class ScribeNode implements LedgerService {
  readonly config: Config;
  readonly store: HotStore;
  readonly hasher: Hasher;
  private readonly treeStore: SqliteTreeStore;
  private merkle: MerkleTree;
  readonly checkpoints: Checkpointer;
  private readonly heads: LruCache<string, KeyHead>;
  private readonly values: LruCache<number, Uint8Array>;
  private readonly now: () => number;
  private queue: Pending[] = [];
  private queuedOps = 0;
  private scheduled = false;
  private closed = false;
  private lastTimestampMs = 0;
  readonly counters = { cycles: 0, committedOps: 0, refusedProposals: 0, failedCycles: 0 };

  private constructor(options: NodeOptions, store: HotStore, signer: Awaited<ReturnType<typeof loadOrCreateSigner>>["signer"]) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.store = store;
    this.hasher = defaultHasher()!;
    this.treeStore = new SqliteTreeStore(store.db);
    this.merkle = MerkleTree.open({ hasher: this.hasher, store: this.treeStore, size: store.nextIndex });
    this.checkpoints = new Checkpointer(() => this.merkle, store, signer, checkpointOrigin(options.config), options.logger);
    // Key heads are small; weigh each as one unit so the bound is a count (api.cache_capacity).
    this.heads = new LruCache<string, KeyHead>(options.config.api.cache_capacity, () => 1);
    this.values = new LruCache<number, Uint8Array>(options.config.storage.max_cache_size, (v) => v.length + 64);
  }

  /** Opens the node's database in `node.data_dir` and its checkpoint signing key. */
  static async open(options: NodeOptions): Promise<ScribeNode> {
    const { config } = options;
    const store = HotStore.open(`${config.node.data_dir}/scribe.db`, { sync: config.storage.sync });
    try {
      const keyFile = config.security.signing_key_file || defaultSigningKeyFile(config.node.data_dir);
      const { signer, created } = await loadOrCreateSigner(keyFile, checkpointOrigin(config));
      if (created) options.logger?.info({ key_file: keyFile }, "generated a checkpoint signing key");
      return new ScribeNode(options, store, signer);
    } catch (error) {
      store.close();
      throw error;
    }
  }

  /** The Merkle tree over every entry. */
  get tree(): MerkleTree {
    return this.merkle;
  }

  // ---- write path -------------------------------------------------------------------------

  /** Proposes one atomic batch of operations; resolves with one receipt per op once durable. */
  propose(ops: Operation[]): Promise<Receipt[]> {
    if (this.closed) return Promise.reject(new ScribeError("shutting_down", "the node is shutting down"));
    if (this.queuedOps + ops.length > queuedOpsMax) {
      return Promise.reject(new ScribeError("unavailable", `write queue is full (${this.queuedOps} operations waiting); retry later`));
    }
    return new Promise<Receipt[]>((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      this.queuedOps += ops.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.cycle());
  }

  /** One group-commit cycle: apply queued proposals, write them in one transaction, respond. */
  private cycle(): void {
    this.scheduled = false;
    const taken = this.takeBatch();
    if (taken.length === 0) return;
    const timestampMs = Math.max(this.now(), this.lastTimestampMs);
    const overlay = new Map<string, KeyHead>();
    const view: LedgerView = { nextIndex: this.store.nextIndex, head: (key) => overlay.get(key) ?? this.head(key) };
    const accepted: { pending: Pending; applied: AppliedOp[]; wasLive: boolean[] }[] = [];
    let nextIndex = this.store.nextIndex;
    for (const pending of taken) {
      const command: Command = { timestampMs, ops: pending.ops };
      const result = applyCommand(command, { nextIndex, head: view.head });
      if (!result.ok) {
        this.counters.refusedProposals++;
        pending.reject(new ScribeError(result.code, result.message, { key: result.key, op_index: result.opIndex }));
        continue;
      }
      const wasLive = result.applied.map((a) => view.head(a.entry.key)?.op === "put");
      for (const a of result.applied) overlay.set(a.entry.key, { index: a.entry.index, version: a.version, op: a.entry.op });
      nextIndex += result.applied.length;
      accepted.push({ pending, applied: result.applied, wasLive });
    }
    if (accepted.length === 0) return this.afterCycle();
    const all = accepted.flatMap((a) => a.applied);
    const leafHashes = this.hasher.hashLeaves(all.map((a) => encodeEntry(a.entry)));
    try {
      this.store.transaction(() => {
        this.store.append(all, accepted.flatMap((a) => a.wasLive));
        this.merkle.appendLeafHashes(leafHashes);
      });
    } catch (error) {
      this.counters.failedCycles++;
      this.store.reloadCounters();
      this.merkle = MerkleTree.open({ hasher: this.hasher, store: this.treeStore, size: this.store.nextIndex });
      const failure = new ScribeError("unavailable", `storage write failed: ${(error as Error).message}`);
      for (const a of accepted) a.pending.reject(failure);
      return this.afterCycle();
    }
    this.lastTimestampMs = timestampMs;
    this.counters.cycles++;
    this.counters.committedOps += all.length;
    const treeSize = this.store.nextIndex;
    let hashAt = 0;
    for (const { pending, applied } of accepted) {
      const receipts = applied.map((a) => {
        this.heads.set(a.entry.key, { index: a.entry.index, version: a.version, op: a.entry.op });
        if (a.entry.op === "put") this.values.set(a.entry.index, a.value);
        return {
          key: a.entry.key,
          op: a.entry.op,
          index: a.entry.index,
          version: a.version,
          leaf_hash: toHex(leafHashes.subarray(hashAt * hashSize, ++hashAt * hashSize)),
          tree_size: treeSize,
          timestamp_ms: a.entry.timestampMs,
        };
      });
      pending.resolve(receipts);
    }
    this.afterCycle();
  }

  private takeBatch(): Pending[] {
    const limit = this.config.storage.group_commit_max_ops;
    let ops = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || ops + this.queue[count]!.ops.length <= limit)) {
      ops += this.queue[count]!.ops.length;
      count++;
    }
    const taken = this.queue.splice(0, count);
    this.queuedOps -= ops;
    return taken;
  }

  private afterCycle(): void {
    if (this.queue.length > 0) this.schedule();
  }

  // ---- read path --------------------------------------------------------------------------

  private head(key: string): KeyHead | undefined {
    const cached = this.heads.get(key);
    if (cached) return cached;
    const head = this.store.head(key);
    if (head) this.heads.set(key, head);
    return head;
  }

  /** The value stored at a ledger index (cache, then hot tier). */
  valueAt(entry: StoredEntry): Uint8Array {
    if (entry.op === "delete") return new Uint8Array(0);
    const cached = this.values.get(entry.index);
    if (cached) return cached;
    const value = this.store.value(entry.index);
    if (value === undefined) throw new ScribeError("unavailable", `value of index ${entry.index} is not in the hot tier`);
    this.values.set(entry.index, value);
    return value;
  }

  /** The latest version of `key`. Throws not_found / deleted. */
  get(key: string): ReadResult {
    const head = this.head(key);
    if (!head) throw new ScribeError("not_found", `key "${key}" not found`);
    if (head.op === "delete") throw new ScribeError("deleted", `key "${key}" was deleted at index ${head.index} (version ${head.version})`, { index: head.index, version: head.version });
    const entry = this.store.entry(head.index)!;
    return { entry, value: this.valueAt(entry) };
  }

  /** Version `version` (1-based) of `key`. */
  getVersion(key: string, version: number): ReadResult {
    const entry = this.store.byVersion(key, version);
    if (!entry) {
      const head = this.head(key);
      if (!head) throw new ScribeError("not_found", `key "${key}" not found`);
      throw new ScribeError("version_not_found", `key "${key}" has ${head.version} version(s); version ${version} does not exist`);
    }
    return this.readable(entry);
  }

  /** `key` as it was when the ledger's last index was `index`. */
  getAt(key: string, index: number): ReadResult {
    const size = this.store.nextIndex;
    if (index >= size) throw new ScribeError("invalid_index", `at=${index} is beyond the ledger (its last index is ${size - 1})`);
    const entry = this.store.at(key, index);
    if (!entry) throw new ScribeError("not_found", `key "${key}" did not exist at index ${index}`);
    return this.readable(entry);
  }

  private readable(entry: StoredEntry): ReadResult {
    if (entry.op === "delete") {
      throw new ScribeError("deleted", `key "${entry.key}" was deleted at index ${entry.index} (version ${entry.version})`, { index: entry.index, version: entry.version });
    }
    return { entry, value: this.valueAt(entry) };
  }

  /** Versions of `key` from `fromVersion`, at most `limit`. Throws not_found for unknown keys. */
  history(key: string, fromVersion = 1, limit = 1000): StoredEntry[] {
    const versions = this.store.history(key, fromVersion, limit);
    if (versions.length === 0 && !this.head(key)) throw new ScribeError("not_found", `key "${key}" not found`);
    return versions;
  }

  entries(from: number, limit: number): StoredEntry[] {
    return this.store.entries(from, limit);
  }

  get nodeId(): number {
    return this.config.node.id;
  }

  /** A single node applies before it acknowledges, so every read is already linearizable. */
  readBarrier(_consistency: Consistency): Promise<void> {
    if (this.closed) return Promise.reject(new ScribeError("shutting_down", "the node is shutting down"));
    return Promise.resolve();
  }

  status(): NodeStatus {
    const size = this.store.nextIndex;
    const { id, address } = this.config.node;
    const { client_port, raft_port } = this.config.network;
    return {
      node_id: id,
      role: "single",
      term: 1,
      leader_id: id,
      commit_index: size - 1,
      applied_index: size - 1,
      ledger_size: size,
      membership: [{ id, address: `${address}:${raft_port}`, client: `${address}:${client_port}`, role: "voter" }],
      healthy: !this.closed,
    };
  }

  metrics(): Record<string, unknown> {
    return { storage: this.store.getStats(), cache: this.cacheStats(), write_path: { ...this.counters, queued_ops: this.queuedOps } };
  }

  checkpoint(): Promise<SignedCheckpoint> {
    return this.checkpoints.latest();
  }

  get verifierKey(): string {
    return this.checkpoints.verifierKey;
  }

  /** The entry `key` had at `version` (the latest when undefined), tombstones included. */
  entryOf(key: string, version?: number): StoredEntry {
    const entry = version === undefined ? this.store.latest(key) : this.store.byVersion(key, version);
    if (entry) return entry;
    if (version !== undefined && this.head(key)) throw new ScribeError("version_not_found", `key "${key}" has no version ${version}`);
    throw new ScribeError("not_found", `key "${key}" not found`);
  }

  /** The number of entries in the ledger (= the Merkle tree size). */
  get size(): number {
    return this.store.nextIndex;
  }

  cacheStats(): { heads: { size: number; hits: number; misses: number }; values: { size: number; bytes: number; hits: number; misses: number } } {
    return {
      heads: { size: this.heads.size, hits: this.heads.hits, misses: this.heads.misses },
      values: { size: this.values.size, bytes: this.values.weight, hits: this.values.hits, misses: this.values.misses },
    };
  }

  /** Finishes queued writes, then closes the database. Later proposals fail with shutting_down. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    while (this.queue.length > 0) this.cycle();
    this.store.close();
  }
}
