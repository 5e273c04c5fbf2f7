/**
 * @module ready-contracts. What the Ready loop (ready-loop.ts) drives and writes through: the Raft
 * core, the replica store behind one persist-and-apply step, and the message sender. The node
 * (cluster-node.ts: RawNode, node-storage.ts, the transport) and the seeded simulator
 * (test/raft/sim) implement them.
 */

import type { CatchupInstall, Entry, HardState, Membership, Message, ProposeResult, Ready, ReadIndexResult, SoftState } from "../raft/index.ts";

/** The Raft core as the loop drives it (RawNode implements it). */
export interface RaftCore {
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  propose(data: readonly Uint8Array[]): ProposeResult;
  readIndex(context: Uint8Array): ReadIndexResult;
  /** A read index that needs no round (a sole voter), or undefined (RawNode.localReadIndex). */
  localReadIndex(): number | undefined;
  softState(): SoftState;
}

/** What one persist-and-apply step writes, atomically. */
export interface PersistStep {
  /** New log entries: append, replacing any conflicting suffix. */
  entries: readonly Entry[];
  hardState: HardState | null;
  membership: Membership | null;
  /** Entries to apply to the state machine, in order (committed ones, unless a bug is planted). */
  apply: readonly Entry[];
  /** The step must be durable (fsync) before it counts as persisted. */
  sync: boolean;
  /** The store may flush a `sync` step in the background (ReplicaStore.pendingFlush); false: durable on return. */
  mayFlushLater: boolean;
}

/** The Raft log and the state machine behind one durable step (node-storage.ts, the simulator's store). */
export interface ReplicaStore<R> {
  /** The index of the last entry applied to the state machine. */
  appliedIndex(): number;
  /**
   * Brings the state machine to every committed entry up to `catchup.index` and restarts the log
   * after it, durably, before anything else of the Ready is persisted. May be asynchronous.
   */
  installCatchup(catchup: CatchupInstall): Promise<void> | void;
  /** ONE atomic step; returns the state machine's result for each entry of `step.apply`. */
  persistAndApply(step: PersistStep): (R | undefined)[];
  /** Optional: after a `sync` step, its background flush, or undefined if it is durable (a rejection is fatal). */
  pendingFlush?(): Promise<void> | undefined;
  /** Compacts the log if due (called after a Ready that applied entries). */
  compact(): void;
}

export interface MessageSender {
  send(messages: readonly Message[]): void;
}
