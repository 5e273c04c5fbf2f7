/**
 * @module ledger-state. The node's replicated state machine and everything read from it: the
 * SQLite hot tier, the Merkle tree, signed checkpoints, the head and value caches. Every write
 * goes through the same state machine: the Ready loop's persist-and-apply step (node-storage.ts)
 * runs `prepare`, then `write` inside its one transaction with the Raft log, then `commit`;
 * catch-up and restore re-apply ledger ranges with `prepare` and `writeAlone` (replay.ts). The
 * ledger is the same whichever path wrote it.
 *
 * Caches: key heads (key → latest index/version/op) are updated only after the transaction that
 * wrote them commits; values are cached by ledger index and never change. Neither can be stale.
 *
 * Bytes are checked on the way out (src/ledger/check.ts): a value read from SQLite or fetched from
 * the cold tier is served and cached only after its entry matched its Merkle leaf (and its key's
 * previous version) and the value matched the entry's size and SHA-256. The value cache holds the
 * checked entry with its value, so a cached read hashes nothing and reads no row. A mismatch is
 * never served: it is a `corrupt_value` / `corrupt_entry` error, a counter in `metrics()` and an
 * error-level alarm in the log.
 */

import type { Config } from "../config/index.ts";
import { applyCommand, encodeEntry, entryLeafMismatch, valueMismatch, versionMismatch, type AppliedOp, type Command, type IdempotencyRecord, type KeyHead, type KeyRange, type KeyState, type ReadResult, type Receipt, type StoredEntry } from "../ledger/index.ts";
import { bytesEqual, isScribeError, ScribeError, toHex } from "../lib/index.ts";
import { hashSize, MerkleTree, type Hasher, type NoteSigner } from "../merkle/index.ts";
import { defaultHasher } from "../crypto/index.ts";
import { HotStore, IdempotencyStore, keyFilterStepRowsMax, LruCache, SqliteTreeStore } from "../storage/index.ts";
import { CheckpointSigner, loadOrCreateSigner } from "./checkpoints.ts";
import { checkFilePermissions, databaseFile, signingKeyFile } from "./file-permissions.ts";
import { IdempotencyOverlay, keyReusedError } from "./idempotent-apply.ts";
import type { Logger } from "./logger.ts";

/**
 * The outcome of one command in a batch: its receipts, or the refusal to hand its proposer.
 * `replayed`: the command's idempotency key was live with the same request, so nothing was
 * appended and the receipts are the original command's.
 */
export type CommandOutcome = { ok: true; receipts: Receipt[]; replayed?: boolean } | { ok: false; error: ScribeError };

/** Commands run through the state machine, not yet written (LedgerState.prepare). */
export interface PreparedBatch {
  /** One per command; accepted ones get their receipts at commit. */
  outcomes: CommandOutcome[];
  accepted: { slot: number; applied: AppliedOp[] }[];
  all: AppliedOp[];
  wasLive: boolean[];
  leafHashes: Uint8Array;
  /** The ledger size once the batch is written. */
  sizeAfter: number;
  /** Idempotency records of accepted keyed commands (written with the entries). */
  records: IdempotencyRecord[];
  /** Keyed commands whose key was live with the same request: answered from the original's entries. */
  replays: { slot: number; record: IdempotencyRecord }[];
}

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

/**
 * Where a value comes from when it is not in the hot tier: the cold tier installs one that reads
 * the entry's segment from S3 and returns the value verified against `entry.valueHash`.
 */
export type ValueFallback = (entry: StoredEntry) => Promise<Uint8Array | undefined>;

/** A value with the entry it was checked against: what the value cache holds. */
interface CheckedValue {
  entry: StoredEntry;
  value: Uint8Array;
}

/** Where corrupt bytes were found: the hot tier (SQLite) or the cold tier (S3). */
export type CorruptTier = "hot" | "cold";

/** Bytes a cached value costs beyond its value: the entry object, key and content type. */
const cachedEntryBytes = 160;

/**
 * Distinct corrupt indexes that each get an alarm log line; past this the alarms stop (the
 * counters keep counting) so a client looping on a bad key cannot flood the log.
 */
const corruptAlarmsMax = 1000;

