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
  applied_index: number;
  ledger_size: number;
  membership: MemberStatus[];
  /** False when the node cannot serve writes (no leader, shutting down, storage failure). */
  healthy: boolean;
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
  /** What wakes GET /watch streams when entries are applied, and bounds them. */
  readonly watchFeed: WatchFeed;
  readonly size: number;
  status(): NodeStatus;
  /** Extra numbers for /metrics (cache, storage, counters). */
  metrics(): Record<string, unknown>;
}

/** Why a watch stream ended, for /metrics. */
export type WatchEndReason = "until" | "leader_changed" | "shutting_down" | "slow_consumer" | "client_closed" | "error";

/** What the feed asks of an open GET /watch stream (src/http/watch.ts). */
export interface WatchListener {
  /** The applied size or the leader changed: look again. Must not throw. */
  changed(): void;
  /** Ends the stream with `reason` (shutdown); resolves once its final line is queued. */
  end(reason: "shutting_down"): Promise<void>;
  /** Bytes queued for the consumer and not yet taken by it. */
  bufferedBytes(): number;
}

export interface WatchLimits {
  /** api.watch_streams_max */
  streamsMax: number;
  /** api.watch_backlog_entries_max */
  backlogEntriesMax: number;
}

/**
 * What wakes GET /watch streams and bounds them; the node implements it (src/cluster/watch-feed.ts)
 * and tells it, after every turn of its Ready loop, its applied size and its leader.
 */
export interface WatchFeed {
  readonly limits: WatchLimits;
  /** The applied ledger size last reported. */
  readonly head: number;
  /** The leader last reported (0: none known). */
  readonly leader: number;
  /** Admits a stream; throws too_many_streams past the limit, shutting_down while closing. Returns its unregistration. */
  register(listener: WatchListener): () => void;
  /** A stream ended (once per stream). */
  ended(reason: WatchEndReason): void;
  /** A stream has `bytes` queued for its consumer (the high-water mark /metrics reports). */
  noteBuffered(bytes: number): void;
  /** A failure inside a stream that is not a ScribeError (a bug): logged by the node. */
  onInternalError(error: unknown): void;
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
