/**
 * @module ledger-state. The node's replicated state machine and everything read from it: the
 * SQLite hot tier, the Merkle tree, signed checkpoints, the head and value caches (behind reads). Every write
 * goes through the same state machine: the Ready loop's persist-and-apply step (node-storage.ts)
 * runs `prepare`, then `write` inside its one transaction with the Raft log, then `commit`;
 * catch-up and restore re-apply ledger ranges with `prepare` and `writeAlone` (replay.ts). The
 * ledger is the same whichever path wrote it.
 *
 * The parts, each in its own file: prepare-batch.ts runs a batch through the pure state machine;
 * ledger-reads.ts serves the reads, checked on the way out, through the head and value caches
 * (updated by `commit` only after the transaction that wrote a batch commits: never stale);
 * corruption.ts counts and alarms stored bytes that fail their check (never served).
 */

import type { Config } from "../config/index.ts";
import { type Command, type IdempotencyRecord, type KeyRange, type KeyState, type ReadResult, type Receipt, type StoredEntry } from "../ledger/index.ts";
import { ScribeError, toHex } from "../lib/index.ts";
import { hashSize, MerkleTree, type Hasher, type NoteSigner } from "../merkle/index.ts";
import { defaultHasher } from "../crypto/index.ts";
import { HotStore, IdempotencyStore, keyFilterStepRowsMax, SqliteTreeStore } from "../storage/index.ts";
import { CheckpointSigner, loadOrCreateSigner } from "./checkpoints.ts";
import { checkFilePermissions, databaseFile, signingKeyFile } from "./file-permissions.ts";
import { CorruptionAlarms, type CorruptTier } from "./corruption.ts";
import { LedgerReads, type ValueFallback } from "./ledger-reads.ts";
import type { Logger } from "./logger.ts";
import { prepareBatch, type CommandOutcome, type PreparedBatch } from "./prepare-batch.ts";

/**
 * The origin this node signed under before a cluster had one identity (security.checkpoint_origin,
 * or one from its address); its checkpoints now carry the cluster's origin (identity.ts), and a
 * last signature under this one carries over to it once (checkpoints.ts).
 */
export function legacyCheckpointOrigin(config: Config): string {
  return config.security.checkpoint_origin || memberKeyName(config);
}

/** The name of a member's new signing key: unique in its cluster (its client address). */
export function memberKeyName(config: Config): string {
  return `scribe-ledger/${config.node.address}:${config.network.client_port}`;
}

export class LedgerState {
  readonly hasher: Hasher;
  private readonly treeStore: SqliteTreeStore;
  private merkle: MerkleTree;
  /** The reads, checked on the way out, and their head and value caches (ledger-reads.ts). */
  private readonly reads: LedgerReads;
  /** Idempotency records: the window and the log (storage/idempotency.ts). */
  readonly idempotency: IdempotencyStore;
  readonly counters = { batches: 0, appliedOps: 0, refusedCommands: 0, failedBatches: 0 };
  /** Reads refused because stored bytes did not match the ledger, and their alarms (corruption.ts). */
  private readonly corruption: CorruptionAlarms;
  /** The next step of the key filter's scan of a large ledger (HotStore.buildKeyFilter), if due. */
  private keyFilterTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  /** This member's checkpoint signature and its guard (the cluster's rounds are cosigning.ts). */
  readonly checkpoints: CheckpointSigner;

  private constructor(
    readonly config: Config,
    readonly store: HotStore,
    signer: NoteSigner,
    private readonly logger: Logger | undefined,
  ) {
    this.corruption = new CorruptionAlarms(logger);
    this.treeStore = new SqliteTreeStore(store.db);
    this.idempotency = new IdempotencyStore(store.db);
    if (this.treeStore.migratedNodes > 0) {
      logger?.info({ nodes: this.treeStore.migratedNodes }, "converted the Merkle tree table to the tree_hashes layout (docs/FORMATS.md)");
    }
    this.merkle = MerkleTree.open({ hasher: defaultHasher()!, store: this.treeStore, size: store.nextIndex });
    this.hasher = this.merkle.hasher;
    this.checkpoints = new CheckpointSigner({ tree: () => this.merkle, store, signer, legacyOrigin: legacyCheckpointOrigin(config), logger });
    this.reads = new LedgerReads({ config, store, treeStore: this.treeStore, hasher: this.hasher, corruption: this.corruption });
    this.continueKeyFilter();
  }

