/**
 * @module cluster-node. A Scribe Ledger node replicated by Raft: it wires the parts of the driver
 * together and serves the HTTP layer's LedgerService and ClusterService. A single node is a
 * one-voter group on the same code path.
 *
 * The parts, each in its own file:
 * - bootstrap.ts      opens the ledger and the Raft log; bootstraps, resumes or joins;
 * - raft-core.ts      the Raft core (RawNode) from [consensus]: timeouts in ticks, limits;
 * - ready-loop.ts     the Ready loop: persist / send / apply / answer / advance, in a written
 *                     order, including its exception to the Ready contract (a leader's appends
 *                     leave before its own fsync); requests.ts holds its proposal and read queues;
 * - loop-runner.ts    when the loop runs (once per turn of the event loop with work) and the tick;
 * - node-storage.ts   the loop's store: Raft log + ledger state machine in ONE SQLite transaction;
 * - deadlines.ts, waiters.ts  the one deadline mechanism (swept per tick) and event-driven waits;
 * - node-peers.ts, raft-link.ts, join.ts  the transport, messages in, peers kept in line with the
 *                     membership; Raft messages over TCP; joining through the seeds;
 * - client-requests.ts  writes and linearizable reads, retried through the next leader;
 * - local-reads.ts    reads of this node's own ledger (ClusterNode extends it);
 * - leadership.ts     who leads and where to reach it; waits for a (new) leader;
 * - forwarding.ts, forward-channel.ts  a follower's writes to the leader, per event-loop turn;
 * - catchup.ts, replay.ts  catch-up by ledger range (replay is shared with restore.ts);
 * - membership.ts, address-book.ts  add / remove / promote members, who is where;
 * - status.ts         /health, /metrics and /cluster/* state from RawNode.status();
 * - node-signing.ts   wires the checkpoints and keys: identity.ts, key-registry.ts (the cluster's
 *                     one origin and its members' keys, replicated), cosigning.ts, checkpoints.ts,
 *                     witnesses.ts (checkpoints signed by a majority of the voters, each checking
 *                     against its own ledger, and external witnesses);
 * - storage-state.ts  whether the data directory takes writes (free-space reserve, full disk).
 * This file wires them together and holds the node's lifecycle: open, start, close, and fatal
 * failure.
 *
 * A full disk is not a failure: the Ready loop waits it out (ready-loop.ts, "Storage stalls") and
 * while it does, this node neither ticks nor steps its core (as if cut off from its peers), so
 * nothing piles up in memory; reads keep being served.
 *
 * A fatal driver failure (a storage error, a broken invariant) never exits the process: the node
 * stops serving (pending requests are refused, status reports unhealthy) and `onFatal` tells the
 * owner, which decides (src/main.ts exits with status 70 so a supervisor restarts it from its
 * durable state; the embedded library surfaces the error to its caller).
 */

import type { Config } from "../config/index.ts";
import type { ClusterService, Consistency, ForwardedOutcome, ForwardedWrite, LedgerService, MemberAddresses, NodeStatus, Operation, ProposeOptions, Readiness, SignedCheckpoint, WriteContext, WriteResult } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { RawNode } from "../raft/index.ts";
import { DiskSpace } from "../storage/index.ts";
import { AddressBook } from "./address-book.ts";
import { startColdTier, type ColdTier } from "./archival.ts";
import { openNodeState, type NodeState } from "./bootstrap.ts";
import type { CheckpointService } from "./cosigning.ts";
import { DeadlineQueue } from "./deadlines.ts";
import { ClusterIdentity } from "./identity.ts";
import { ClientRequests } from "./client-requests.ts";
import type { ForwardHandler } from "./forward-channel.ts";
import { Forwarder } from "./forwarding.ts";
import { Leadership } from "./leadership.ts";
import { LocalReads } from "./local-reads.ts";
import type { Logger } from "./logger.ts";
import { LoopRunner } from "./loop-runner.ts";
import { MembershipChanges } from "./membership.ts";
import { NodePeers } from "./node-peers.ts";
import { NodeSigning } from "./node-signing.ts";
import { NodeStorage } from "./node-storage.ts";
import type { CommandOutcome } from "./prepare-batch.ts";
import { createRaftCore } from "./raft-core.ts";
import { RaftSender } from "./raft-link.ts";
import { ReadyLoop } from "./ready-loop.ts";
import { assessReadiness } from "./readiness.ts";
import { describeNode } from "./status.ts";
import { StorageState } from "./storage-state.ts";
import { Waiters } from "./waiters.ts";
import { WatchFeed } from "./watch-feed.ts";