export class LedgerState {
  readonly hasher: Hasher;
  private readonly treeStore: SqliteTreeStore;
  private merkle: MerkleTree;
  private readonly heads: LruCache<string, KeyHead>;
  private readonly values: LruCache<number, CheckedValue>;
  /** Idempotency records: the window and the log (storage/idempotency.ts). */
  readonly idempotency: IdempotencyStore;
  /** Consulted when a value is not in the hot tier (set by the cold tier). */
  valueFallback: ValueFallback | undefined;
  readonly counters = { batches: 0, appliedOps: 0, refusedCommands: 0, failedBatches: 0 };
  /** Reads refused because stored bytes did not match the ledger (scribe_ledger_corrupt_*_total). */
  readonly corruption = { values: { hot: 0, cold: 0 }, entries: 0, last: null as null | { index: number; key: string; tier: CorruptTier; code: string } };
  private readonly corruptAlarmed = new Set<string>();
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
    this.treeStore = new SqliteTreeStore(store.db);
    this.idempotency = new IdempotencyStore(store.db);
    if (this.treeStore.migratedNodes > 0) {
      logger?.info({ nodes: this.treeStore.migratedNodes }, "converted the Merkle tree table to the tree_hashes layout (docs/FORMATS.md)");
    }
    this.merkle = MerkleTree.open({ hasher: defaultHasher()!, store: this.treeStore, size: store.nextIndex });
    this.hasher = this.merkle.hasher;
    this.checkpoints = new CheckpointSigner({ tree: () => this.merkle, store, signer, legacyOrigin: legacyCheckpointOrigin(config), logger });
    // Key heads are small; weigh each as one unit so the bound is a count (api.cache_capacity).
    this.heads = new LruCache<string, KeyHead>(config.api.cache_capacity, () => 1);
    this.values = new LruCache<number, CheckedValue>(config.storage.max_cache_size, (v) => v.value.length + v.entry.key.length + cachedEntryBytes);
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
   * Runs commands through the pure state machine without writing anything: each command is
   * accepted or refused on its own (later commands see the effects of earlier accepted ones), and
   * the leaf hashes of the accepted entries are computed. Write the result with `write` inside a
   * transaction, then `commit` it (or `rollback` when the transaction failed).
   */
  prepare(commands: readonly Command[]): PreparedBatch {
    // Each key is looked up once per batch (null: known absent), then follows the batch's own ops.
    const overlay = new Map<string, KeyHead | null>();
    const head = (key: string): KeyHead | undefined => {
      let found = overlay.get(key);
      if (found === undefined) {
        found = this.head(key) ?? null;
        overlay.set(key, found);
      }
      return found ?? undefined;
    };
    const outcomes: CommandOutcome[] = [];
    const accepted: { slot: number; applied: AppliedOp[] }[] = [];
    const all: AppliedOp[] = [];
    const wasLive: boolean[] = [];
    const replays: PreparedBatch["replays"] = [];
    // Only a batch with a keyed command pays for idempotency (idempotent-apply.ts).
    const keyed = commands.some((c) => c.idempotency !== undefined) ? new IdempotencyOverlay(this.idempotency, this.hasher) : undefined;
    let nextIndex = this.store.nextIndex;
    for (const command of commands) {
      const verdict = command.idempotency ? keyed!.judge(command) : undefined;
      if (verdict && verdict.kind !== "fresh") {
        if (verdict.kind === "replay") replays.push({ slot: outcomes.length, record: verdict.record });
        outcomes.push(verdict.kind === "replay" ? { ok: true, receipts: [], replayed: true } : { ok: false, error: keyReusedError(verdict.record) });
        continue;
      }
      const result = applyCommand(command, { nextIndex, head });
      if (!result.ok) {
        this.counters.refusedCommands++;
        outcomes.push({ ok: false, error: new ScribeError(result.code, result.message, { key: result.key, op_index: result.opIndex }) });
        continue;
      }
      for (const a of result.applied) {
        wasLive.push(head(a.entry.key)?.op === "put");
        overlay.set(a.entry.key, { index: a.entry.index, version: a.version, op: a.entry.op });
        all.push(a);
      }
      if (command.idempotency) keyed!.accepted(command, nextIndex, nextIndex + result.applied.length - 1);
      nextIndex += result.applied.length;
      accepted.push({ slot: outcomes.length, applied: result.applied });
      outcomes.push({ ok: true, receipts: [] });
    }
    const leafHashes = all.length > 0 ? this.hasher.hashLeaves(all.map((a) => encodeEntry(a.entry))) : new Uint8Array(0);
    return { outcomes, accepted, all, wasLive, leafHashes, sizeAfter: nextIndex, records: keyed?.records ?? [], replays };
  }

