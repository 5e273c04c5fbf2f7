/**
 * @module service. What the HTTP layer needs from a node. The single-node engine and the
 * replicated cluster node both implement it, so the routes never know which one serves them.
 */

import type { Operation } from "../ledger/index.ts";
import type { Checkpoint, MerkleTree } from "../merkle/index.ts";
import type { KeyRange, KeyState, StoredEntry } from "../storage/index.ts";
import type { WriteContext } from "./security.ts";

/** A signed C2SP checkpoint note and what it says. */
export interface SignedCheckpoint {
  note: string;
  checkpoint: Checkpoint;
}

/** The JSON receipt of one committed operation. */
export interface Receipt {
  key: string;
  op: "put" | "delete";
  index: number;
  version: number;
  leaf_hash: string;
  tree_size: number;
  timestamp_ms: number;
}

export interface ReadResult {
  entry: StoredEntry;
  value: Uint8Array;
}

export type Consistency = "linearizable" | "stale";

export interface MemberStatus {
  id: number;
  address: string;
  client: string;
  role: "voter" | "learner";
  match_index?: number;
  next_index?: number;
  lag?: number;
  connected?: boolean;
}

/** The node's state as /health, /metrics and /cluster/* report it. */
export interface NodeStatus {
  node_id: number;
  role: "leader" | "follower" | "candidate" | "pre-candidate" | "learner" | "single";
  term: number;
  leader_id: number | null;
  commit_index: number;
  /** The highest commit index a leader told this node (its own commit index on the leader). */
  leader_commit_index: number;
  applied_index: number;
  ledger_size: number;
  membership: MemberStatus[];
  /** False when the node cannot serve writes (no leader, shutting down, storage failure). */
  healthy: boolean;
  /** Whether this node's storage takes writes: GET /ready's `storage` check (see StorageStatus). */
  storage_status: StorageStatus;
}

// ---- readiness (GET /ready) -------------------------------------------------------------------

/**
 * Whether the node's storage takes writes, as GET /ready's `storage` check reports it. Today
 * `writable` is false once the Raft driver failed (a failed persist or a broken invariant stops
 * it), with `code` "driver_failed". A storage that refuses writes for a reason of its own (a full
 * disk: `code` "insufficient_storage") sets `writable: false` with its code and a `reason` a human
 * can act on, and `true` again when writes resume; GET /ready turns any `false` into a 503.
 */
export interface StorageStatus {
  writable: boolean;
  /** Why not writable: a stable code (null while writable). */
  code: string | null;
  /** Why not writable, for humans (null while writable). */
  reason: string | null;
}

/** One check of GET /ready: `ok`, and the facts it was judged on. */
export type ReadinessCheck = { ok: boolean; detail?: string } & Record<string, unknown>;

/** GET /ready's answer: 200 when `ready`, else 503 with the `reasons`. */
export interface Readiness {
  ready: boolean;
  /** One sentence per failed check (empty when ready). */
  reasons: string[];
  /** Every check by name: running, leader, caught_up, storage, s3. */
  checks: Record<string, ReadinessCheck>;
}

export interface LedgerService {
  readonly nodeId: number;
  /**
   * Appends one atomic batch; resolves once every op is durable and applied. `context` says who
   * made it: a follower sends it with the write to the leader, which audits it under that caller.
   */
  propose(ops: Operation[], context?: WriteContext): Promise<Receipt[]>;
  /** Resolves when this node may serve a read at the given consistency (ReadIndex for linearizable). */
  readBarrier(consistency: Consistency): Promise<void>;
  /**
   * Reads are asynchronous: a value that left the hot tier is fetched from the cold tier. Every
   * read checks what it serves (see valueAt).
   */
  get(key: string): Promise<ReadResult>;
  getVersion(key: string, version: number): Promise<ReadResult>;
  getAt(key: string, index: number): Promise<ReadResult>;
  history(key: string, fromVersion: number, limit: number): StoredEntry[];
  entries(from: number, limit: number): StoredEntry[];
  /** Up to `range.limit` keys starting with `range.prefix`, after `range.after`, in UTF-8 byte order, with their latest entry. */
  keys(range: KeyRange): KeyState[];
  /** The entry of `key` at `version` (latest when undefined), tombstones included. */
  entryOf(key: string, version?: number): StoredEntry;
  /**
   * The value of an entry (empty for a delete), read through to the cold tier when evicted. The
   * entry and value are checked first (leaf, version, SHA-256): corrupt_value / corrupt_entry
   * instead of bytes that fail.
   */
  valueAt(entry: StoredEntry): Promise<Uint8Array>;
  /** The Merkle tree over every entry: leaf hashes, roots and proofs. */
  readonly tree: MerkleTree;
  /** The latest signed checkpoint, covering the whole tree. */
  checkpoint(): Promise<SignedCheckpoint>;
  /** The verifier key of the checkpoint signer. */
  readonly verifierKey: string;
  readonly size: number;
  status(): NodeStatus;
  /** Whether the node should take traffic (GET /ready), from status() and the cold tier's last known state; never waits on S3. */
  readiness(): Readiness;
  /** Extra numbers for /metrics (cache, storage, counters). */
  metrics(): Record<string, unknown>;
}

/** A member's addresses: Raft transport and HTTP client API, both host:port. */
export interface PeerAddresses {
  raft: string;
  client: string;
}

/** The outcome of one forwarded command: its receipts, or the error its proposer gets. */
export type ForwardedOutcome = { receipts: Receipt[] } | { error: string; code: string };

/** Cluster membership and the internal calls nodes make to each other. */
export interface ClusterService {
  addressBook(): Record<string, PeerAddresses>;
  /** Leader only: a linearizable read index (commit index confirmed by a quorum). */
  readIndex(): Promise<number>;
  /** The ledger size recorded when the Raft log was applied up to `raftIndex`. */
  ledgerSizeAt(raftIndex: number): number;
  /** `client` defaults to the Raft address's host with the leader's client port. */
  addNode(request: { node_id: number; address: string; client?: string }): Promise<Record<string, unknown>>;
  /**
   * Leader only: proposes commands forwarded by a follower, each on its own (one failing does
   * not fail the others). Refuses the whole call with not_leader before proposing anything when
   * this node is not the leader.
   */
  proposeForwarded(commands: Operation[][]): Promise<ForwardedOutcome[]>;
  removeNode(nodeId: number): Promise<Record<string, unknown>>;
}
