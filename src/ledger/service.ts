/**
 * @module service. The service contract of a node: what the HTTP layer needs from it
 * (LedgerService, ClusterService) and the domain types both sides speak: receipts, reads, signed
 * checkpoints, status, who made a write and its audit record. cluster/ implements it, http/
 * serves it, the embedded library wraps it; so the routes never know which node serves them.
 * Types only.
 */

import type { IdempotencyRecord } from "./idempotency.ts";
import type { Checkpoint, MerkleTree } from "../merkle/index.ts";
import type { Operation } from "./command.ts";
import type { Entry } from "./entry.ts";

/** An entry as stored, with the key's version (its leaf hash lives in the Merkle tree store). */
export interface StoredEntry extends Entry {
  version: number;
}

/** A key's latest state: the index and version of its last entry, and whether that is a delete. */
export interface KeyState {
  key: string;
  index: number;
  version: number;
  deleted: boolean;
}

/** Which keys to list: those starting with `prefix`, strictly after `after`, at most `limit`. */
export interface KeyRange {
  prefix: string;
  after?: string;
  limit: number;
}

/** Who made a write, carried with it when a follower forwards it to the leader. */
export interface WriteContext {
  principal: string;
  role: string;
  client: string;
}

/** One audit record: a mutation or an admin action and how it ended. */
export interface AuditRecord {
  action: "put" | "delete" | "batch" | "node_add" | "node_remove";
  principal: string;
  role: string;
  client: string;
  /** On the leader, for a write a follower forwarded: that follower's node id. */
  forwarded_by?: number;
  key?: string;
  keys?: string[];
  index?: number;
  first_index?: number;
  last_index?: number;
  node_id?: number;
  /** True when a write's Idempotency-Key matched an earlier write: nothing was appended, its receipts were answered. */
  replayed?: boolean;
  result: "ok" | "error";
  status: number;
  code?: string;
}

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

/**
 * What a write answers: its receipts, and whether they were replayed — the write's idempotency
 * key was live with the same request, so nothing was appended and these are the original's.
 */
export interface WriteResult {
  receipts: Receipt[];
  replayed: boolean;
}

/** How a write is made. */
export interface ProposeOptions {
  /** The client's Idempotency-Key (validated): a retry with it within the window appends nothing. */
  idempotencyKey?: string;
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

/** The node's state as /health, /metrics and /cluster/* report it (built from raft/'s RaftStatus). */
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
  /** Why the node's Raft driver failed, when it did: the process must restart (GET /health answers 503). */
  failed: string | null;
  /**
   * The last time this member's ledger disagreed with a checkpoint it was asked to sign (it
   * refused): the size, when, its own root and the asked root (hex); null when never.
   */
  checkpoint_disagreement?: { size: number; at_ms: number; own_root: string | null; asked_root: string; reason: string } | null;
  /** Whether this node's data directory can take writes now (storage.min_free_bytes, SQLITE_FULL). */
  storage: StorageStatus;
}

/**
 * The data directory's state as the node last checked it. `writable` is false while its free space
 * is below storage.min_free_bytes or SQLite reported the disk full: writes are then refused with
 * 507 `insufficient_storage` (a leader) or not acknowledged (a follower), and reads keep working.
 */
export interface StorageStatus {
  /** GET /ready's `storage` check: false makes the node not ready (503). */
  writable: boolean;
  /** Why not writable (absent while writable). */
  reason?: string;
  /** Bytes free for the node on the data directory's file system at the last check (null before one). */
  free_bytes: number | null;
  /** storage.min_free_bytes. */
  min_free_bytes: number;
}

// ---- readiness (GET /ready) -------------------------------------------------------------------

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
  propose(ops: Operation[], context?: WriteContext, options?: ProposeOptions): Promise<WriteResult>;
  /**
   * Resolves when this node may serve a read at the given consistency (ReadIndex for
   * linearizable); undefined when it may serve one at once (no round and nothing to wait for).
   */
  readBarrier(consistency: Consistency): Promise<void> | undefined;
  /**
   * Reads are asynchronous where they must be: a value that left the hot tier is fetched from the
   * cold tier. `get` answers a value in the value cache at once (a result, not a promise; its
   * errors thrown). Every read checks what it serves (see valueAt).
   */
  get(key: string): ReadResult | Promise<ReadResult>;
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
  /**
   * A checkpoint signed by a majority of the voters covering the whole tree as this node has it
   * (a cosigning round when needed, bounded); when none can be made in time, the newest one
   * served; unavailable / no_quorum when there is none at all.
   */
  checkpoint(): Promise<SignedCheckpoint>;
  /** The newest quorum checkpoint this node serves, without waiting or signing (undefined before the first). */
  latestCheckpoint(): SignedCheckpoint | undefined;
  /** A quorum checkpoint of at least `size` leaves: the served one, or one made now (bounded by a timeout). */
  checkpointCovering(size: number): Promise<SignedCheckpoint>;
  /** The verifier key of this node's own checkpoint signing key. */
  readonly verifierKey: string;
  /** The verifier keys of the current voters that registered one (GET /checkpoint/keys). */
  checkpointKeys(): string[];
  /** The cluster's origin and its keys notes, epoch 0 first (GET /checkpoint/keys/history). */
  keyHistory(): { origin: string | null; epochs: readonly string[] };
  /** What wakes GET /watch streams when entries are applied, and bounds them. */
  readonly watchFeed: WatchFeed;
  readonly size: number;
  status(): NodeStatus;
  /** Whether the node should take traffic (GET /ready), from status() and the cold tier's last known state; never waits on S3. */
  readiness(): Readiness;
  /** Extra numbers for /metrics (cache, storage, counters). */
  metrics(): Record<string, unknown>;
}

/** A member's addresses: Raft transport and HTTP client API, both host:port. */
export interface MemberAddresses {
  raft: string;
  client: string;
}

/** The outcome of one forwarded command: its receipts (replayed for a live idempotency key), or the error its proposer gets. */
export type ForwardedOutcome = { receipts: Receipt[]; replayed?: boolean } | { error: string; code: string };

/** One write a follower forwarded: its ops and its idempotency key. */
export interface ForwardedWrite {
  ops: Operation[];
  idempotencyKey?: string;
}

/** Cluster membership and the internal calls nodes make to each other. */
export interface ClusterService {
  addressBook(): Record<string, MemberAddresses>;
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
  proposeForwarded(commands: ForwardedWrite[]): Promise<ForwardedOutcome[]>;
  /** The idempotency records made by commands whose first ledger index is in [fromIndex, toIndex) (catch-up). */
  idempotencyRecords(fromIndex: number, toIndex: number): IdempotencyRecord[];
  removeNode(nodeId: number): Promise<Record<string, unknown>>;
  /**
   * POST /cluster/cosign (leader to member): `body`, a checkpoint body this member signs after
   * checking it against its own ledger → {signature}; `keys_body`, a keys note body checked
   * against its applied key set → {signature}; `latest`, the newest quorum checkpoint → {size}.
   */
  cosign(request: { body?: string; keys_body?: string; latest?: string }): Promise<Record<string, unknown>>;
  /** POST /cluster/checkpoint (follower to leader): a quorum checkpoint note of at least `size` leaves. */
  checkpointFor(size: number): Promise<string>;
  /** POST /cluster/keys (follower to leader): registers a member's verifier key after checking its proof of possession. */
  registerKey(request: { node_id: number; key: string; proof: string }): Promise<void>;
  /** GET /cluster/identity: the replicated identity (origin, member keys by node id, keys notes). */
  identity(): { origin: string | null; keys: Record<string, string>; epochs: string[] };
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
