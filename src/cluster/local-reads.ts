/**
 * @module local-reads. What a node answers from its own durable state, with no Raft round: the
 * reads of its ledger (LedgerState, checked on the way out: ledger-reads.ts), its Merkle tree, size
 * and verifier key, and for its peers the idempotency records and recorded ledger sizes of the
 * Raft log (catch-up). The read barrier that decides whether such a read is current enough
 * (`readBarrier`, client-requests.ts) is ClusterNode's; ClusterNode extends this class.
 */

import type { IdempotencyRecord, KeyRange, KeyState, ReadResult, StoredEntry } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { MerkleTree } from "../merkle/index.ts";
import type { SqliteRaftStorage } from "../storage/index.ts";
import type { LedgerState } from "./ledger-state.ts";

export abstract class LocalReads {
  constructor(
    readonly ledger: LedgerState,
    readonly raftLog: SqliteRaftStorage,
  ) {}

  get(key: string): ReadResult | Promise<ReadResult> {
    return this.ledger.get(key);
  }
  getVersion(key: string, version: number): Promise<ReadResult> {
    return this.ledger.getVersion(key, version);
  }
  getAt(key: string, index: number): Promise<ReadResult> {
    return this.ledger.getAt(key, index);
  }
  history(key: string, fromVersion: number, limit: number): StoredEntry[] {
    return this.ledger.history(key, fromVersion, limit);
  }
  entries(from: number, limit: number): StoredEntry[] {
    return this.ledger.entries(from, limit);
  }
  keys(range: KeyRange): KeyState[] {
    return this.ledger.keys(range);
  }
  entryOf(key: string, version?: number): StoredEntry {
    return this.ledger.entryOf(key, version);
  }
  valueAt(entry: StoredEntry): Promise<Uint8Array> {
    return this.ledger.valueAt(entry);
  }
  get tree(): MerkleTree {
    return this.ledger.tree;
  }
  get verifierKey(): string {
    return this.ledger.verifierKey;
  }
  get size(): number {
    return this.ledger.size;
  }

  /** The idempotency records made for ledger indexes [fromIndex, toIndex] (catch-up's pages). */
  idempotencyRecords(fromIndex: number, toIndex: number): IdempotencyRecord[] {
    return this.ledger.idempotency.range(fromIndex, toIndex);
  }

  /** The ledger size recorded when Raft index `raftIndex` was applied (catch-up by ledger range). */
  ledgerSizeAt(raftIndex: number): number {
    const size = this.raftLog.ledgerSizeAt(raftIndex);
    if (size === undefined) throw new ScribeError("invalid_range", `no ledger size is recorded for Raft index ${raftIndex}`);
    return size;
  }
}