/** Most proposals turned into Raft entries per cycle (the core refuses more in one call). */
const proposalsPerCycleMax = 8192;
/** Most client operations waiting to be proposed or committed: past it writes get 503 (back-pressure). */
const queuedOpsMax = 1_000_000;
/** The key registry's checks run at least this often: a task that failed waits 1 s before it may run again (key-registry.ts). */
const keysRecheckMs = 1000;

export interface ClusterNodeOptions {
  config: Config;
  logger: Logger;
  /** Initialize a new cluster from consensus.cluster_members (or a single voter when empty). */
  bootstrap?: boolean;
  now?: () => number;
  /** Seed for election jitter; default derived from the node id and the clock. */
  seed?: number;
  /** The driver failed and the node stopped serving; the owner decides what to do (e.g. exit). */
  onFatal?: (error: unknown) => void;
  /** Test hooks (main.ts reads TEST_SCRIBE_HOOKS): `forkCheckpoints` makes this node, as leader, ask for forked checkpoints. */
  testHooks?: { forkCheckpoints?: boolean };
}

/** The node; its reads of its own ledger are LocalReads' (local-reads.ts). */
export class ClusterNode extends LocalReads implements LedgerService, ClusterService {
  readonly config: Config;
  /** The S3 cold tier (archival on the leader, eviction, read-through); undefined without a bucket. */
  cold: ColdTier | undefined;
  /** Wakes GET /watch streams: told the applied ledger size and the leader after every Ready. */
  readonly watchFeed: WatchFeed;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly raw: RawNode;
  private readonly addresses: AddressBook;
  private readonly storage: NodeStorage;
  private readonly waiters: Waiters;
  private readonly loop: ReadyLoop<CommandOutcome>;
  private readonly sender: RaftSender;
  private readonly forwarder: Forwarder;
  private readonly leadership: Leadership;
  private readonly requests: ClientRequests;
  private readonly members: MembershipChanges;
  private readonly identityState: ClusterIdentity;
  /** The node's checkpoints and signing keys (node-signing.ts). */
  private readonly signing: NodeSigning;
  /** The cluster's quorum checkpoints (rounds on the leader, adoption on followers). */
  readonly checkpoints: CheckpointService;
  /** Whether the data directory takes writes (storage-state.ts). */
  readonly storageState: StorageState;
  /** When the Ready loop runs, and the tick timer (loop-runner.ts). */
  private readonly runner: LoopRunner;
  /** The Raft transport, messages in, peers in line with the membership, the join (node-peers.ts). */
  private readonly peers: NodePeers;
  private closed = false;
  /** The identity's version and the time when the key registry last ran its checks (checkKeys). */
  private keysChecked = { version: -1, atMs: 0 };

