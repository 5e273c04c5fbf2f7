/**
 * @module node. The single-node write path: proposals → group commit → apply → respond, over a
 * LedgerState (which also serves every read).
 *
 * Concurrent proposals queue up; one commit cycle takes everything queued (up to
 * `storage.group_commit_max_ops` operations), applies each proposal's command in arrival order
 * and writes all of them in ONE SQLite transaction (one fsync with sync = full), and only then
 * resolves the proposals. A proposal whose preconditions fail is refused without touching the
 * others. The cycle runs on `setImmediate`, so every request that arrived while the previous
 * transaction was being fsync'd joins the next.
 */

import type { Config } from "../config/index.ts";
import type { Consistency, LedgerService, NodeStatus, ReadResult, Receipt, SignedCheckpoint } from "../http/index.ts";
import type { Operation } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { MerkleTree } from "../merkle/index.ts";
import type { StoredEntry } from "../storage/index.ts";
import { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";

/** Bound of the proposal queue: past it, new writes get 503 `unavailable` (back-pressure). */
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

export class ScribeNode implements LedgerService {
  readonly config: Config;
  readonly ledger: LedgerState;
  private readonly now: () => number;
  private queue: Pending[] = [];
  private queuedOps = 0;
  private scheduled = false;
  private closed = false;
  private lastTimestampMs = 0;

  private constructor(options: NodeOptions, ledger: LedgerState) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.ledger = ledger;
  }

  static async open(options: NodeOptions): Promise<ScribeNode> {
    return new ScribeNode(options, await LedgerState.open(options.config, options.logger));
  }

  get nodeId(): number {
    return this.config.node.id;
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
    try {
      const outcomes = this.ledger.applyBatch(taken.map((p) => ({ timestampMs, ops: p.ops })));
      this.lastTimestampMs = timestampMs;
      outcomes.forEach((outcome, i) => (outcome.ok ? taken[i]!.resolve(outcome.receipts) : taken[i]!.reject(outcome.error)));
    } catch (error) {
      const failure = new ScribeError("unavailable", `storage write failed: ${(error as Error).message}`);
      for (const pending of taken) pending.reject(failure);
    }
    if (this.queue.length > 0) this.schedule();
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

  // ---- read path: the ledger state serves every read ------------------------------------------

  /** A single node applies before it acknowledges, so every read is already linearizable. */
  readBarrier(_consistency: Consistency): Promise<void> {
    if (this.closed) return Promise.reject(new ScribeError("shutting_down", "the node is shutting down"));
    return Promise.resolve();
  }

  get(key: string): ReadResult {
    return this.ledger.get(key);
  }
  getVersion(key: string, version: number): ReadResult {
    return this.ledger.getVersion(key, version);
  }
  getAt(key: string, index: number): ReadResult {
    return this.ledger.getAt(key, index);
  }
  history(key: string, fromVersion: number, limit: number): StoredEntry[] {
    return this.ledger.history(key, fromVersion, limit);
  }
  entries(from: number, limit: number): StoredEntry[] {
    return this.ledger.entries(from, limit);
  }
  entryOf(key: string, version?: number): StoredEntry {
    return this.ledger.entryOf(key, version);
  }
  valueAt(entry: StoredEntry): Uint8Array {
    return this.ledger.valueAt(entry);
  }
  get tree(): MerkleTree {
    return this.ledger.tree;
  }
  checkpoint(): Promise<SignedCheckpoint> {
    return this.ledger.checkpoint();
  }
  get verifierKey(): string {
    return this.ledger.verifierKey;
  }
  get size(): number {
    return this.ledger.size;
  }

  status(): NodeStatus {
    const size = this.ledger.size;
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
    return { ...this.ledger.metrics(), write_path: { queued_ops: this.queuedOps } };
  }

  /** Finishes queued writes, then closes the database. Later proposals fail with shutting_down. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    while (this.queue.length > 0) this.cycle();
    this.ledger.close();
  }
}
