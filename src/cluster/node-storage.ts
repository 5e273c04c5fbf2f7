/**
 * @module node-storage. The node's ReplicaStore (ready-loop.ts): the SQLite Raft log
 * (storage/raft-log.ts) and the ledger state machine (ledger-state.ts) in one database, so the
 * Ready loop's persist-and-apply step is ONE SQLite transaction:
 *   ledger rows, values and tree nodes of the committed commands + new Raft log entries + hard
 *   state + membership + address book + the applied point (Raft index → ledger size),
 * fsync'd when the loop asks for it (`sync`) and storage.sync is "full": in the commit (synchronous
 * = FULL) when the step applies entries it appends itself (a sole voter), else by a background
 * fdatasync of the WAL after a NORMAL commit (`pendingFlush`; the loop treats the step as persisted
 * only once it is done), so the thread is free while the disk works. Committed
 * entries are decoded by kind (entry-data.ts): ledger commands go through the state machine and
 * get a CommandOutcome for their proposer; address-book changes update the AddressBook; identity
 * changes (origin, member keys, keys notes) update the ClusterIdentity.
 * Also: catch-up installation (catchup.ts) and log compaction in bounded steps.
 *
 * A step whose transaction fails leaves nothing behind: the ledger's caches and the Raft log's
 * in-memory view are reloaded from the database before the error goes up, so the Ready loop may
 * retry the same step (it does when the disk is full: ready-loop.ts, "Storage stalls"). A
 * compaction the full disk refuses is skipped and tried again after a later Ready.
 */

import type { Command } from "../ledger/index.ts";
import type { CatchupInstall, Membership } from "../raft/index.ts";
import { isStorageFullError, type HotStore, type SqliteRaftStorage } from "../storage/index.ts";
import type { AddressBook } from "./address-book.ts";
import { LedgerCatchup } from "./catchup.ts";
import { decodeEntryData, type AddressChanges } from "./entry-data.ts";
import type { ClusterIdentity, IdentityChanges } from "./identity.ts";
import type { LedgerState } from "./ledger-state.ts";
import type { CommandOutcome } from "./prepare-batch.ts";
import type { Logger } from "./logger.ts";
import type { PersistStep, ReplicaStore } from "./ready-contracts.ts";

/** Most Raft entries one compaction step deletes: keeps each step to a few milliseconds. */
const compactionStepEntriesMax = 4096;

export interface NodeStorageOptions {
  /** This node's id (a sole voter stores no Raft log of its own commands: see persistAndApply). */
  nodeId: number;
  ledger: LedgerState;
  raftLog: SqliteRaftStorage;
  /** The database both live in: its transactions and fsync mode. */
  db: Pick<HotStore, "transaction" | "setSyncFull" | "flushWal">;
  addresses: AddressBook;
  identity: ClusterIdentity;
  /** storage.sync === "full": a step the loop marks `sync` is fsync'd. */
  syncFull: boolean;
  /** consensus.log_compaction_threshold: applied entries kept before the log is compacted. */
  compactionThreshold: number;
  logger: Logger;
  /** True once the node stops: a failed catch-up attempt is then not retried. */
  stopped: () => boolean;
}

/**
 * True when the step applies entries it also appends (a sole voter's commit on persist: they
 * commit with this very write). Such a step must be durable before it returns: what it applies is
 * readable at once, and it would be readable before it is durable. Any other step applies only
 * entries a majority already holds durably (the leader counts its own copy only once the loop
 * reports it persisted), so its rows can wait for the flush.
 */
function appliesOwnEntries(step: PersistStep, lastApplied: number): boolean {
  return step.entries.length > 0 && lastApplied >= step.entries[0]!.index;
}

export class NodeStorage implements ReplicaStore<CommandOutcome> {
  readonly counters = { compactions: 0 };
  private applied: number;
  private readonly catchup: LedgerCatchup;
  /** The background flush of the last step committed without waiting for the disk (pendingFlush). */
  private flushing: Promise<void> | undefined;

  constructor(private readonly options: NodeStorageOptions) {
    this.applied = options.raftLog.appliedPoint().raftIndex;
    const { ledger, raftLog, addresses, identity, logger, stopped } = options;
    this.catchup = new LedgerCatchup({ ledger, raftLog, addresses, identity, logger, durably: (fn) => this.durably(fn), stopped });
  }

  appliedIndex(): number {
    return this.applied;
  }

  /** Runs `fn` in one transaction fsync'd on commit (when storage.sync is "full"). */
  durably(fn: () => void): void {
    this.options.db.setSyncFull(this.options.syncFull);
    this.options.db.transaction(fn);
  }

  async installCatchup(catchup: CatchupInstall): Promise<void> {
    await this.catchup.install(catchup);
    this.applied = catchup.index;
  }

