/**
 * @module ledger-reads. The reads of the ledger (ledger-state.ts), checked on the way out, and the
 * caches they go through, both filled by reads. Key heads (key → latest index/version/op) are
 * cached when read and updated as applied (`applied`, called only after the transaction that
 * wrote them commits); values are cached by ledger index when first read, and never change.
 * Neither cache can be stale.
 *
 * Bytes are checked on the way out (src/ledger/check.ts): a value read from SQLite or fetched from
 * the cold tier is served and cached only after its entry matched its Merkle leaf (and its key's
 * previous version) and the value matched the entry's size and SHA-256. The value cache holds the
 * checked entry with its value, so a cached read hashes nothing and reads no row. A mismatch is
 * never served: it is a `corrupt_value` / `corrupt_entry` error, a counter and an alarm
 * (corruption.ts).
 */

import type { Config } from "../config/index.ts";
import { entryLeafMismatch, valueMismatch, versionMismatch, type AppliedOp, type KeyHead, type ReadResult, type StoredEntry } from "../ledger/index.ts";
import { bytesEqual, isScribeError, ScribeError } from "../lib/index.ts";
import type { Hasher } from "../merkle/index.ts";
import { IndexSlots, LruCache, type HotStore, type SqliteTreeStore } from "../storage/index.ts";
import type { CorruptionAlarms, CorruptTier } from "./corruption.ts";

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

/** Bytes a cached value costs beyond its value: the entry object, key and content type. */
const cachedEntryBytes = 160;

export interface LedgerReadsOptions {
  config: Config;
  store: HotStore;
  /** Where each entry's Merkle leaf is read from (the ledger's tree store). */
  treeStore: SqliteTreeStore;
  hasher: Hasher;
  corruption: CorruptionAlarms;
}

export class LedgerReads {
  /** Consulted when a value is not in the hot tier (set by the cold tier). */
  valueFallback: ValueFallback | undefined;
  private readonly heads: LruCache<string, KeyHead>;
  private readonly values: LruCache<number, CheckedValue>;
  private readonly store: HotStore;
  private readonly treeStore: SqliteTreeStore;
  private readonly hasher: Hasher;

  constructor(private readonly options: LedgerReadsOptions) {
    this.store = options.store;
    this.treeStore = options.treeStore;
    this.hasher = options.hasher;
    // Key heads are small; weigh each as one unit so the bound is a count (api.cache_capacity).
    this.heads = new LruCache<string, KeyHead>(options.config.api.cache_capacity, () => 1);
    this.values = new LruCache<number, CheckedValue>(options.config.storage.max_cache_size, (v) => v.value.length + v.entry.key.length + cachedEntryBytes, new IndexSlots());
  }

  /**
   * After the transaction that wrote `a` committed: its key's head, if the head cache holds the
   * key (so that it is never stale). Both caches are filled by reads (`head`, which prepare's
   * lookups go through too, and `checkedRead`), not by writes: a bulk write of new keys neither
   * pays an insert and an eviction per entry in each cache nor pushes what is being read out of
   * them, nor keeps up to a million cold values on the heap for the collector to trace
   * (docs/PERFORMANCE.md section 11). The first read of a key or value written since reads its
   * row (and checks it), as any read of one not cached does.
   */
  applied(a: AppliedOp): void {
    this.heads.setIfHeld(a.entry.key, a.entry); // an entry is its key's head (index, version, op): no copy
  }

  private corrupt(kind: "value" | "entry", entry: Pick<StoredEntry, "index" | "key">, tier: CorruptTier, reason: string): ScribeError {
    return this.options.corruption.corrupt(kind, entry, tier, reason);
  }

  /** The latest head of `key`: the cache, then SQLite. */
  head(key: string): KeyHead | undefined {
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

  /**
   * The latest version of `key`: a cached value at once (no promise, errors thrown), one read from
   * disk or the cold tier asynchronously. Throws not_found / deleted.
   */
  get(key: string): ReadResult | Promise<ReadResult> {
    const head = this.head(key);
    if (!head) throw new ScribeError("not_found", `key "${key}" not found`);
    if (head.op === "delete") {
      const tombstone = this.store.entry(head.index);
      if (tombstone) this.checkEntry(tombstone);
      throw deletedError(key, head.index, head.version);
    }
    const checked = this.checkedRead(head.index);
    if (checked instanceof Promise) return checked.then((read) => this.latestOf(key, read));
    return this.latestOf(key, checked);
  }

  /** `checked`, read as the latest of `key`; corrupt_entry when its entry names another key. */
  private latestOf(key: string, checked: CheckedValue): ReadResult {
    if (checked.entry.key !== key) throw this.corrupt("entry", checked.entry, "hot", `entry ${checked.entry.index} is the latest of key ${JSON.stringify(key)} but names key ${JSON.stringify(checked.entry.key)}`);
    return checked;
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
   * The checked entry and value at `index` (a put): a cached one at once, else read and checked
   * (asynchronously: it may come from the cold tier). `read` is the entry as the caller read it
   * from disk, checked against the cached copy on a hit; absent, the entry is read here on a miss.
   */
  private checkedRead(index: number, read?: StoredEntry): CheckedValue | Promise<CheckedValue> {
    const cached = this.values.get(index);
    if (!cached) return this.readUncached(index, read);
    if (read && read !== cached.entry && !sameStoredEntry(read, cached.entry)) {
      throw this.corrupt("entry", read, "hot", `entry ${index} as read differs from the copy checked when it was first read`);
    }
    return cached;
  }

  /** checkedRead's miss: the entry (unless given) and the value from disk or the cold tier, checked, then cached. */
  private async readUncached(index: number, read: StoredEntry | undefined): Promise<CheckedValue> {
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


  /** The head and value caches for /metrics. */
  cacheMetrics(): { heads: Record<string, number>; values: Record<string, number> } {
    return {
      heads: { size: this.heads.size, hits: this.heads.hits, misses: this.heads.misses },
      values: { size: this.values.size, bytes: this.values.weight, hits: this.values.hits, misses: this.values.misses },
    };
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
