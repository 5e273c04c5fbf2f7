/**
 * @module raft/types. Plain data shared by the Raft core, its storage and its codec.
 * Everything here is a value: no methods, no I/O.
 */

/** Node ids are positive integers; 0 means "none" (no leader, no vote). */
export type NodeId = number;
export const NONE: NodeId = 0;

export type EntryType = "normal" | "config";

/** One log entry. `index` starts at 1; `term` at 1 (0 only for the empty log's sentinel). */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be durable before any message of the same Ready is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/**
 * The voting configuration. `index` is the log index of the config entry this membership
 * reflects (0 for the bootstrap membership); config entries at or below it are already applied.
 */
export interface Membership {
  voters: NodeId[];
  learners: NodeId[];
  index: number;
}

/** A single-server membership change, carried as the data of a "config" entry. */
export type ConfigChange =
  | { kind: "addVoter"; nodeId: NodeId }
  | { kind: "addLearner"; nodeId: NodeId }
  | { kind: "remove"; nodeId: NodeId };

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export type MessageType =
  | "vote"
  | "voteResponse"
  | "preVote"
  | "preVoteResponse"
  | "append"
  | "appendResponse"
  | "heartbeat"
  | "heartbeatResponse"
  | "catchup"
  | "timeoutNow";

/** Compacted-range descriptor carried by a "catchup" message (see docs/RAFT.md). */
export interface CatchupInfo {
  /** Last compacted index: the follower must make its state reflect every entry up to it. */
  index: number;
  /** Term of the entry at `index`. */
  term: number;
  /** Membership as of (at least) `index`. */
  membership: Membership;
}

/**
 * A Raft message. Every field is always present (zero values when unused) so the codec is a
 * fixed layout. Field use per type is documented in docs/RAFT.md.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** append: term of the entry at `index`; vote: last log term; appendResponse reject: hint term. */
  logTerm: number;
  /** append: index preceding `entries`; vote: last log index; appendResponse: match or rejected index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** appendResponse reject: the follower's hint for the next probe. */
  rejectHint: number;
  /** vote: set when campaigning because of a leadership transfer (ignores the leader lease). */
  transfer: boolean;
  /** heartbeat / heartbeatResponse: read-index round id, echoed back (0 = none). */
  readSeq: number;
  /** catchup only. */
  catchup: CatchupInfo | null;
}

/** A confirmed linearizable read: serve it once the applied index reaches `index`. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export interface SoftState {
  leader: NodeId;
  role: Role;
}

export function emptyMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    transfer: false,
    readSeq: 0,
    catchup: null,
  };
}

export function isEmptyHardState(state: HardState): boolean {
  return state.term === 0 && state.vote === 0 && state.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function copyMembership(m: Membership): Membership {
  return { voters: [...m.voters], learners: [...m.learners], index: m.index };
}

/** Approximate wire size of an entry, used for byte-bounded batches. */
export function entryBytes(entry: Entry): number {
  return entry.data.length + 24;
}