  /** Writes a prepared batch's entries, values and tree nodes. Call inside a store transaction. */
  write(batch: PreparedBatch): void {
    if (batch.all.length === 0) return;
    this.store.append(batch.all, batch.wasLive);
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
    let leaf = 0;
    for (const { slot, applied } of batch.accepted) {
      const treeSize = applied[applied.length - 1]!.entry.index + 1;
      outcomes[slot] = {
        ok: true,
        receipts: applied.map((a) => {
          this.heads.set(a.entry.key, { index: a.entry.index, version: a.version, op: a.entry.op });
          // Applied values are the bytes just hashed into their entries: cached as checked.
          if (a.entry.op === "put") this.values.set(a.entry.index, { entry: { ...a.entry, version: a.version }, value: a.value });
          return {
            key: a.entry.key,
            op: a.entry.op,
            index: a.entry.index,
            version: a.version,
            leaf_hash: toHex(batch.leafHashes.subarray(leaf * hashSize, ++leaf * hashSize)),
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

  private head(key: string): KeyHead | undefined {
    const cached = this.heads.get(key);
    if (cached) return cached;
    const head = this.store.head(key);
    if (head) this.heads.set(key, head);
    return head;
  }

  /**
   * The value stored at an entry's index: cache, then hot tier, then the fallback (the cold tier).
   * Asynchronous only when the value has left the hot tier. `entry` is checked too: against the
   * cached copy, or (on a miss) against its Merkle leaf and its key's previous version. Throws
   * corrupt_entry / corrupt_value rather than serve bytes that fail a check.
   */
  async valueAt(entry: StoredEntry): Promise<Uint8Array> {
    if (entry.op === "delete") return new Uint8Array(0);
    return (await this.checkedRead(entry.index, entry)).value;
  }

  /** The latest version of `key`. Throws not_found / deleted. */
  async get(key: string): Promise<ReadResult> {
    const head = this.head(key);
    if (!head) throw new ScribeError("not_found", `key "${key}" not found`);
    if (head.op === "delete") {
      const tombstone = this.store.entry(head.index);
      if (tombstone) this.checkEntry(tombstone);
      throw deletedError(key, head.index, head.version);
    }
    const { entry, value } = await this.checkedRead(head.index);
    if (entry.key !== key) throw this.corrupt("entry", entry, "hot", `entry ${entry.index} is the latest of key ${JSON.stringify(key)} but names key ${JSON.stringify(entry.key)}`);
    return { entry, value };
  }

  /** Version `version` (1-based) of `key`. */
  async getVersion(key: string, version: number): Promise<ReadResult> {
    const entry = this.store.byVersion(key, version);
    if (!entry) {
      const head = this.head(key);
      if (!head) throw new ScribeError("not_found", `key "${key}" not found`);
      throw new ScribeError("version_not_found", `key "${key}" has ${head.version} version(s); version ${version} does not exist`);
    }
    return this.readable(entry);
  }

  /** `key` as it was when the ledger's last index was `index`. */
  async getAt(key: string, index: number): Promise<ReadResult> {
    const size = this.store.nextIndex;
    if (index >= size) throw new ScribeError("invalid_index", `at=${index} is beyond the ledger (its last index is ${size - 1})`);
    const entry = this.store.at(key, index);
    if (!entry) throw new ScribeError("not_found", `key "${key}" did not exist at index ${index}`);
    return this.readable(entry);
  }

  /** An entry found by key (and version or index) on disk, with its checked value; a tombstone is checked before it is reported. */
  private async readable(entry: StoredEntry): Promise<ReadResult> {
    if (entry.op === "delete") {
      this.checkEntry(entry);
      throw deletedError(entry.key, entry.index, entry.version);
    }
    return this.checkedRead(entry.index, entry);
  }

  /** Throws corrupt_entry unless `entry` matches its Merkle leaf and its key's previous version. */
  private checkEntry(entry: StoredEntry): void {
    const previous = entry.prevIndex >= 0 ? this.store.entry(entry.prevIndex) : undefined;
    const [leaf] = this.treeStore.getNodes([{ level: 0, index: entry.index }]);
    const problem = entryLeafMismatch(entry, leaf, this.hasher) ?? versionMismatch(entry, previous);
    if (problem) throw this.corrupt("entry", entry, "hot", problem);
  }

  /**
   * The checked entry and value at `index` (a put). `read` is the entry as the caller read it
   * from disk, checked against the cached copy on a hit; absent, the entry is read here on a miss.
   */
  private async checkedRead(index: number, read?: StoredEntry): Promise<CheckedValue> {
    const cached = this.values.get(index);
    if (cached) {
      if (read && read !== cached.entry && !sameStoredEntry(read, cached.entry)) {
        throw this.corrupt("entry", read, "hot", `entry ${index} as read differs from the copy checked when it was first read`);
      }
      return cached;
    }
    const entry = read ?? this.store.entry(index);
    if (!entry) throw this.corrupt("entry", { index, key: "" }, "hot", `the entries row of index ${index} is missing`);
    this.checkEntry(entry);
    if (entry.op !== "put") throw this.corrupt("entry", entry, "hot", `entry ${index} is a delete where a put was expected`);
    let tier: CorruptTier = "hot";
    let value = this.store.value(index);
    if (value === undefined) {
      if (index >= this.store.coldProgress().evictedIndex) throw this.corrupt("value", entry, "hot", `the value row of index ${index} is missing, and the cold tier never evicted it`);
      tier = "cold";
      value = await this.fetchEvicted(entry);
    }
    const valueProblem = valueMismatch(entry, value, this.hasher);
    if (valueProblem) throw this.corrupt("value", entry, tier, valueProblem);
    const checked = { entry, value };
    this.values.set(index, checked);
    return checked;
  }

  /** An evicted value from the cold tier (which checks it against `entry` too). */
  private async fetchEvicted(entry: StoredEntry): Promise<Uint8Array> {
    let value: Uint8Array | undefined;
    try {
      value = await this.valueFallback?.(entry);
    } catch (error) {
      if (isScribeError(error) && error.code === "corrupt_value") throw this.corrupt("value", entry, "cold", error.message);
      throw error;
    }
    if (value === undefined) throw new ScribeError("unavailable", `the value of index ${entry.index} is not in the hot tier and could not be fetched`);
    return value;
  }

  /**
   * Counts a corrupt read, logs its alarm (once per index and tier, up to corruptAlarmsMax) and
   * returns the error to throw: corrupt_value for a value, corrupt_entry for an entries row. Also
   * called by the cold tier when a value fails its check on the way to S3.
   */
  corrupt(kind: "value" | "entry", entry: Pick<StoredEntry, "index" | "key">, tier: CorruptTier, reason: string): ScribeError {
    const code = kind === "value" ? "corrupt_value" : "corrupt_entry";
    if (kind === "value") this.corruption.values[tier] += 1;
    else this.corruption.entries += 1;
    this.corruption.last = { index: entry.index, key: entry.key, tier, code };
    const alarm = `${code}:${tier}:${entry.index}`;
    if (!this.corruptAlarmed.has(alarm) && this.corruptAlarmed.size < corruptAlarmsMax) {
      this.corruptAlarmed.add(alarm);
      const where = tier === "hot" ? "the hot tier (SQLite)" : "the cold tier (S3)";
      this.logger?.error(
        { alarm: code, index: entry.index, key: entry.key, tier, reason },
        `ALARM ${code}: the ${kind} of index ${entry.index} (key ${JSON.stringify(entry.key)}) in ${where} does not match the ledger; refusing to serve it (${reason}). Stop the node and run scribe-node check on its data directory.` +
          (this.corruptAlarmed.size === corruptAlarmsMax ? ` Further corrupt indexes are counted in the metrics but not logged.` : ""),
      );
    }
    const what = kind === "value" ? `the stored value of entry ${entry.index} does not match its value hash` : `the stored entry ${entry.index} does not match the ledger`;
    return new ScribeError(code, `${what} (${tier} tier): ${reason}; it is not served`, { index: entry.index, tier });
  }

  /** The entry `key` had at `version` (the latest when undefined), tombstones included. */
  entryOf(key: string, version?: number): StoredEntry {
    const entry = version === undefined ? this.store.latest(key) : this.store.byVersion(key, version);
    if (entry) return entry;
    if (version !== undefined && this.head(key)) throw new ScribeError("version_not_found", `key "${key}" has no version ${version}`);
    throw new ScribeError("not_found", `key "${key}" not found`);
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

  /** Keys in UTF-8 byte order with their latest entry (see HotStore.keys). */
  keys(range: KeyRange): KeyState[] {
    return this.store.keys(range);
  }

  get verifierKey(): string {
    return this.checkpoints.verifierKey;
  }

  metrics(): Record<string, unknown> {
    return {
      storage: this.store.getStats(),
      tree_size: this.merkle.size,
      cache: {
        heads: { size: this.heads.size, hits: this.heads.hits, misses: this.heads.misses },
        key_filter: this.store.keyFilterStats(),
        values: { size: this.values.size, bytes: this.values.weight, hits: this.values.hits, misses: this.values.misses },
      },
      apply: { ...this.counters },
      idempotency: this.idempotency.stats(),
      corruption: { values: { ...this.corruption.values }, entries: this.corruption.entries, last: this.corruption.last },
      checkpoint_disagreements: this.checkpoints.disagreements,
    };
  }

  close(): void {
    this.closed = true;
    if (this.keyFilterTimer) clearTimeout(this.keyFilterTimer);
    this.store.close();
  }
}

/** True when two stored entries are field for field the same. */
function sameStoredEntry(a: StoredEntry, b: StoredEntry): boolean {
  return (
    a.index === b.index &&
    a.op === b.op &&
    a.key === b.key &&
    a.valueBytes === b.valueBytes &&
    a.contentType === b.contentType &&
    a.timestampMs === b.timestampMs &&
    a.prevIndex === b.prevIndex &&
    a.version === b.version &&
    bytesEqual(a.valueHash, b.valueHash)
  );
}

function deletedError(key: string, index: number, version: number): ScribeError {
  return new ScribeError("deleted", `key "${key}" was deleted at index ${index} (version ${version})`, { index, version });
}