  /**
   * A ledger too large for the key filter to read while opening is read in steps, one per turn
   * of the event loop (each about 0.1 s), while the node serves; new keys cost a SQLite read
   * until the scan is done.
   */
  private continueKeyFilter(): void {
    if (this.closed || this.store.keyFilterStats().complete) return;
    this.keyFilterTimer = setTimeout(() => {
      this.keyFilterTimer = undefined;
      if (this.closed) return;
      if (this.store.buildKeyFilter(keyFilterStepRowsMax)) this.logger?.debug(this.store.keyFilterStats(), "key filter complete");
      else this.continueKeyFilter();
    }, 0);
  }

  /**
   * Opens the database in `node.data_dir` and the checkpoint signing key (generated if absent),
   * after checking that neither is accessible by group or others (cluster/file-permissions.ts).
   */
  static async open(config: Config, logger?: Logger): Promise<LedgerState> {
    checkFilePermissions(config, logger);
    const store = HotStore.open(databaseFile(config.node.data_dir), { sync: config.storage.sync });
    try {
      const keyFile = signingKeyFile(config);
      const { signer, created } = await loadOrCreateSigner(keyFile, memberKeyName(config));
      if (created) logger?.info({ key_file: keyFile }, "generated a checkpoint signing key");
      return new LedgerState(config, store, signer, logger);
    } catch (error) {
      store.close();
      throw error;
    }
  }

  // ---- apply ------------------------------------------------------------------------------

  /**
   * Runs commands through the pure state machine without writing anything (prepare-batch.ts):
   * each command is accepted or refused on its own (later commands see the effects of earlier
   * accepted ones), and the leaf hashes of the accepted entries are computed. Write the result
   * with `write` inside a transaction, then `commit` it (or `rollback` when the transaction failed).
   */
  prepare(commands: readonly Command[]): PreparedBatch {
    return prepareBatch(commands, { nextIndex: this.store.nextIndex, head: (key) => this.reads.head(key), idempotency: this.idempotency, hasher: this.hasher, counters: this.counters });
  }

  /** Writes a prepared batch's entries, values and tree nodes. Call inside a store transaction. */
  write(batch: PreparedBatch): void {
    if (batch.all.length === 0) return;
    this.store.append(batch.all);
    this.merkle.appendLeafHashes(batch.leafHashes);
    if (batch.records.length > 0) this.idempotency.append(batch.records);
  }

  /**
   * After the transaction that wrote `batch` committed: updates the caches, returns one outcome
   * per command. A receipt's tree_size is the ledger size right after its own command, so the
   * receipts of a command are the same on every replica and when replayed for its idempotency key.
   */
  commit(batch: PreparedBatch): CommandOutcome[] {
    this.counters.batches++;
    this.counters.appliedOps += batch.all.length;
    const outcomes = batch.outcomes;
    // One hex string for the batch's leaves; each receipt takes its 64 characters.
    const leavesHex = batch.all.length > 0 ? toHex(batch.leafHashes) : "";
    const hexChars = 2 * hashSize;
    let leaf = 0;
    for (const { slot, applied } of batch.accepted) {
      const treeSize = applied[applied.length - 1]!.entry.index + 1;
      outcomes[slot] = {
        ok: true,
        receipts: applied.map((a) => {
          this.reads.applied(a);
          return {
            key: a.entry.key,
            op: a.entry.op,
            index: a.entry.index,
            version: a.entry.version,
            leaf_hash: leavesHex.slice(leaf * hexChars, ++leaf * hexChars),
            tree_size: treeSize,
            timestamp_ms: a.entry.timestampMs,
          };
        }),
      };
    }
    for (const { slot, record } of batch.replays) outcomes[slot] = { ok: true, receipts: this.receiptsOf(record), replayed: true };
    return outcomes;
  }

  /** The receipts of the command that made `record`, rebuilt from its entries and leaves. */
  private receiptsOf(record: IdempotencyRecord): Receipt[] {
    const count = record.lastIndex - record.firstIndex + 1;
    const entries = this.store.entries(record.firstIndex, count);
    if (entries.length !== count || entries[0]!.index !== record.firstIndex) {
      throw new ScribeError("internal", `the entries ${record.firstIndex}..${record.lastIndex} of idempotency key ${JSON.stringify(record.key)} are not all in the ledger`);
    }
    return entries.map((entry) => ({
      key: entry.key,
      op: entry.op,
      index: entry.index,
      version: entry.version,
      leaf_hash: toHex(this.merkle.leafHash(entry.index)),
      tree_size: record.lastIndex + 1,
      timestamp_ms: entry.timestampMs,
    }));
  }

