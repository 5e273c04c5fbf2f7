/**
 * @module cluster-node. A Scribe Ledger node replicated by Raft: the driver around the pure core
 * (src/raft), the SQLite Raft log, the TCP transport and the ledger state machine. A single node
 * is a one-voter group on the same code path.
 *
 * The driver loop (run on setImmediate after any tick, message, proposal or read):
 *   1. queued client proposals → one `propose()` call (one Raft entry per proposal: group commit);
 *      queued linearizable reads → one `readIndex()` call;
 *   2. for each Ready: install a catch-up if asked (async: fetch the ledger range from the leader);
 *      then ONE SQLite transaction persists the new log entries, the hard state and membership AND
 *      applies the committed entries to the ledger (one fsync); then messages are sent; then
 *      proposers and readers are answered; then advance().
 * Persist happens before send; apply shares persist's transaction, which is allowed because only
 * committed entries are applied.
 *
 * Raft entry data: byte 0 is the kind: 1 = ledger command (src/ledger/command.ts), 2 = address
 * book change (JSON). Empty data is the leader's no-op.
 */

import { ConfigError, defaultClientAddress, type Config, type Member } from "../config/index.ts";
import type { ClusterService, Consistency, ForwardedOutcome, LedgerService, MemberStatus, NodeStatus, ReadResult, Receipt, SignedCheckpoint } from "../http/index.ts";
import { commandListMax, decodeCommand, encodeCommand, valueMismatch, type Command, type Operation } from "../ledger/index.ts";
import { ScribeError, SeededRandom, statusOfCode, toHex, type ErrorCode } from "../lib/index.ts";
import type { MerkleTree } from "../merkle/index.ts";
import { decodeMessage, encodeMessage, RawNode, type ConfigChange, type Entry as RaftEntry, type Message, type MessageType, type Ready } from "../raft/index.ts";
import { SqliteRaftStorage, type KeyRange, type KeyState, type StoredEntry } from "../storage/index.ts";
import { createTransport, type Transport } from "../transport/index.ts";
import { startColdTier, type ColdTier } from "./archival.ts";
import { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";
import { fetchAddressBook, fetchEntries, type FetchedEntry, fetchLedgerSizeAt, fetchReadIndex, peerFetch, proposeRemote, peerUrl, requestJoin, type PeerAddress } from "./peer-client.ts";
import { raftTlsOptions } from "./tls.ts";

const kindCommand = 1;
const kindAddresses = 2;

/** Most proposals turned into Raft entries per cycle (the core refuses more in one call). */
const proposalsPerCycleMax = 8192;
/** Most client operations waiting to be proposed: past it writes get 503 (back-pressure). */
const queuedOpsMax = 1_000_000;
/** Entries fetched per request while catching up by ledger range (keeps a page to a few MB). */
const catchupPageEntries = 1000;
/** Most Raft entries one compaction step deletes: keeps each step to a few milliseconds. */
const compactionStepEntriesMax = 4096;
/** Milliseconds a follower waits for a leader to appear before a forwarded write gives up. */
const leaderWaitMsMax = 5000;
/** How close (in entries) a learner's match index must be to the leader's last index to be promoted. */
const promotionLagEntriesMax = 64;

interface Proposal {
  data: Uint8Array;
  opCount: number;
  /** Past this the proposer gets 503 timeout (outcome unknown); swept once per tick. */
  deadlineMs: number;
  settled: boolean;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface InFlight {
  term: number;
  proposal: Proposal;
}

/** A write waiting on a follower to be forwarded to the leader. */
interface Forward {
  ops: Operation[];
  /** Approximate encoded size, for bounding a group. */
  bytes: number;
  resolve: (receipts: Receipt[]) => void;
  reject: (error: Error) => void;
}

interface ReadWaiter {
  resolve: (readIndex: number) => void;
  reject: (error: Error) => void;
}

interface AppliedWaiter {
  index: number;
  resolve: () => void;
}

export interface ClusterNodeOptions {
  config: Config;
  logger: Logger;
  /** Initialize a new cluster from consensus.cluster_members (or a single voter when empty). */
  bootstrap?: boolean;
  now?: () => number;
  /** Seed for election jitter; default derived from the node id and the clock. */
  seed?: number;
}

function addressesOf(members: readonly Member[], clientPort: number): Record<string, PeerAddress> {
  const book: Record<string, PeerAddress> = {};
  for (const m of members) {
    book[String(m.id)] = { raft: m.address, client: m.client ?? defaultClientAddress(m.address, clientPort) };
  }
  return book;
}

export class ClusterNode implements LedgerService, ClusterService {
  readonly config: Config;
  readonly ledger: LedgerState;
  readonly raftLog: SqliteRaftStorage;
  private readonly logger: Logger;
  private readonly now: () => number;
  private raw: RawNode;
  private transport: Transport | undefined;
  private addresses: Record<string, PeerAddress>;
  private queue: Proposal[] = [];
  private forwardQueue: Forward[] = [];
  private forwardScheduled = false;
  private queuedOps = 0;
  private inflight = new Map<number, InFlight>();
  private readQueue: ReadWaiter[] = [];
  private readsInFlight = new Map<string, ReadWaiter[]>();
  private appliedWaiters: AppliedWaiter[] = [];
  private appliedRaftIndex: number;
  private scheduled = false;
  private busy = false;
  private closed = false;
  private lastTimestampMs = 0;
  private readSeq = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private promoting = new Set<number>();
  /** The S3 cold tier (archival on the leader, eviction, read-through); undefined without a bucket. */
  cold: ColdTier | undefined;
  readonly counters = { readies: 0, proposals: 0, forwardedWrites: 0, forwardedGroups: 0, readIndexes: 0, catchups: 0, compactions: 0 };

  private constructor(options: ClusterNodeOptions, ledger: LedgerState, raftLog: SqliteRaftStorage, addresses: Record<string, PeerAddress>) {
    this.config = options.config;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.ledger = ledger;
    this.raftLog = raftLog;
    this.addresses = addresses;
    const applied = raftLog.appliedPoint();
    this.appliedRaftIndex = applied.raftIndex;
    const c = options.config.consensus;
    const tick = c.tick_interval_ms;
    this.lastHardState = raftLog.initialState().hardState;
    this.raw = new RawNode({
      id: options.config.node.id,
      storage: raftLog,
      random: new SeededRandom(options.seed ?? (options.config.node.id * 2654435761 + this.now()) >>> 0),
      electionTimeoutTicks: Math.max(2, Math.round(c.election_timeout_min / tick)),
      heartbeatTimeoutTicks: Math.max(1, Math.round(c.heartbeat_interval_ms / tick)),
      appliedIndex: applied.raftIndex,
      preVote: true,
      checkQuorum: true,
      messageBytesMax: c.max_append_bytes,
      inflightMessagesMax: c.max_inflight_msgs,
    });
  }

  /** Opens the ledger and the Raft log, bootstraps or resumes, starts the transport and the ticker. */
  static async open(options: ClusterNodeOptions): Promise<ClusterNode> {
    const { config, logger } = options;
    const ledger = await LedgerState.open(config, logger);
    try {
      const self: Member = { id: config.node.id, address: `${config.node.address}:${config.network.raft_port}`, client: `${config.node.address}:${config.network.client_port}` };
      const members = config.consensus.cluster_members.length > 0 ? config.consensus.cluster_members : [self];
      const joining = config.discovery.seeds.length > 0;
      const fresh = new SqliteRaftStorage(ledger.store.db, { voters: [], learners: [], index: 0 });
      let raftLog = fresh;
      let addresses = fresh.readMeta<Record<string, PeerAddress>>("addresses") ?? {};
      if (fresh.isEmpty() && !joining) {
        if (config.consensus.cluster_members.length > 0 && !options.bootstrap) {
          throw new ScribeError("invalid_request", "this node has no Raft state: start it with --bootstrap to initialize the cluster in consensus.cluster_members, or with --join to join one");
        }
        if (!members.some((m) => m.id === config.node.id)) {
          throw new ScribeError("invalid_request", `node.id ${config.node.id} is not in consensus.cluster_members`);
        }
        raftLog = new SqliteRaftStorage(ledger.store.db, { voters: members.map((m) => m.id), learners: [], index: 0 });
        addresses = addressesOf(members, config.network.client_port);
        addresses[String(config.node.id)] = { raft: self.address, client: self.client! };
        ledger.store.transaction(() => {
          raftLog.setMembership({ voters: members.map((m) => m.id), learners: [], index: 0 });
          raftLog.writeMeta("addresses", addresses);
          raftLog.recordApplied(0, ledger.size);
        });
        logger.info({ voters: members.map((m) => m.id) }, "bootstrapped a new Raft group");
      }
      addresses[String(config.node.id)] = { raft: self.address, client: self.client! };
      const node = new ClusterNode(options, ledger, raftLog, addresses);
      await node.start(joining && fresh.isEmpty());
      node.cold = startColdTier({ config, ledger, logger, isLeader: () => node.isLeader() });
      return node;
    } catch (error) {
      ledger.close();
      throw error;
    }
  }

  private get id(): number {
    return this.config.node.id;
  }

  private async start(join: boolean): Promise<void> {
    const membership = this.raw.membership();
    const multiNode = join || membership.voters.length + membership.learners.length > 1 || this.config.discovery.cluster_secret !== "";
    if (multiNode) await this.startTransport();
    this.ticker = setInterval(() => {
      this.raw.tick();
      this.expireProposals();
      this.schedule();
    }, this.config.consensus.tick_interval_ms);
    if (membership.voters.length === 1 && membership.voters[0] === this.id && membership.learners.length === 0) this.raw.campaign();
    this.schedule();
    if (join) await this.join();
  }

  private async startTransport(): Promise<void> {
    const secret = this.config.discovery.cluster_secret;
    // sec-net: config validation already refused a weak secret; here it must only be set (exit 2).
    if (secret === "") {
      throw new ConfigError("discovery.cluster_secret must be set for a multi-node cluster: make one with `scribe-node gen-secret` and set the same value on every member");
    }
    this.transport = await createTransport({
      nodeId: this.id,
      listenHost: this.config.network.listen_addr,
      listenPort: this.config.network.raft_port,
      secret,
      tls: raftTlsOptions(this.config),
      frameBytesMax: Math.max(64 * 1024 * 1024, this.config.consensus.max_append_bytes * 2),
      onMessage: (from, payload) => this.onMessage(from, payload),
      // A dropped link may have lost pipelined appends: the leader probes that peer again.
      onPeerConnection: (peer, connected) => {
        if (connected) return;
        this.raw.reportUnreachable(peer);
        this.schedule();
      },
      logger: this.logger,
    });
    this.syncPeers();
  }

  private syncedMembership = "";
  private lastHardState = { term: 0, vote: 0, commit: 0 };

  /** True once per change of the core's membership (the core applies config entries itself). */
  private membershipChanged(): boolean {
    const now = JSON.stringify(this.raw.membership());
    if (now === this.syncedMembership) return false;
    this.syncedMembership = now;
    return true;
  }

  /** Points the transport at every member we know an address for. */
  private syncPeers(): void {
    if (!this.transport) return;
    const membership = this.raw.membership();
    const members = new Set([...membership.voters, ...membership.learners]);
    for (const [id, address] of Object.entries(this.addresses)) {
      const peer = Number(id);
      if (peer === this.id) continue;
      if (members.has(peer) || members.size === 0 || !members.has(this.id)) this.transport.setPeer(peer, address.raft);
    }
    for (const stat of this.transport.stats().peers) {
      if (!this.addresses[String(stat.peerId)]) this.transport.removePeer(stat.peerId);
    }
  }

  private onMessage(from: number, payload: Uint8Array): void {
    let message;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      this.logger.warn({ from, err: error }, "dropping a malformed Raft message");
      return;
    }
    if (message.from !== from || message.to !== this.id) {
      this.logger.warn({ from, claimed: message.from, to: message.to }, "dropping a Raft message with mismatched ids");
      return;
    }
    this.raw.step(message);
    this.schedule();
  }

  private async join(): Promise<void> {
    const request = { node_id: this.id, address: `${this.config.node.address}:${this.config.network.raft_port}`, client: `${this.config.node.address}:${this.config.network.client_port}` };
    for (let attempt = 0; !this.closed; attempt++) {
      for (const seed of this.config.discovery.seeds) {
        try {
          const answer = await requestJoin(seed, request, 30_000);
          this.addresses = { ...answer.addresses, ...this.addresses };
          this.syncPeers();
          this.logger.info({ seed }, "joined the cluster");
          return;
        } catch (error) {
          this.logger.warn({ seed, err: (error as Error).message }, "join attempt failed; retrying");
        }
      }
      await Bun.sleep(Math.min(5000, 200 * 2 ** attempt));
    }
  }

  // ---- the driver loop --------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      this.proposeQueued();
      this.requestReadIndex();
      while (this.raw.hasReady() && !this.closed) await this.handleReady(this.raw.ready());
    } catch (error) {
      this.logger.fatal({ err: error }, "the Raft driver failed; stopping the process so it restarts from its durable state");
      process.exit(70);
    } finally {
      this.busy = false;
    }
    if (this.queue.length > 0 || this.readQueue.length > 0 || this.raw.hasReady()) this.schedule();
  }

  private proposeQueued(): void {
    if (this.queue.length === 0) return;
    if (!this.isLeader()) return this.failQueuedOnLeadershipLoss();
    const batch = this.queue.splice(0, proposalsPerCycleMax);
    const result = this.raw.propose(batch.map((p) => p.data));
    if (!result.ok) {
      const error = new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `proposal refused: ${result.reason}${result.detail ? ` (${result.detail})` : ""}`);
      for (const p of batch) this.settle(p, error);
      return;
    }
    this.counters.proposals += batch.length;
    batch.forEach((proposal, i) => this.inflight.set(result.firstIndex + i, { term: result.term, proposal }));
  }

  private requestReadIndex(): void {
    if (this.readQueue.length === 0) return;
    if (!this.isLeader()) return this.failQueuedOnLeadershipLoss();
    const waiters = this.readQueue.splice(0);
    const context = new Uint8Array(8);
    new DataView(context.buffer).setFloat64(0, ++this.readSeq);
    const result = this.raw.readIndex(context);
    if (!result.ok) {
      const error = new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `read index refused: ${result.reason}`);
      for (const w of waiters) w.reject(error);
      return;
    }
    this.counters.readIndexes++;
    this.readsInFlight.set(toHex(context), waiters);
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.counters.readies++;
    if (rd.catchup) await this.installCatchup(rd);
    const commands: Command[] = [];
    const commandIndexes: number[] = [];
    let addressChanges: Record<string, PeerAddress | null> | undefined;
    for (const entry of rd.committedEntries) {
      if (entry.type !== "normal" || entry.data.length === 0) continue;
      if (entry.data[0] === kindCommand) {
        commands.push(decodeCommand(entry.data.subarray(1)));
        commandIndexes.push(entry.index);
      } else if (entry.data[0] === kindAddresses) {
        addressChanges = { ...addressChanges, ...(JSON.parse(new TextDecoder().decode(entry.data.subarray(1))) as Record<string, PeerAddress | null>) };
      }
    }
    const lastApplied = rd.committedEntries.length > 0 ? rd.committedEntries[rd.committedEntries.length - 1]!.index : this.appliedRaftIndex;
    if (addressChanges) this.addresses = applyAddressChanges(this.addresses, addressChanges);
    // Only new log entries, term/vote and membership must be fsync'd before anything is sent or
    // answered. A Ready that only applies committed entries (and advances the commit index) can
    // commit without fsync: after a crash the durable log is re-applied from the recorded point.
    const termOrVoteChanged = rd.hardState !== null && (rd.hardState.term !== this.lastHardState.term || rd.hardState.vote !== this.lastHardState.vote);
    const mustSync = rd.entries.length > 0 || rd.membership !== null || termOrVoteChanged;
    this.ledger.store.setSyncFull(mustSync && this.config.storage.sync === "full");
    if (rd.hardState) this.lastHardState = rd.hardState;
    // A leader's appends and heartbeats claim nothing about its own disk (the core counts the
    // leader's copy only once advance() reports it durable), so they leave before the fsync and
    // the followers persist in parallel with the leader. Everything else (votes, append
    // responses, anything after a term or vote change) waits until the transaction committed.
    const [early, late] = this.isLeader() && !termOrVoteChanged ? partition(rd.messages, (m) => leaderMessageTypes.has(m.type)) : [[], rd.messages];
    this.send(early);
    const outcomes = this.ledger.applyBatch(commands, () => {
      this.raftLog.append(rd.entries);
      if (rd.hardState) this.raftLog.setHardState(rd.hardState);
      if (rd.membership) this.raftLog.setMembership(rd.membership);
      if (addressChanges) this.raftLog.writeMeta("addresses", this.addresses);
      // Runs after the ledger rows of this batch were appended: nextIndex is the size after apply.
      if (rd.committedEntries.length > 0) this.raftLog.recordApplied(lastApplied, this.ledger.store.nextIndex);
    });
    this.send(late);
    this.appliedRaftIndex = lastApplied;
    this.answerProposals(rd.committedEntries, commandIndexes, outcomes);
    this.answerReads(rd);
    if (rd.softState && rd.softState.role !== "leader") this.failQueuedOnLeadershipLoss();
    this.raw.advance(rd);
    // advance() applies committed config entries to the core's membership.
    if (this.membershipChanged() || addressChanges) this.syncPeers();
    if (rd.committedEntries.length > 0) this.maybeCompact();
    if (this.isLeader()) this.promoteCaughtUpLearners();
  }

  private send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    if (!this.transport) {
      this.logger.warn({ count: messages.length }, "Raft messages for peers but no transport (set discovery.cluster_secret)");
      return;
    }
    for (const message of messages) this.transport.send(message.to, encodeMessage(message));
    this.transport.flush();
  }

  private answerProposals(committed: readonly RaftEntry[], commandIndexes: readonly number[], outcomes: ReturnType<LedgerState["applyBatch"]>): void {
    const outcomeAt = new Map<number, (typeof outcomes)[number]>();
    commandIndexes.forEach((index, i) => outcomeAt.set(index, outcomes[i]!));
    for (const entry of committed) {
      const waiting = this.inflight.get(entry.index);
      if (waiting) {
        this.inflight.delete(entry.index);
        if (waiting.term !== entry.term) {
          this.settle(waiting.proposal, new ScribeError("unavailable", "the proposal was lost to a leadership change; it was not applied, retry"));
        } else {
          const outcome = outcomeAt.get(entry.index);
          if (!outcome) this.settle(waiting.proposal, undefined, entry.index);
          else if (outcome.ok) this.settle(waiting.proposal, undefined, outcome.receipts);
          else this.settle(waiting.proposal, outcome.error);
        }
      }
    }
    if (this.appliedWaiters.length > 0) {
      const ready = this.appliedWaiters.filter((w) => w.index <= this.appliedRaftIndex);
      this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.appliedRaftIndex);
      for (const w of ready) w.resolve();
    }
  }

  private answerReads(rd: Ready): void {
    for (const state of rd.readStates) {
      const key = toHex(state.context);
      const waiters = this.readsInFlight.get(key);
      if (!waiters) continue;
      this.readsInFlight.delete(key);
      for (const w of waiters) w.resolve(state.index);
    }
  }

  private settle(proposal: Proposal, error?: Error, value?: unknown): void {
    if (proposal.settled) return;
    proposal.settled = true;
    this.queuedOps -= proposal.opCount;
    if (error) proposal.reject(error);
    else proposal.resolve(value);
  }

  /** Answers proposals past their deadline with 503 timeout: their outcome is unknown. */
  private expireProposals(): void {
    const now = this.now();
    const expired = (p: Proposal) => p.deadlineMs <= now;
    const timeout = () => new ScribeError("timeout", `the write did not complete within ${this.config.api.write_timeout_secs}s; its outcome is unknown`);
    if (this.queue.some(expired)) {
      for (const p of this.queue.filter(expired)) this.settle(p, timeout());
      this.queue = this.queue.filter((p) => !p.settled);
    }
    for (const [index, { proposal }] of this.inflight) {
      if (!expired(proposal)) continue;
      this.inflight.delete(index);
      this.settle(proposal, timeout());
    }
  }

  /** When this node stops leading, queued (not yet proposed) writes and reads are retried via the new leader. */
  private failQueuedOnLeadershipLoss(): void {
    const error = new ScribeError("not_leader", "leadership changed before the request was proposed; retry");
    for (const p of this.queue.splice(0)) this.settle(p, error);
    for (const w of this.readQueue.splice(0)) w.reject(error);
    for (const waiters of this.readsInFlight.values()) for (const w of waiters) w.reject(error);
    this.readsInFlight.clear();
  }

  /** Compacts the Raft log once more than consensus.log_compaction_threshold applied entries are kept. */
  private maybeCompact(): void {
    const keep = this.config.consensus.log_compaction_threshold;
    const first = this.raftLog.firstIndex();
    if (this.appliedRaftIndex - first + 1 <= keep) return;
    // Compact in bounded steps (one DELETE of a huge range stalls the event loop), each to an
    // applied point with a ledger-size record (catch-up maps a compacted index through it).
    const target = this.raftLog.appliedPointAtOrBelow(Math.min(this.appliedRaftIndex, first - 1 + compactionStepEntriesMax));
    if (target === undefined || target < first) return;
    this.ledger.store.transaction(() => this.raftLog.compact(target));
    this.counters.compactions++;
    this.logger.debug({ compacted_to: target }, "compacted the Raft log");
  }

  // ---- catch-up by ledger range -----------------------------------------------------------

  /**
   * Makes the ledger reflect every committed entry up to rd.catchup.index by fetching the ledger
   * range from the leader (values verified against their hashes, leaves against the leader's),
   * then restarts the Raft log after that point.
   */
  private async installCatchup(rd: Ready): Promise<void> {
    const catchup = rd.catchup!;
    this.counters.catchups++;
    for (let attempt = 0; ; attempt++) {
      try {
        const source = this.addresses[String(catchup.from)] ?? (await this.anyAddressWith(catchup.from));
        const target = await fetchLedgerSizeAt(source.client, catchup.index, 10_000);
        this.logger.info({ from: catchup.from, raft_index: catchup.index, ledger_from: this.ledger.size, ledger_to: target }, "catching up by ledger range");
        while (this.ledger.size < target) {
          const page = await fetchEntries(source.client, this.ledger.size, Math.min(catchupPageEntries, target - this.ledger.size), 30_000);
          if (page.length === 0) throw new ScribeError("unavailable", `${source.client} returned no entries at ${this.ledger.size}`);
          this.applyFetched(page);
        }
        const book = await fetchAddressBook(source.client, 10_000);
        this.addresses = { ...book, [String(this.id)]: this.addresses[String(this.id)]! };
        this.ledger.store.transaction(() => {
          this.raftLog.applyCatchup(catchup.index, catchup.term, catchup.membership);
          this.raftLog.recordApplied(catchup.index, this.ledger.size);
          this.raftLog.writeMeta("addresses", this.addresses);
        });
        this.appliedRaftIndex = catchup.index;
        this.syncPeers();
        return;
      } catch (error) {
        if (this.closed) throw error;
        this.logger.warn({ err: (error as Error).message, attempt }, "catch-up failed; retrying");
        await Bun.sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }

  private async anyAddressWith(id: number): Promise<PeerAddress> {
    for (const address of Object.values(this.addresses)) {
      try {
        const book = await fetchAddressBook(address.client, 5000);
        const found = book[String(id)];
        if (found) return found;
      } catch {
        // try the next one
      }
    }
    throw new ScribeError("unavailable", `no address known for node ${id}`);
  }

  /** Re-applies fetched entries as commands (the state machine is deterministic) and checks every leaf. */
  private applyFetched(page: readonly FetchedEntry[]): void {
    const hasher = this.ledger.hasher;
    const start = this.ledger.size;
    const commands: Command[] = page.map(({ entry, value }, i) => {
      if (entry.index !== start + i) throw new ScribeError("verification_failed", `fetched entry ${entry.index} where ${start + i} was expected`);
      if (entry.op === "delete") return { timestampMs: entry.timestampMs, ops: [{ op: "delete", key: entry.key }] };
      const mismatch = valueMismatch(entry, value, hasher);
      if (mismatch) throw new ScribeError("verification_failed", `fetched value of entry ${entry.index} does not match its entry: ${mismatch}`);
      return { timestampMs: entry.timestampMs, ops: [{ op: "put", key: entry.key, value, valueHash: entry.valueHash, contentType: entry.contentType }] };
    });
    const outcomes = this.ledger.applyBatch(commands);
    outcomes.forEach((outcome, i) => {
      const expected = page[i]!;
      if (!outcome.ok || outcome.receipts[0]!.leaf_hash !== expected.leafHash) {
        this.logger.fatal({ index: expected.entry.index }, "catch-up diverged from the leader's ledger");
        throw new ScribeError("verification_failed", `catch-up diverged at ledger index ${expected.entry.index}`);
      }
    });
  }

  // ---- leadership helpers -----------------------------------------------------------------

  private isLeader(): boolean {
    return this.raw.raft.role === "leader";
  }

  private leaderId(): number {
    return this.raw.raft.lead;
  }

  private leaderClient(): string | undefined {
    const lead = this.leaderId();
    return lead === 0 ? undefined : this.addresses[String(lead)]?.client;
  }

  /** Waits up to `leaderWaitMsMax` for a known leader (elections take a few ticks). */
  private async awaitLeader(): Promise<void> {
    const deadline = this.now() + leaderWaitMsMax;
    while (this.leaderId() === 0 && !this.closed) {
      if (this.now() > deadline) throw new ScribeError("no_leader", "the cluster has no leader right now; retry");
      await Bun.sleep(20);
    }
  }

  private waitApplied(index: number): Promise<void> {
    if (this.appliedRaftIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  private withTimeout<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScribeError("timeout", `${what} did not complete within ${seconds}s; its outcome is unknown`)), seconds * 1000);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // ---- LedgerService: writes --------------------------------------------------------------

  /**
   * Appends one atomic batch through Raft; followers forward it to the leader. A write refused
   * before it reached any log (no leader, leader unreachable, not the leader) is retried until a
   * leader takes it or api.write_timeout_secs passes.
   */
  async propose(ops: Operation[]): Promise<Receipt[]> {
    if (this.closed) throw new ScribeError("shutting_down", "the node is shutting down");
    const deadline = this.now() + this.config.api.write_timeout_secs * 1000;
    for (;;) {
      await this.awaitLeader();
      const leader = this.leaderId();
      try {
        if (this.isLeader()) return await this.proposeLocal(ops);
        const client = this.leaderClient();
        if (!client) throw new ScribeError("no_leader", `no address known for leader ${leader}`);
        return await this.forwardToLeader(ops);
      } catch (error) {
        const refusedBeforeLog = error instanceof ScribeError && (error.code === "not_leader" || error.code === "no_leader");
        if (!refusedBeforeLog || this.closed || this.now() > deadline) throw error;
        await this.awaitLeaderChange(leader, deadline);
      }
    }
  }

  /**
   * Queues a write for the leader. Writes queued in the same turn of the event loop travel in one
   * POST /cluster/propose (a follower's group commit), each still applied or refused on its own.
   */
  private forwardToLeader(ops: Operation[]): Promise<Receipt[]> {
    let bytes = 64;
    for (const op of ops) bytes += 64 + op.key.length * 3 + (op.op === "put" ? op.value.length + op.contentType.length : 0);
    return new Promise<Receipt[]>((resolve, reject) => {
      this.forwardQueue.push({ ops, bytes, resolve, reject });
      if (this.forwardScheduled) return;
      this.forwardScheduled = true;
      setImmediate(() => {
        this.forwardScheduled = false;
        this.flushForwards();
      });
    });
  }

  /** Sends the queued forwards in groups bounded by storage.max_batch_bytes and the list limit. */
  private flushForwards(): void {
    const bytesMax = this.config.storage.max_batch_bytes;
    while (this.forwardQueue.length > 0) {
      let count = 0;
      let bytes = 0;
      while (count < this.forwardQueue.length && count < commandListMax && (count === 0 || bytes + this.forwardQueue[count]!.bytes <= bytesMax)) {
        bytes += this.forwardQueue[count]!.bytes;
        count++;
      }
      void this.sendForwardGroup(this.forwardQueue.splice(0, count));
    }
  }

  private async sendForwardGroup(group: Forward[]): Promise<void> {
    this.counters.forwardedWrites += group.length;
    this.counters.forwardedGroups++;
    try {
      const client = this.leaderClient();
      if (!client) throw new ScribeError("no_leader", `no address known for leader ${this.leaderId()}`);
      const outcomes = await proposeRemote(client, group.map((g) => g.ops), this.config.api.write_timeout_secs * 1000);
      outcomes.forEach((outcome, i) => {
        if ("receipts" in outcome) group[i]!.resolve(outcome.receipts);
        else group[i]!.reject(new ScribeError(outcome.code in statusOfCode ? (outcome.code as ErrorCode) : "unavailable", outcome.error));
      });
    } catch (error) {
      for (const g of group) g.reject(error as Error);
    }
  }

  /** Leader: proposes a follower's forwarded commands, each on its own; refuses all when not leader. */
  async proposeForwarded(commands: Operation[][]): Promise<ForwardedOutcome[]> {
    if (!this.isLeader()) throw new ScribeError("not_leader", `node ${this.id} is not the leader (leader: ${this.leaderId()})`);
    return Promise.all(
      commands.map((ops) =>
        this.proposeLocal(ops).then(
          (receipts): ForwardedOutcome => ({ receipts }),
          (error): ForwardedOutcome => (error instanceof ScribeError ? { error: error.message, code: error.code } : { error: String(error), code: "unavailable" }),
        ),
      ),
    );
  }

  /** Waits until the known leader differs from `previous` (a new election) or the deadline. */
  private async awaitLeaderChange(previous: number, deadline: number): Promise<void> {
    const until = Math.min(deadline, this.now() + leaderWaitMsMax);
    await Bun.sleep(20);
    while (this.leaderId() === previous && this.now() < until && !this.closed) await Bun.sleep(20);
  }

  private proposeLocal(ops: Operation[]): Promise<Receipt[]> {
    if (this.queuedOps + ops.length > queuedOpsMax) {
      return Promise.reject(new ScribeError("unavailable", `write queue is full (${this.queuedOps} operations waiting); retry later`));
    }
    const timestampMs = Math.max(this.now(), this.lastTimestampMs);
    this.lastTimestampMs = timestampMs;
    const command = encodeCommand({ timestampMs, ops });
    const data = new Uint8Array(command.length + 1);
    data[0] = kindCommand;
    data.set(command, 1);
    this.queuedOps += ops.length;
    const deadlineMs = this.now() + this.config.api.write_timeout_secs * 1000;
    return new Promise<Receipt[]>((resolve, reject) => {
      this.queue.push({ data, opCount: ops.length, deadlineMs, settled: false, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Proposes a cluster-internal entry (config change or address book) and waits until it is applied. */
  private async proposeInternal(kind: "config", change: ConfigChange): Promise<void>;
  private async proposeInternal(kind: "addresses", change: Record<string, PeerAddress | null>): Promise<void>;
  private async proposeInternal(kind: "config" | "addresses", change: unknown): Promise<void> {
    if (!this.isLeader()) throw new ScribeError("not_leader", `node ${this.id} is not the leader (leader: ${this.leaderId()})`);
    let index: number;
    if (kind === "config") {
      const result = this.raw.proposeConfigChange(change as ConfigChange);
      if (!result.ok) throw new ScribeError(result.reason === "not_leader" ? "not_leader" : "conflict", `membership change refused: ${result.reason}${result.detail ? ` (${result.detail})` : ""}`);
      index = result.lastIndex;
    } else {
      const json = new TextEncoder().encode(JSON.stringify(change));
      const data = new Uint8Array(json.length + 1);
      data[0] = kindAddresses;
      data.set(json, 1);
      const result = this.raw.propose([data]);
      if (!result.ok) throw new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `proposal refused: ${result.reason}`);
      index = result.lastIndex;
    }
    this.schedule();
    await this.withTimeout(this.waitApplied(index), this.config.api.write_timeout_secs, "the membership change");
  }

  // ---- LedgerService: reads ---------------------------------------------------------------

  /** Linearizable: a ReadIndex round (through the leader when a follower), then wait for apply. */
  async readBarrier(consistency: Consistency): Promise<void> {
    if (this.closed) throw new ScribeError("shutting_down", "the node is shutting down");
    if (consistency === "stale") return;
    // Reads are idempotent: one that found no leader, or a leader that lost its role, is retried
    // through the next leader until api.read_timeout_secs passes.
    const deadline = this.now() + this.config.api.read_timeout_secs * 1000;
    for (;;) {
      await this.awaitLeader();
      const leader = this.leaderId();
      try {
        const readIndex = this.isLeader() ? await this.leaderReadIndex() : await this.followerReadIndex();
        return await this.withTimeout(this.waitApplied(readIndex), this.config.api.read_timeout_secs, "the read");
      } catch (error) {
        const retryable = error instanceof ScribeError && (error.code === "not_leader" || error.code === "no_leader");
        if (!retryable || this.closed || this.now() > deadline) throw error;
        await this.awaitLeaderChange(leader, deadline);
      }
    }
  }

  private leaderReadIndex(): Promise<number> {
    const promise = new Promise<number>((resolve, reject) => {
      this.readQueue.push({ resolve, reject });
      this.schedule();
    });
    return this.withTimeout(promise, this.config.api.read_timeout_secs, "the read index");
  }

  private async followerReadIndex(): Promise<number> {
    const leader = this.leaderClient();
    if (!leader) throw new ScribeError("no_leader", `no address known for leader ${this.leaderId()}`);
    return fetchReadIndex(leader, this.config.api.read_timeout_secs * 1000);
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
  checkpoint(): Promise<SignedCheckpoint> {
    return this.ledger.checkpoint();
  }
  get verifierKey(): string {
    return this.ledger.verifierKey;
  }
  get size(): number {
    return this.ledger.size;
  }

  // ---- status -----------------------------------------------------------------------------

  status(): NodeStatus {
    const r = this.raw.raft;
    const membership = this.raw.membership();
    const peers = new Map((this.transport?.stats().peers ?? []).map((p) => [p.peerId, p]));
    const lastIndex = r.log.lastIndex();
    const describe = (id: number, role: "voter" | "learner"): MemberStatus => {
      const address = this.addresses[String(id)];
      const status: MemberStatus = { id, address: address?.raft ?? "", client: address?.client ?? "", role };
      const progress = r.role === "leader" ? r.progress.get(id) : undefined;
      if (progress) {
        status.match_index = progress.match;
        status.next_index = progress.next;
        status.lag = Math.max(0, lastIndex - progress.match);
      }
      if (id !== this.id) status.connected = peers.get(id)?.connected ?? false;
      return status;
    };
    const roleNames = { leader: "leader", follower: "follower", candidate: "candidate", preCandidate: "pre-candidate" } as const;
    const isLearner = membership.learners.includes(this.id);
    return {
      node_id: this.id,
      role: isLearner ? "learner" : roleNames[r.role],
      term: r.term,
      leader_id: r.lead === 0 ? null : r.lead,
      commit_index: r.log.committed,
      applied_index: this.appliedRaftIndex,
      ledger_size: this.ledger.size,
      membership: [...membership.voters.map((id) => describe(id, "voter")), ...membership.learners.map((id) => describe(id, "learner"))],
      healthy: !this.closed && r.lead !== 0,
    };
  }

  metrics(): Record<string, unknown> {
    return {
      ...this.ledger.metrics(),
      raft: { ...this.counters, first_index: this.raftLog.firstIndex(), last_index: this.raftLog.lastIndex(), queued_ops: this.queuedOps },
      transport: this.transport?.stats(),
      cold: this.cold?.metrics() ?? { enabled: false },
    };
  }

  // ---- ClusterService ---------------------------------------------------------------------

  addressBook(): Record<string, PeerAddress> {
    return { ...this.addresses };
  }

  async readIndex(): Promise<number> {
    if (!this.isLeader()) throw new ScribeError("not_leader", `node ${this.id} is not the leader (leader: ${this.leaderId()})`);
    return this.leaderReadIndex();
  }

  ledgerSizeAt(raftIndex: number): number {
    const size = this.raftLog.ledgerSizeAt(raftIndex);
    if (size === undefined) throw new ScribeError("invalid_range", `no ledger size is recorded for Raft index ${raftIndex}`);
    return size;
  }

  /** Adds a node as a learner (it catches up), then promotes it to voter once it is close. */
  async addNode(request: { node_id: number; address: string; client?: string }): Promise<Record<string, unknown>> {
    if (!this.isLeader()) {
      await this.awaitLeader();
      const leader = this.leaderClient();
      if (this.isLeader() || !leader) return this.addNode(request);
      const response = await peerFetch(peerUrl(leader, "/cluster/nodes/add"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request), signal: AbortSignal.timeout(60_000) });
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new ScribeError((body.code as "conflict") ?? "unavailable", String(body.error ?? `leader answered ${response.status}`));
      return body;
    }
    const id = request.node_id;
    const membership = this.raw.membership();
    if (membership.voters.includes(id)) return { node_id: id, role: "voter", addresses: this.addressBook() };
    await this.proposeInternal("addresses", { [String(id)]: { raft: request.address, client: request.client ?? defaultClientAddress(request.address, this.config.network.client_port) } });
    if (!membership.learners.includes(id)) await this.proposeInternal("config", { kind: "addLearner", nodeId: id });
    this.logger.info({ node_id: id, address: request.address }, "added a learner; it will be promoted once caught up");
    return { node_id: id, role: "learner", addresses: this.addressBook() };
  }

  private promoteCaughtUpLearners(): void {
    const membership = this.raw.membership();
    const last = this.raw.raft.log.lastIndex();
    for (const id of membership.learners) {
      if (this.promoting.has(id)) continue;
      const progress = this.raw.raft.progress.get(id);
      if (!progress || last - progress.match > promotionLagEntriesMax || progress.match === 0) continue;
      this.promoting.add(id);
      this.proposeInternal("config", { kind: "addVoter", nodeId: id }).then(
        () => this.logger.info({ node_id: id }, "promoted a caught-up learner to voter"),
        (error) => this.logger.warn({ node_id: id, err: (error as Error).message }, "promotion failed; will retry"),
      ).finally(() => this.promoting.delete(id));
    }
  }

  async removeNode(id: number): Promise<Record<string, unknown>> {
    if (!this.isLeader()) {
      await this.awaitLeader();
      const leader = this.leaderClient();
      if (this.isLeader() || !leader) return this.removeNode(id);
      const response = await peerFetch(peerUrl(leader, "/cluster/nodes/remove"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ node_id: id }), signal: AbortSignal.timeout(60_000) });
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new ScribeError((body.code as "conflict") ?? "unavailable", String(body.error ?? `leader answered ${response.status}`));
      return body;
    }
    const membership = this.raw.membership();
    if (!membership.voters.includes(id) && !membership.learners.includes(id)) throw new ScribeError("not_found", `node ${id} is not a member`);
    await this.proposeInternal("config", { kind: "remove", nodeId: id });
    await this.proposeInternal("addresses", { [String(id)]: null }).catch(() => undefined);
    this.logger.info({ node_id: id }, "removed a member");
    return { node_id: id, removed: true };
  }

  // ---- shutdown ---------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    const error = new ScribeError("shutting_down", "the node is shutting down");
    for (const p of this.queue.splice(0)) this.settle(p, error);
    for (const w of this.readQueue.splice(0)) w.reject(error);
    for (const { proposal } of this.inflight.values()) this.settle(proposal, error);
    this.inflight.clear();
    while (this.busy) await Bun.sleep(5);
    await this.cold?.stop();
    await this.transport?.close();
    this.ledger.close();
  }
}

/** Messages a leader may send before persisting its own log (see handleReady). */
const leaderMessageTypes: ReadonlySet<MessageType> = new Set(["append", "heartbeat", "catchup", "timeoutNow"]);

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

function applyAddressChanges(book: Record<string, PeerAddress>, changes: Record<string, PeerAddress | null>): Record<string, PeerAddress> {
  const next = { ...book };
  for (const [id, address] of Object.entries(changes)) {
    if (address === null) delete next[id];
    else next[id] = address;
  }
  return next;
}

