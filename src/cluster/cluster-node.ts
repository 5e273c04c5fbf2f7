/**
 * @module cluster-node. A Scribe Ledger node replicated by Raft: it wires the parts of the driver
 * together and serves the HTTP layer's LedgerService and ClusterService. A single node is a
 * one-voter group on the same code path.
 *
 * The parts, each in its own file:
 * - bootstrap.ts      opens the ledger and the Raft log; bootstraps, resumes or joins;
 * - ready-loop.ts     the Ready loop: persist / send / apply / answer / advance, in a written
 *                     order, including its exception to the Ready contract (a leader's appends
 *                     leave before its own fsync); requests.ts holds its proposal and read queues;
 * - node-storage.ts   the loop's store: Raft log + ledger state machine in ONE SQLite transaction;
 * - deadlines.ts, waiters.ts  the one deadline mechanism (swept per tick) and event-driven waits;
 * - raft-link.ts      Raft messages over the TCP transport;
 * - client-requests.ts  writes and linearizable reads, retried through the next leader;
 * - leadership.ts     who leads and where to reach it; waits for a (new) leader;
 * - forwarding.ts     a follower's writes to the leader, grouped per turn of the event loop;
 * - catchup.ts, replay.ts  catch-up by ledger range (replay is shared with restore.ts);
 * - membership.ts, address-book.ts  add / remove / promote members, who is where;
 * - status.ts         /health, /metrics and /cluster/* state from RawNode.status();
 * - identity.ts, key-registry.ts  the cluster's one origin and its members' keys, replicated;
 * - cosigning.ts, checkpoints.ts, witnesses.ts  checkpoints signed by a majority of the voters
 *                     (each checking against its own ledger), and external witnesses.
 * - storage-state.ts  whether the data directory takes writes (free-space reserve, full disk).
 * This file wires them together and holds the node's lifecycle: open, tick (the core's tick and
 * the deadline sweep), scheduling of the Ready loop, close, and fatal failure.
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
import type { ClusterService, Consistency, ForwardedOutcome, ForwardedWrite, IdempotencyRecord, KeyRange, KeyState, LedgerService, MemberAddresses, NodeStatus, Operation, ProposeOptions, Readiness, ReadResult, SignedCheckpoint, StoredEntry, WriteContext, WriteResult } from "../ledger/index.ts";
import { isScribeError, ScribeError, SeededRandom } from "../lib/index.ts";
import type { MerkleTree } from "../merkle/index.ts";
import { RawNode, type Message } from "../raft/index.ts";
import { DiskSpace, type SqliteRaftStorage } from "../storage/index.ts";
import { AddressBook } from "./address-book.ts";
import { startColdTier, type ColdTier } from "./archival.ts";
import { openNodeState, type NodeState } from "./bootstrap.ts";
import { CheckpointService } from "./cosigning.ts";
import { DeadlineQueue } from "./deadlines.ts";
import { identityEntryData } from "./entry-data.ts";
import { ClusterIdentity, restoredOriginMeta, type IdentityChanges } from "./identity.ts";
import { KeyRegistry } from "./key-registry.ts";
import { WitnessSubmitter } from "./witnesses.ts";
import { ClientRequests } from "./client-requests.ts";
import { Forwarder } from "./forwarding.ts";
import type { LedgerState } from "./ledger-state.ts";
import type { CommandOutcome } from "./prepare-batch.ts";
import type { Logger } from "./logger.ts";
import { Leadership } from "./leadership.ts";
import { MembershipChanges } from "./membership.ts";
import { NodeStorage } from "./node-storage.ts";
import { requestJoin } from "./peer-client.ts";
import { RaftLink, RaftSender } from "./raft-link.ts";
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
/** Longest pause between two join attempts through the seeds; doubles from 200 ms up to it. */
const joinBackoffMsMax = 5000;