  persistAndApply(step: PersistStep): (CommandOutcome | undefined)[] {
    const { ledger, raftLog, db, addresses, identity } = this.options;
    const commands: Command[] = [];
    const slots: number[] = [];
    let addressChanges: AddressChanges | undefined;
    const identityChanges: IdentityChanges[] = [];
    for (let i = 0; i < step.apply.length; i++) {
      const entry = step.apply[i]!;
      if (entry.type !== "normal") continue;
      const content = decodeEntryData(entry.data);
      if (content.kind === "command") {
        commands.push(content.command);
        slots.push(i);
      } else if (content.kind === "addresses") {
        addressChanges = { ...addressChanges, ...content.changes };
      } else if (content.kind === "identity") {
        identityChanges.push(content.changes);
      }
    }
    if (addressChanges) addresses.apply(addressChanges);
    // Identity changes apply in log order (the first origin wins); written with the same transaction.
    let identityChanged = false;
    for (const changes of identityChanges) identityChanged = identity.apply(changes) || identityChanged;
    const lastApplied = step.apply.length > 0 ? step.apply[step.apply.length - 1]!.index : this.applied;
    const batch = ledger.prepare(commands);
    const flushLater = step.sync && this.options.syncFull && step.mayFlushLater && !appliesOwnEntries(step, lastApplied);
    db.setSyncFull(step.sync && this.options.syncFull && !flushLater);
    try {
      db.transaction(() => {
        ledger.write(batch);
        if (this.logNeededBy(step, lastApplied)) raftLog.append(step.entries);
        else raftLog.appendApplied(step.entries);
        if (step.hardState) raftLog.setHardState(step.hardState);
        if (step.membership) raftLog.setMembership(step.membership);
        if (addressChanges) raftLog.writeMeta("addresses", addresses.entries());
        if (identityChanged) raftLog.writeMeta("identity", identity.state());
        if (step.apply.length > 0) raftLog.recordApplied(lastApplied, batch.sizeAfter);
      });
    } catch (error) {
      ledger.rollback();
      raftLog.reload();
      throw error;
    }
    this.applied = lastApplied;
    if (flushLater) this.flushing = db.flushWal();
    const outcomes = ledger.commit(batch);
    const results: (CommandOutcome | undefined)[] = new Array(step.apply.length);
    for (let i = 0; i < slots.length; i++) results[slots[i]!] = outcomes[i];
    return results;
  }

  pendingFlush(): Promise<void> | undefined {
    const flushing = this.flushing;
    this.flushing = undefined;
    return flushing;
  }

  /**
   * False when nobody can ever need this step's log entries: this node is the only member (one
   * voter, no learner) before and after the step, and the step applies every entry it appends.
   * Then they are not stored at all (SqliteRaftStorage.appendApplied: the log is compacted through
   * them in the same transaction), so a command is written once, as ledger rows, not also as a
   * `raft_log` row. Safe because the log only serves to replicate and to re-apply after a crash:
   * a sole voter replicates to nobody, a member added later gets a catch-up by ledger range from
   * the compacted point (its applied point is recorded in this same transaction), and what this
   * transaction applies is durable with it, so there is nothing to re-apply.
   */
  private logNeededBy(step: PersistStep, lastApplied: number): boolean {
    if (step.entries.length === 0) return false;
    if (lastApplied < step.entries[step.entries.length - 1]!.index) return true;
    const id = this.options.nodeId;
    const sole = (m: Readonly<Membership>) => m.learners.length === 0 && m.voters.length === 1 && m.voters[0] === id;
    return !sole(this.options.raftLog.currentMembership()) || (step.membership !== null && !sole(step.membership));
  }

  /**
   * Compacts the Raft log once more than the threshold of applied entries are kept: in bounded
   * steps (one DELETE of a huge range stalls the event loop), each to an applied point with a
   * ledger-size record (catch-up maps a compacted index through it).
   */
  compact(): void {
    const { raftLog, db, logger } = this.options;
    const first = raftLog.firstIndex();
    if (this.applied - first + 1 <= this.options.compactionThreshold) return;
    const target = raftLog.appliedPointAtOrBelow(Math.min(this.applied, first - 1 + compactionStepEntriesMax));
    if (target === undefined || target < first) return;
    try {
      db.transaction(() => raftLog.compact(target));
    } catch (error) {
      // Deleting needs room in the WAL too: on a full disk, compact after a later Ready.
      if (!isStorageFullError(error)) throw error;
      raftLog.reload();
      logger.warn({ err: (error as Error).message, compact_to: target }, "could not compact the Raft log: the disk is full; will retry");
      return;
    }
    this.counters.compactions++;
    logger.debug({ compacted_to: target }, "compacted the Raft log");
  }
}