  private constructor(options: ClusterNodeOptions, state: NodeState) {
    super(state.ledger, state.raftLog);
    const { config, logger } = options;
    this.config = config;
    this.logger = logger;
    this.now = options.now ?? Date.now;
    this.addresses = new AddressBook(config.node.id, state.self, state.addresses);
    this.identityState = new ClusterIdentity(state.identity);
    this.storage = new NodeStorage({
      nodeId: config.node.id,
      ledger: state.ledger,
      raftLog: state.raftLog,
      db: state.ledger.store,
      addresses: this.addresses,
      identity: this.identityState,
      syncFull: config.storage.sync === "full",
      compactionThreshold: config.consensus.log_compaction_threshold,
      logger,
      stopped: () => this.closed,
    });
    this.watchFeed = new WatchFeed(
      { streamsMax: config.api.watch_streams_max, backlogEntriesMax: config.api.watch_backlog_entries_max },
      (error) => logger.error({ err: error }, "internal error in a watch stream"),
    );
    const applied = this.storage.appliedIndex();
    this.raw = createRaftCore({ config, storage: state.raftLog, appliedIndex: applied, seed: options.seed, now: this.now });
    this.waiters = new Waiters(new DeadlineQueue(this.now), applied, () => this.raw.softState().leader);
    this.sender = new RaftSender(logger);
    this.storageState = new StorageState(new DiskSpace({ dir: config.node.data_dir, minFreeBytes: config.storage.min_free_bytes, now: this.now }), logger);
    this.loop = new ReadyLoop<CommandOutcome>({
      core: this.raw,
      store: this.storage,
      sender: this.sender,
      waiters: this.waiters,
      hardState: state.raftLog.initialState().hardState,
      limits: { perCycleMax: proposalsPerCycleMax, weightMax: queuedOpsMax },
      onAdvance: (rd) => {
        this.peers.advanced(rd);
        if (this.leadership.isLeader()) this.members.promoteCaughtUpLearners();
        if (!this.closed) this.checkKeys(rd.softState !== null || rd.membership !== null);
        this.notifyWatchers();
        // Condition waits (cosigning.ts, key-registry.ts) see the applied and advanced state.
        this.waiters.progressed();
      },
      onFatal: (error) => this.fail(error, options.onFatal),
      storage: this.storageState,
    });
    this.runner = new LoopRunner(this.loop);
    this.peers = new NodePeers({
      config,
      logger,
      addresses: this.addresses,
      core: this.raw,
      sender: this.sender,
      loop: this.loop,
      schedule: () => this.runner.schedule(),
      closed: () => this.closed,
    });
    this.leadership = new Leadership(config.node.id, this.raw, this.addresses, this.waiters, this.now);
    this.forwarder = new Forwarder({ nodeId: config.node.id, leadership: this.leadership, channel: this.peers.forwards, groupBytesMax: config.storage.max_batch_bytes, timeoutMs: config.api.write_timeout_secs * 1000 });
    this.requests = new ClientRequests({ config, loop: this.loop, waiters: this.waiters, leadership: this.leadership, forwarder: this.forwarder, now: this.now, schedule: () => this.runner.schedule(), storage: this.storageState });
    this.members = new MembershipChanges({
      core: this.raw,
      addresses: this.addresses,
      leadership: this.leadership,
      schedule: () => this.runner.schedule(),
      untilApplied: (index, what) => this.waiters.untilApplied(index, this.now() + config.api.write_timeout_secs * 1000, what),
      clientPort: config.network.client_port,
      logger,
    });
    this.signing = new NodeSigning({
      config,
      logger,
      now: this.now,
      ledger: state.ledger,
      identity: this.identityState,
      core: this.raw,
      addresses: this.addresses,
      leadership: this.leadership,
      waiters: this.waiters,
      schedule: () => this.runner.schedule(),
      forkCheckpoints: options.testHooks?.forkCheckpoints === true,
    });
    this.checkpoints = this.signing.checkpoints;
  }

  /** Opens the ledger and the Raft log, bootstraps or resumes, starts the transport and the ticker. */
  static async open(options: ClusterNodeOptions): Promise<ClusterNode> {
    const state = await openNodeState(options.config, options.logger, options.bootstrap === true);
    const node = new ClusterNode(options, state);
    try {
      await node.start(state.join);
      node.cold = startColdTier({ config: options.config, ledger: state.ledger, logger: options.logger, isLeader: () => node.leadership.isLeader(), checkpointAt: (size) => node.checkpoints.exactly(size), witnessedFrom: options.config.witness.endpoints.length === 0 ? undefined : (size) => node.checkpoints.witnessedExtension(size) });
      node.checkpoints.start();
      node.signing.warnAboutOrigin();
      return node;
    } catch (error) {
      await node.close();
      throw error;
    }
  }

  private async start(join: boolean): Promise<void> {
    const membership = this.raw.membership();
    await this.peers.start(join);
    this.runner.startTicking(this.config.consensus.tick_interval_ms, () => {
      // While a step waits for the disk the core is frozen (module comment); the loop retries it.
      if (!this.loop.storageStalled) this.raw.tick();
      this.waiters.deadlines.sweep();
      if (!this.closed) this.checkKeys(false);
    });
    if (membership.voters.length === 1 && membership.voters[0] === this.config.node.id && membership.learners.length === 0) this.raw.campaign();
    this.runner.schedule();
    if (join) await this.peers.join();
  }

  /** The key registry's checks (key-registry.ts) once leadership, membership (`changed`) or the identity changed, or keysRecheckMs passed. */
  private checkKeys(changed: boolean): void {
    const now = this.now();
    if (!changed && this.identityState.version === this.keysChecked.version && now - this.keysChecked.atMs < keysRecheckMs) return;
    this.keysChecked = { version: this.identityState.version, atMs: now };
    this.signing.keys.check();
  }

  /**
   * Tells the watch feed what was applied and who leads (after every Ready, and after entries
   * were imported outside the loop); it wakes the streams only when either changed.
   */
  notifyWatchers(): void {
    this.watchFeed.applied(this.ledger.size, this.raw.softState().leader);
  }

  /** The loop failed: stop ticking and taking messages, tell the owner. The ledger stays readable. */
  private fail(error: unknown, onFatal: ((error: unknown) => void) | undefined): void {
    this.runner.stopTicking();
    this.logger.fatal({ err: error }, "the Raft driver failed; the node stopped serving and must be restarted from its durable state");
    onFatal?.(error);
  }

  // ---- LedgerService ---------------------------------------------------------------------