/**
 * The election timeout in ticks: followers campaign after a random [min, max] ticks without a
 * leader (consensus.election_timeout_min / _max over tick_interval_ms; at least 2 ticks, and max
 * at least min). A failed campaign is retried after the core's campaignRetryTicks (docs/RAFT.md,
 * "How long an election takes").
 */
export function electionTicks(c: Config["consensus"]): { electionTimeoutTicks: number; electionTimeoutTicksMax: number } {
  const electionTimeoutTicks = Math.max(2, Math.round(c.election_timeout_min / c.tick_interval_ms));
  return { electionTimeoutTicks, electionTimeoutTicksMax: Math.max(electionTimeoutTicks, Math.round(c.election_timeout_max / c.tick_interval_ms)) };
}

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


export class ClusterNode implements LedgerService, ClusterService {
  readonly config: Config;
  readonly ledger: LedgerState;
  readonly raftLog: SqliteRaftStorage;
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
  /** The cluster's quorum checkpoints (rounds on the leader, adoption on followers). */
  readonly checkpoints: CheckpointService;
  private readonly keyRegistry: KeyRegistry;
  /** Whether the data directory takes writes (storage-state.ts). */
  readonly storageState: StorageState;
  private link: RaftLink | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private scheduled = false;
  /** The cycle in progress while a catch-up keeps it running across turns of the event loop. */
  private cycling: Promise<void> | undefined;
  private closed = false;
  private syncedBookVersion = -1;