  /** After the transaction that wrote a batch failed: nothing of it was kept; reload what was cached. */
  rollback(): void {
    this.counters.failedBatches++;
    this.store.reloadCounters();
    this.idempotency.reload();
    this.treeStore.reload();
    this.merkle = MerkleTree.open({ hasher: this.hasher, store: this.treeStore, size: this.store.nextIndex });
  }

  /**
   * Writes a prepared batch in ONE transaction of its own and commits it (catch-up and restore
   * re-apply ledger ranges this way, replay.ts), with the idempotency `records` another node made
   * for the same range (catch-up; `source` names it). If the transaction fails, nothing of it is
   * kept and the error is thrown.
   */
  writeAlone(batch: PreparedBatch, records: readonly IdempotencyRecord[] = [], source?: string): CommandOutcome[] {
    try {
      this.store.transaction(() => {
        this.write(batch);
        this.idempotency.append(records, source);
      });
    } catch (error) {
      this.rollback();
      throw error;
    }
    return this.commit(batch);
  }

  // ---- reads ------------------------------------------------------------------------------

  /** The Merkle tree over every entry. */
  get tree(): MerkleTree {
    return this.merkle;
  }

  /** The number of entries in the ledger (= the Merkle tree size). */
  get size(): number {
    return this.store.nextIndex;
  }

  /** Consulted when a value is not in the hot tier (set by the cold tier). */
  get valueFallback(): ValueFallback | undefined {
    return this.reads.valueFallback;
  }
  set valueFallback(fallback: ValueFallback | undefined) {
    this.reads.valueFallback = fallback;
  }

  /**
   * The value stored at an entry's index: cache, then hot tier, then the fallback (the cold tier).
   * Asynchronous only when the value has left the hot tier. `entry` is checked too: against the
   * cached copy, or (on a miss) against its Merkle leaf and its key's previous version. Throws
   * corrupt_entry / corrupt_value rather than serve bytes that fail a check.
   */
  valueAt(entry: StoredEntry): Promise<Uint8Array> {
    return this.reads.valueAt(entry);
  }

  /** The latest version of `key`; a cached value at once. Throws not_found / deleted. */
  get(key: string): ReadResult | Promise<ReadResult> {
    return this.reads.get(key);
  }

  /** Version `version` (1-based) of `key`. */
  getVersion(key: string, version: number): Promise<ReadResult> {
    return this.reads.getVersion(key, version);
  }

  /** `key` as it was when the ledger's last index was `index`. */
  getAt(key: string, index: number): Promise<ReadResult> {
    return this.reads.getAt(key, index);
  }

  /** The entry `key` had at `version` (the latest when undefined), tombstones included. */
  entryOf(key: string, version?: number): StoredEntry {
    return this.reads.entryOf(key, version);
  }

  /** Versions of `key` from `fromVersion`, at most `limit`. Throws not_found for unknown keys. */
  history(key: string, fromVersion = 1, limit = 1000): StoredEntry[] {
    return this.reads.history(key, fromVersion, limit);
  }


  /**
   * Counts a corrupt read, logs its alarm and returns the error to throw (corruption.ts). Also
   * called by the cold tier when a value fails its check on the way to S3.
   */
  corrupt(kind: "value" | "entry", entry: Pick<StoredEntry, "index" | "key">, tier: CorruptTier, reason: string): ScribeError {
    return this.corruption.corrupt(kind, entry, tier, reason);
  }

  entries(from: number, limit: number): StoredEntry[] {
    return this.store.entries(from, limit);
  }

  /** Keys in UTF-8 byte order with their latest entry (see HotStore.keys). */
  keys(range: KeyRange): KeyState[] {
    return this.store.keys(range);
  }

  get verifierKey(): string {
    return this.checkpoints.verifierKey;
  }

  metrics(): Record<string, unknown> {
    const caches = this.reads.cacheMetrics();
    return {
      storage: this.store.getStats(),
      tree_size: this.merkle.size,
      cache: { heads: caches.heads, key_filter: this.store.keyFilterStats(), values: caches.values },
      apply: { ...this.counters },
      idempotency: this.idempotency.stats(),
      corruption: this.corruption.metrics(),
      checkpoint_disagreements: this.checkpoints.disagreements,
    };
  }

  close(): void {
    this.closed = true;
    if (this.keyFilterTimer) clearTimeout(this.keyFilterTimer);
    this.store.close();
  }
}