  propose(ops: Operation[], context?: WriteContext, options?: ProposeOptions): Promise<WriteResult> {
    return this.requests.propose(ops, context, options);
  }

  readBarrier(consistency: Consistency): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new ScribeError("shutting_down", "the node is shutting down"));
    try {
      return this.requests.readBarrier(consistency);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  get nodeId(): number {
    return this.config.node.id;
  }
  checkpoint(): Promise<SignedCheckpoint> {
    return this.signing.checkpoint(this.ledger.size);
  }
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.checkpoints.latest();
  }
  checkpointCovering(size: number): Promise<SignedCheckpoint> {
    return this.checkpoints.covering(size);
  }
  checkpointKeys(): string[] {
    return this.signing.checkpointKeys();
  }
  keyHistory(): { origin: string | null; epochs: readonly string[] } {
    return this.signing.keyHistory();
  }

  // ---- status -----------------------------------------------------------------------------

  status(): NodeStatus {
    return describeNode({
      raft: this.raw.status(),
      addresses: this.addresses,
      peers: this.peers.stats()?.peers,
      appliedIndex: this.storage.appliedIndex(),
      ledgerSize: this.ledger.size,
      running: !this.closed && !this.loop.stopped,
      checkpointDisagreement: this.ledger.checkpoints.lastDisagreement,
      storage: this.storageState.status(),
      failure: this.closed ? undefined : this.loop.stopped?.message,
    });
  }

  readiness(): Readiness {
    const { ready_lag_entries_max: lagEntriesMax, ready_requires_s3: requiresS3 } = this.config.api;
    return assessReadiness({ status: this.status(), running: !this.closed && !this.loop.stopped, s3: this.cold?.s3State(), policy: { lagEntriesMax, requiresS3 } });
  }

  metrics(): Record<string, unknown> {
    const loop = this.loop;
    const counters = { ...loop.counters, ...loop.proposals.counters, ...loop.reads.counters, ...this.forwarder.counters, ...this.peers.forwards.counters, ...this.storage.counters };
    return {
      ...this.ledger.metrics(),
      raft: { ...counters, first_index: this.raftLog.firstIndex(), last_index: this.raftLog.lastIndex(), queued_ops: loop.proposals.pendingWeight, failed: loop.stopped !== undefined && !this.closed },
      transport: this.peers.stats(),
      cold: this.cold?.metrics() ?? { enabled: false },
      checkpoints: this.signing.metrics(),
      disk: this.storageState.metrics(),
      watch: this.watchFeed.metrics(),
    };
  }

  // ---- ClusterService ---------------------------------------------------------------------

  addressBook(): Record<string, MemberAddresses> {
    return this.addresses.entries();
  }

  async readIndex(): Promise<number> {
    if (!this.leadership.isLeader()) throw this.leadership.notLeader();
    return this.requests.leaderReadIndex();
  }

  proposeForwarded(commands: ForwardedWrite[]): Promise<ForwardedOutcome[]> {
    return this.requests.proposeForwarded(commands);
  }
  /** How groups forwarded over the Raft transport are proposed: server.ts gives the HTTP app's, as POST /cluster/propose. */
  serveForwards(handler: ForwardHandler): void {
    this.peers.forwards.serve(handler);
  }

  addNode(request: { node_id: number; address: string; client?: string }): Promise<Record<string, unknown>> {
    return this.members.addNode(request);
  }

  removeNode(id: number): Promise<Record<string, unknown>> {
    return this.members.removeNode(id);
  }

  cosign(request: { body?: string; keys_body?: string; latest?: string }): Promise<Record<string, unknown>> {
    return this.signing.cosign(request);
  }

  async checkpointFor(size: number): Promise<string> {
    if (!this.leadership.isLeader()) throw this.leadership.notLeader();
    return (await this.checkpoints.covering(size)).note;
  }

  registerKey(request: { node_id: number; key: string; proof: string }): Promise<void> {
    return this.signing.keys.registerFor(request);
  }

  identity(): { origin: string | null; keys: Record<string, string>; epochs: string[] } {
    return this.identityState.state();
  }

  // ---- shutdown ---------------------------------------------------------------------------

  /** Refuses queued requests (in-flight writes get an unknown outcome), then closes everything. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Watch streams end first, with their final lines, while the ledger can still sign them a checkpoint.
    await this.watchFeed.close();
    this.runner.stopTicking();
    this.checkpoints.stop();
    this.loop.stop(new ScribeError("shutting_down", "the node is shutting down"));
    await this.runner.settled();
    await this.cold?.stop();
    await this.peers.close();
    this.ledger.close();
  }
}