  private constructor(options: ClusterNodeOptions, state: NodeState) {
    const { config, logger } = options;
    this.config = config;
    this.logger = logger;
    this.now = options.now ?? Date.now;
    this.ledger = state.ledger;
    this.raftLog = state.raftLog;
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
    const c = config.consensus;
    const applied = this.storage.appliedIndex();
    this.raw = new RawNode({
      id: config.node.id,
      storage: state.raftLog,
      random: new SeededRandom(options.seed ?? (config.node.id * 2654435761 + this.now()) >>> 0),
      ...electionTicks(c),
      heartbeatTimeoutTicks: Math.max(1, Math.round(c.heartbeat_interval_ms / c.tick_interval_ms)),
      appliedIndex: applied,
      preVote: true,
      checkQuorum: true,
      messageBytesMax: c.max_append_bytes,
      inflightMessagesMax: c.max_inflight_msgs,
    });
    this.waiters = new Waiters(new DeadlineQueue(this.now), applied);
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
        if (this.link && (rd.membership || this.addresses.version !== this.syncedBookVersion)) this.syncPeers();
        if (this.leadership.isLeader()) this.members.promoteCaughtUpLearners();
        if (!this.closed) this.keyRegistry.check();
        this.notifyWatchers();
        // Condition waits (cosigning.ts, key-registry.ts) see the applied and advanced state.
        this.waiters.progressed();
      },
      onFatal: (error) => this.fail(error, options.onFatal),
      storage: this.storageState,
    });
    this.leadership = new Leadership(config.node.id, this.raw, this.addresses, this.waiters, this.now);
    this.forwarder = new Forwarder({ nodeId: config.node.id, leadership: this.leadership, groupBytesMax: config.storage.max_batch_bytes, timeoutMs: config.api.write_timeout_secs * 1000 });
    this.requests = new ClientRequests({ config, loop: this.loop, waiters: this.waiters, leadership: this.leadership, forwarder: this.forwarder, now: this.now, schedule: () => this.schedule(), storage: this.storageState });
    this.members = new MembershipChanges({
      core: this.raw,
      addresses: this.addresses,
      leadership: this.leadership,
      schedule: () => this.schedule(),
      untilApplied: (index, what) => this.waiters.untilApplied(index, this.now() + config.api.write_timeout_secs * 1000, what),
      clientPort: config.network.client_port,
      logger,
    });
    const ledgerTree = () => this.ledger.tree;
    const voters = () => this.raw.membership().voters;
    const leaderClient = () => (this.leadership.isLeader() ? undefined : this.leadership.leaderClient());
    const until = (ready: () => boolean, deadlineMs: number, what: string) => this.waiters.until(ready, deadlineMs, () => new ScribeError("timeout", `timed out waiting for ${what}`));
    this.checkpoints = new CheckpointService({
      selfId: config.node.id,
      signer: state.ledger.checkpoints,
      identity: this.identityState,
      tree: ledgerTree,
      store: state.ledger.store,
      voters,
      members: () => [...this.raw.membership().voters, ...this.raw.membership().learners],
      clientOf: (id) => this.addresses.of(id)?.client,
      isLeader: () => this.leadership.isLeader(),
      leaderClient,
      witnesses: config.witness.endpoints.length === 0 ? undefined : new WitnessSubmitter({ endpoints: config.witness.endpoints, keys: config.witness.keys, timeoutMs: config.witness.timeout_secs * 1000, tree: ledgerTree, logger }),
      logger,
      now: this.now,
      until,
      intervalMs: config.security.cosign_interval_ms,
      timeoutMs: config.api.write_timeout_secs * 1000,
      forkCheckpoints: options.testHooks?.forkCheckpoints === true,
    });
    this.keyRegistry = new KeyRegistry({
      selfId: config.node.id,
      signer: state.ledger.checkpoints,
      identity: this.identityState,
      configuredOrigin: config.security.checkpoint_origin,
      restoredOrigin: () => {
        const origin = state.ledger.store.meta(restoredOriginMeta);
        return typeof origin === "string" ? origin : undefined;
      },
      voters,
      clientOf: (id) => this.addresses.of(id)?.client,
      isLeader: () => this.leadership.isLeader(),
      leaderClient,
      propose: (changes) => this.proposeIdentity(changes),
      logger,
      now: this.now,
      until,
    });
  }

  /** Proposes an identity change (entry kind 3) and waits until it is applied. */
  private async proposeIdentity(changes: IdentityChanges): Promise<void> {
    if (!this.leadership.isLeader()) throw this.leadership.notLeader();
    const result = this.raw.propose([identityEntryData(changes)]);
    if (!result.ok) throw new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `identity proposal refused: ${result.reason}`);
    this.schedule();
    await this.waiters.untilApplied(result.lastIndex, this.now() + this.config.api.write_timeout_secs * 1000, "the identity change");
  }

  /** Opens the ledger and the Raft log, bootstraps or resumes, starts the transport and the ticker. */
  static async open(options: ClusterNodeOptions): Promise<ClusterNode> {
    const state = await openNodeState(options.config, options.logger, options.bootstrap === true);
    const node = new ClusterNode(options, state);
    try {
      await node.start(state.join);
      node.cold = startColdTier({ config: options.config, ledger: state.ledger, logger: options.logger, isLeader: () => node.leadership.isLeader(), checkpointAt: (size) => node.checkpoints.exactly(size), witnessedFrom: options.config.witness.endpoints.length === 0 ? undefined : (size) => node.checkpoints.witnessedExtension(size) });
      node.checkpoints.start();
      node.warnAboutOrigin();
      return node;
    } catch (error) {
      await node.close();
      throw error;
    }
  }

  /** A configured origin that differs from the cluster's fixed one is ignored: say so once. */
  private warnAboutOrigin(): void {
    const configured = this.config.security.checkpoint_origin;
    const origin = this.identityState.origin;
    if (configured !== "" && origin !== undefined && configured !== origin) {
      this.logger.warn({ configured, origin }, "security.checkpoint_origin differs from the cluster's origin, fixed when it was bootstrapped; the cluster's is used");
    }
  }

  private get id(): number {
    return this.config.node.id;
  }

  private async start(join: boolean): Promise<void> {
    const membership = this.raw.membership();
    const multiNode = join || membership.voters.length + membership.learners.length > 1 || this.config.discovery.cluster_secret !== "";
    if (multiNode) {
      this.link = await RaftLink.start({
        config: this.config,
        logger: this.logger,
        addresses: this.addresses,
        onMessage: (message) => this.onMessage(message),
        onPeerLost: (peer) => {
          this.raw.reportUnreachable(peer);
          this.schedule();
        },
      });
      this.sender.link = this.link;
      this.syncPeers();
    }
    this.ticker = setInterval(() => {
      // While a step waits for the disk the core is frozen (module comment); the loop retries it.
      if (!this.loop.storageStalled) this.raw.tick();
      this.waiters.deadlines.sweep();
      this.schedule();
    }, this.config.consensus.tick_interval_ms);
    if (membership.voters.length === 1 && membership.voters[0] === this.id && membership.learners.length === 0) this.raw.campaign();
    this.schedule();
    if (join) await this.join();
  }

  private onMessage(message: Message): void {
    if (this.loop.stopped || this.loop.storageStalled) return;
    this.raw.step(message);
    this.schedule();
  }

  private syncPeers(): void {
    this.syncedBookVersion = this.addresses.version;
    this.link?.syncPeers(this.raw.membership());
  }

  private async join(): Promise<void> {
    const request = { node_id: this.id, address: `${this.config.node.address}:${this.config.network.raft_port}`, client: `${this.config.node.address}:${this.config.network.client_port}` };
    for (let attempt = 0; !this.closed; attempt++) {
      for (const seed of this.config.discovery.seeds) {
        try {
          const answer = await requestJoin(seed, request, 30_000);
          this.addresses.learn(answer.addresses);
          this.syncPeers();
          this.logger.info({ seed }, "joined the cluster");
          return;
        } catch (error) {
          this.logger.warn({ seed, err: (error as Error).message }, "join attempt failed; retrying");
        }
      }
      await Bun.sleep(Math.min(joinBackoffMsMax, 200 * 2 ** attempt));
    }
  }

  /**
   * Tells the watch feed what was applied and who leads (after every Ready, and after entries
   * were imported outside the loop); it wakes the streams only when either changed.
   */
  notifyWatchers(): void {
    this.watchFeed.applied(this.ledger.size, this.raw.softState().leader);
  }

  // ---- running the Ready loop -------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || this.loop.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    const pending = this.loop.cycle();
    if (pending) {
      this.cycling = pending.then(() => {
        this.cycling = undefined;
        if (this.loop.hasWork()) this.schedule();
      });
    } else if (!this.loop.running && this.loop.hasWork()) {
      this.schedule();
    }
  }

  /** The loop failed: stop ticking and taking messages, tell the owner. The ledger stays readable. */
  private fail(error: unknown, onFatal: ((error: unknown) => void) | undefined): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.logger.fatal({ err: error }, "the Raft driver failed; the node stopped serving and must be restarted from its durable state");
    onFatal?.(error);
  }

  // ---- LedgerService ---------------------------------------------------------------------

  propose(ops: Operation[], context?: WriteContext, options?: ProposeOptions): Promise<WriteResult> {
    return this.requests.propose(ops, context, options);
  }

  readBarrier(consistency: Consistency): Promise<void> {
    if (this.closed) return Promise.reject(new ScribeError("shutting_down", "the node is shutting down"));
    try {
      return this.requests.readBarrier(consistency);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  get nodeId(): number {
    return this.id;
  }
  get(key: string): Promise<ReadResult> {
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
  async checkpoint(): Promise<SignedCheckpoint> {
    try {
      return await this.checkpoints.covering(this.ledger.size);
    } catch (error) {
      // An answer never claims more than the node knows: the newest quorum checkpoint it has.
      const served = this.checkpoints.latest();
      if (served && isScribeError(error)) return served;
      throw error;
    }
  }
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.checkpoints.latest();
  }
  checkpointCovering(size: number): Promise<SignedCheckpoint> {
    return this.checkpoints.covering(size);
  }
  get verifierKey(): string {
    return this.ledger.verifierKey;
  }
  checkpointKeys(): string[] {
    return this.identityState.keysOf(this.raw.membership().voters).map((k) => k.key);
  }
  keyHistory(): { origin: string | null; epochs: readonly string[] } {
    return { origin: this.identityState.origin ?? null, epochs: this.identityState.epochs };
  }
  get size(): number {
    return this.ledger.size;
  }

  // ---- status -----------------------------------------------------------------------------

  status(): NodeStatus {
    return describeNode({
      raft: this.raw.status(),
      addresses: this.addresses,
      peers: this.link?.stats().peers,
      appliedIndex: this.storage.appliedIndex(),
      ledgerSize: this.ledger.size,
      running: !this.closed && !this.loop.stopped,
      checkpointDisagreement: this.ledger.checkpoints.lastDisagreement,
      storage: this.storageState.status(),
      failure: this.closed ? undefined : this.loop.stopped?.message,
    });
  }

  readiness(): Readiness {
    const api = this.config.api;
    return assessReadiness({
      status: this.status(),
      running: !this.closed && !this.loop.stopped,
      s3: this.cold?.s3State(),
      policy: { lagEntriesMax: api.ready_lag_entries_max, requiresS3: api.ready_requires_s3 },
    });
  }

  metrics(): Record<string, unknown> {
    const loop = this.loop;
    const counters = { ...loop.counters, ...loop.proposals.counters, ...loop.reads.counters, ...this.forwarder.counters, ...this.storage.counters };
    return {
      ...this.ledger.metrics(),
      raft: { ...counters, first_index: this.raftLog.firstIndex(), last_index: this.raftLog.lastIndex(), queued_ops: loop.proposals.pendingWeight, failed: loop.stopped !== undefined && !this.closed },
      transport: this.link?.stats(),
      cold: this.cold?.metrics() ?? { enabled: false },
      checkpoints: { origin: this.identityState.origin ?? null, voter_keys: this.checkpointKeys().length, key_epochs: this.identityState.epochs.length, ...this.checkpoints.metrics() },
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

  idempotencyRecords(fromIndex: number, toIndex: number): IdempotencyRecord[] {
    return this.ledger.idempotency.range(fromIndex, toIndex);
  }

  ledgerSizeAt(raftIndex: number): number {
    const size = this.raftLog.ledgerSizeAt(raftIndex);
    if (size === undefined) throw new ScribeError("invalid_range", `no ledger size is recorded for Raft index ${raftIndex}`);
    return size;
  }

  addNode(request: { node_id: number; address: string; client?: string }): Promise<Record<string, unknown>> {
    return this.members.addNode(request);
  }

  removeNode(id: number): Promise<Record<string, unknown>> {
    return this.members.removeNode(id);
  }

  async cosign(request: { body?: string; keys_body?: string; latest?: string }): Promise<Record<string, unknown>> {
    if (request.body !== undefined) return { signature: await this.checkpoints.cosign(request.body) };
    if (request.keys_body !== undefined) return { signature: await this.keyRegistry.signKeysBody(request.keys_body) };
    if (request.latest !== undefined) return { size: (await this.checkpoints.receive(request.latest)).checkpoint.size };
    throw new ScribeError("invalid_request", "give body, keys_body or latest");
  }

  async checkpointFor(size: number): Promise<string> {
    if (!this.leadership.isLeader()) throw this.leadership.notLeader();
    return (await this.checkpoints.covering(size)).note;
  }

  registerKey(request: { node_id: number; key: string; proof: string }): Promise<void> {
    return this.keyRegistry.registerFor(request);
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
    if (this.ticker) clearInterval(this.ticker);
    this.checkpoints.stop();
    this.loop.stop(new ScribeError("shutting_down", "the node is shutting down"));
    await this.cycling?.catch(() => undefined);
    await this.cold?.stop();
    await this.link?.close();
    this.ledger.close();
  }
}
