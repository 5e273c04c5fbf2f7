/**
 * @module hot-archive-source. The archiver's view of this node's hot tier (the ArchiveSource of
 * storage/cold/archiver.ts): committed entries and their values by index, read a page per query,
 * each value checked against its entry before it is sealed into a segment, so S3 never gets bytes
 * the ledger did not commit. The cold tier (archival.ts) hands it to each Archiver it makes.
 */

import { ScribeError } from "../lib/index.ts";
import { valueMismatch, type Entry, type StoredEntry } from "../ledger/index.ts";
import type { HotStore } from "../storage/index.ts";
import { sha256, type ArchiveSource } from "../storage/cold/index.ts";

/** The hasher values are checked with before they are archived. */
const valueHasher = { digest: sha256 };

/** Entries read from SQLite per page while a segment is encoded (bounds memory per page). */
const sourcePageEntries = 512;

/**
 * The archiver's view of the hot tier: committed entries and their values, by index. While this
 * node is not the leader it shows no committed entries, so a pass that loses leadership midway
 * seals no further segment (another leader's archiver owns the bucket prefix now).
 */
export class HotArchiveSource implements ArchiveSource {
  /**
   * @param corrupt turns a value that fails its check into the error to throw (the ledger counts
   * it and raises the alarm); the pass fails as a value and is retried, nothing is uploaded.
   */
  constructor(
    private readonly store: HotStore,
    private readonly isLeader: () => boolean = () => true,
    private readonly corrupt: (entry: StoredEntry, reason: string) => ScribeError = (entry, reason) => new ScribeError("corrupt_value", `the stored value of entry ${entry.index} does not match its value hash: ${reason}`),
  ) {}

  nextUnarchivedIndex(): number {
    return this.store.coldProgress().archivedIndex;
  }

  committedIndexEnd(): number {
    return this.isLeader() ? this.store.nextIndex : 0;
  }

  /**
   * Entries with their values, a page of entries and values per query; each value is hashed and
   * compared with its entry first.
   */
  *readRange(from: number, toExclusive: number): Generator<{ entry: Entry; value: Uint8Array }> {
    for (let index = from; index < toExclusive; ) {
      const page = this.store.entriesWithValues(index, Math.min(sourcePageEntries, toExclusive - index));
      if (page.length === 0) throw new ScribeError("unavailable", `the hot tier has no entry at ${index}`);
      for (const { entry, value } of page) {
        if (entry.op === "delete") {
          yield { entry, value: new Uint8Array(0) };
          continue;
        }
        // Only archived ranges are evicted, and the archiver never reads one twice after recording it.
        if (value === undefined) throw new ScribeError("unavailable", `the value of index ${entry.index} is not in the hot tier`);
        // Checked before it is sealed into a segment: S3 never gets bytes the ledger did not commit.
        const mismatch = valueMismatch(entry, value, valueHasher);
        if (mismatch) throw this.corrupt(entry, mismatch);
        yield { entry, value };
      }
      index += page.length;
    }
  }

  /** Entries [from, toExclusive) without their values (for entry bundles; values may be evicted). */
  readEntries(from: number, toExclusive: number): Generator<Entry> {
    return paged(from, toExclusive, (index, limit) => this.store.entries(index, limit));
  }

  /** Each entry's variable bytes (key, content type, value) in [from, toExclusive), a page per query. */
  variableBytes(from: number, toExclusive: number): Generator<number> {
    return paged(from, toExclusive, (index, limit) => this.store.variableBytes(index, limit));
  }

  entryTimestampMs(index: number): number {
    const entry = this.store.entry(index);
    if (!entry) throw new ScribeError("unavailable", `the hot tier has no entry at ${index}`);
    return entry.timestampMs;
  }
}

/** The items of [from, toExclusive) read a page of `sourcePageEntries` per call of `read`. */
function* paged<T>(from: number, toExclusive: number, read: (index: number, limit: number) => T[]): Generator<T> {
  for (let index = from; index < toExclusive; ) {
    const page = read(index, Math.min(sourcePageEntries, toExclusive - index));
    if (page.length === 0) throw new ScribeError("unavailable", `the hot tier has no entry at ${index}`);
    yield* page;
    index += page.length;
  }
}
