/**
 * @module test/raft/sim/store. The simulator's ReplicaStore for the real Ready loop
 * (src/cluster/ready-loop.ts): a memory Raft log (MemoryStorage) and a tiny key-value state
 * machine, with crash semantics.
 *
 * Two images of the node's disk: `live` (what the running node sees) and `durable` (what survives
 * a crash). Every write goes to `live` at once and is queued; a step the loop marks `sync`
 * (an fsync) makes everything queued so far durable, in order — as SQLite's WAL does: a later
 * fsync also covers earlier unsynced commits, never the other way round. A crash throws away
 * `live` and restarts from a copy of `durable`: whatever a handled Ready did not persist durably
 * is lost. Crash points (chosen by the simulator per persist step): before persisting, after
 * persisting, after the late send, and a torn write where the log reached the disk but the hard
 * state and the applied entries did not.
 */

import { fromUtf8 } from "../../../src/lib/index.ts";
import { MemoryStorage, type CatchupInstall, type Entry, type HardState, type Membership, type NodeId } from "../../../src/raft/index.ts";
import type { PersistStep, ReplicaStore } from "../../../src/cluster/ready-contracts.ts";

/** A client command, as the data of a Raft entry (JSON). */
export interface Command {
  id: string;
  kind: "put" | "delete";
  key: string;
  value?: string;
}

/** The simulated process died here (thrown out of the store or the sender into the loop). */
export class SimCrash extends Error {
  override name = "SimCrash";
}

/** 0: no crash; 1: before persisting; 2: after persisting; 3: after the late send; 4: torn write. */
export type CrashPoint = 0 | 1 | 2 | 3 | 4;

/** Parsed commands by entry data: the live and the durable image apply the same entries. */
const parsed = new WeakMap<Uint8Array, Command>();

function commandOf(data: Uint8Array): Command {
  let command = parsed.get(data);
  if (!command) {
    command = JSON.parse(fromUtf8(data)) as Command;
    parsed.set(data, command);
  }
  return command;
}

/** One copy of a node's disk. */
export class Image {
  constructor(
    readonly storage: MemoryStorage,
    readonly kv = new Map<string, string>(),
    /** Applied entries by index (the "ledger"). */
    readonly ledger = new Map<number, Entry>(),
    public applied = 0,
  ) {}

  static empty(membership: Membership): Image {
    return new Image(new MemoryStorage(membership));
  }

  clone(): Image {
    const { hardState, membership } = this.storage.initialState();
    const storage = new MemoryStorage(membership);
    const first = this.storage.firstIndex();
    if (first > 1) storage.applyCatchup(first - 1, this.storage.term(first - 1), membership);
    if (this.storage.lastIndex() >= first) storage.append(this.storage.entries(first, this.storage.lastIndex() + 1, Number.POSITIVE_INFINITY));
    storage.setHardState(hardState);
    return new Image(storage, new Map(this.kv), new Map(this.ledger), this.applied);
  }

  apply(entry: Entry): void {
    if (entry.index <= this.applied) return; // applied before a restart
    this.applied = entry.index;
    this.ledger.set(entry.index, entry);
    if (entry.type !== "normal" || entry.data.length === 0) return;
    const command = commandOf(entry.data);
    if (command.kind === "put") this.kv.set(command.key, command.value!);
    else this.kv.delete(command.key);
  }
}

/** What the simulation watches and decides for a store. */
export interface SimStoreHooks {
  /** `electing`: the step changes the term or the vote (the moments where durability matters most). */
  crashPoint(electing: boolean): CrashPoint;
  /** After new entries and the hard state were persisted to the live log (log matching is checked here). */
  persisted(store: SimStore, entries: readonly Entry[], hardState: HardState | null): void;
  /** Before an entry is applied to the live state machine (state machine safety). */
  applying(store: SimStore, entry: Entry): void;
  /** A catch-up starts (before any of its ledger range is fetched). */
  catchupStarted(store: SimStore, catchup: CatchupInstall): void;
  /** The committed entry at `index` from the catch-up's source, for the ledger range. */
  catchupEntry(store: SimStore, catchup: CatchupInstall, index: number): Entry;
  /** How many applied entries to keep when compacting now, or undefined not to compact. */
  compactionKeep(): number | undefined;
  /** Planted storage bug: append new entries but never overwrite conflicting ones. */
  keepStaleEntries: boolean;
}

export class SimStore implements ReplicaStore<true> {
  live: Image;
  private durable: Image;
  private pending: ((image: Image) => void)[] = [];
  /** Crash point 3: the next send delivers, then the process dies. */
  crashAfterSend = false;
  readonly counters = { compactions: 0, catchups: 0 };

  constructor(
    readonly id: NodeId,
    membership: Membership,
    private readonly hooks: SimStoreHooks,
  ) {
    this.durable = Image.empty(membership);
    this.live = this.durable.clone();
  }

  /** The durable image (for the checks of what survives). */
  get disk(): Image {
    return this.durable;
  }

  /** A crash: everything not durable is lost. */
  crash(): void {
    this.pending = [];
    this.crashAfterSend = false;
    this.live = this.durable.clone();
  }

  appliedIndex(): number {
    return this.live.applied;
  }

  private write(op: (image: Image) => void): void {
    op(this.live);
    this.pending.push(op);
  }

  private sync(): void {
    for (const op of this.pending) op(this.durable);
    this.pending = [];
  }

  installCatchup(catchup: CatchupInstall): void {
    this.counters.catchups++;
    this.hooks.catchupStarted(this, catchup);
    for (let i = this.live.applied + 1; i <= catchup.index; i++) {
      const entry = this.hooks.catchupEntry(this, catchup, i);
      this.hooks.applying(this, entry);
      this.write((image) => image.apply(entry));
    }
    this.write((image) => image.storage.applyCatchup(catchup.index, catchup.term, catchup.membership));
    this.sync(); // the node installs a catch-up in one durable transaction
  }

  persistAndApply(step: PersistStep): (true | undefined)[] {
    const before = this.live.storage.initialState().hardState;
    const electing = step.hardState !== null && (step.hardState.term !== before.term || step.hardState.vote !== before.vote);
    const crash = this.hooks.crashPoint(electing);
    if (crash === 1) throw new SimCrash("crash before persisting");
    const entries = this.hooks.keepStaleEntries ? step.entries.filter((e) => e.index > this.live.storage.lastIndex()) : step.entries;
    if (crash === 4) {
      // A torn write: the log reached the disk; the hard state and the applied entries did not.
      this.sync();
      this.durable.storage.append(entries);
      throw new SimCrash("crash tearing a write");
    }
    if (entries.length > 0) this.write((image) => image.storage.append(entries));
    const { hardState, membership } = step;
    if (hardState) this.write((image) => image.storage.setHardState(hardState));
    if (membership) this.write((image) => image.storage.setMembership(membership));
    this.hooks.persisted(this, entries, hardState);
    const results: (true | undefined)[] = [];
    for (const entry of step.apply) {
      if (entry.index > this.live.applied) this.hooks.applying(this, entry);
      this.write((image) => image.apply(entry));
      results.push(true);
    }
    if (step.sync) this.sync();
    if (crash === 2) throw new SimCrash("crash after persisting");
    if (crash === 3) this.crashAfterSend = true;
    return results;
  }

  compact(): void {
    const keep = this.hooks.compactionKeep();
    if (keep === undefined) return;
    const storage = this.live.storage;
    const upTo = Math.min(this.live.applied, storage.lastIndex()) - keep;
    if (upTo < storage.firstIndex()) return;
    this.write((image) => image.storage.compact(upTo));
    this.counters.compactions++;
  }
}
