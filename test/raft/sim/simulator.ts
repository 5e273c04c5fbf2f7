/**
 * @module test/raft/sim/simulator. A seeded, single-process simulator of 3- and 5-node Raft
 * clusters over a fake network (drop, duplicate, reorder, delay, partition, one-way link failure,
 * heal) and fake durable storage (crash + restart loses everything not persisted by a handled
 * Ready; crashes hit before persisting, after persisting, after sending, or tear the write
 * between the log and the hard state).
 *
 * Every message crosses the binary codec. A key-value state machine runs on top of each node;
 * simulated clients issue put/get/delete (gets through ReadIndex) and their history is checked
 * for linearizability at the end. After every step the simulator checks:
 * - election safety: at most one leader per term;
 * - log matching: an (index, term) pair always names the same data and the same previous term;
 * - leader completeness: a new leader holds every entry known to be committed;
 * - state machine safety: no two nodes apply different entries at one index;
 * - committed entries survive: at the end, after healing, every member applies all of them.
 * A failure throws SimulationFailure carrying the seed; runSimulation(seed) replays it exactly.
 */

import { SeededRandom, bytesEqual, fromUtf8, utf8 } from "../../../src/lib/index.ts";
import {
  MemoryStorage,
  RawNode,
  decodeMessage,
  encodeMessage,
  type ConfigChange,
  type Entry,
  type Membership,
  type NodeId,
  type Ready,
} from "../../../src/raft/index.ts";
import { checkKvHistory, type Operation } from "../../../src/check/index.ts";

export interface SimOptions {
  seed: number;
  nodeCount?: 3 | 5;
  /** Simulated steps with faults and client traffic (one step = one millisecond). */
  steps?: number;
  /** Steps of fault-free settling at the end. */
  settleSteps?: number;
  /** Enable membership changes (remove / re-add voters). */
  membershipChanges?: boolean;
  /** Defaults vary with the seed so every configuration is exercised. */
  checkQuorum?: boolean;
  preVote?: boolean;
  /**
   * Plant a bug in the simulated application, to prove the checks catch it:
   * - "sendBeforePersist": messages leave before the Ready is persisted (and crashes are likelier);
   * - "keepStaleEntries": persistence appends new entries but never overwrites conflicting ones;
   * - "localReads": gets are served from any node's local state, without ReadIndex.
   */
  bug?: "sendBeforePersist" | "keepStaleEntries" | "localReads";
  /** Log a line per notable event. */
  trace?: boolean;
}

export interface SimStats {
  seed: number;
  nodeCount: number;
  checkQuorum: boolean;
  preVote: boolean;
  steps: number;
  elections: number;
  crashes: number;
  partitions: number;
  catchups: number;
  compactions: number;
  configChanges: number;
  messagesDelivered: number;
  committedIndex: number;
  operations: number;
  unknownOperations: number;
  reads: number;
  /** Largest number of client writes proposed in one batch. */
  largestBatch: number;
}

export class SimulationFailure extends Error {
  override name = "SimulationFailure";
  constructor(readonly seed: number, readonly step: number, detail: string, replayFlags = "") {
    super(`simulation seed ${seed} failed at step ${step}: ${detail}\n  replay: bun scripts/raft-sim.ts --seeds 1 --start ${seed} --trace${replayFlags}`);
  }
}

const TICK_STEPS = 10; // one Raft tick every 10 simulated ms
const ELECTION_TICKS = 10;
const CLIENTS = 4;
const KEYS = ["a", "b", "c"];
const CLIENT_TIMEOUT_STEPS = 300;
/** Writes are queued per node and proposed as one batch every this many steps (group commit). */
const GROUP_COMMIT_STEPS = 4;

interface App {
  kv: Map<string, string>;
  applied: number;
  /** Applied entries by index (the "ledger"); durable. */
  ledger: Map<number, Entry>;
  membership: Membership;
}

interface SimNode {
  id: NodeId;
  storage: MemoryStorage;
  node: RawNode | null;
  app: App;
  tickOffset: number;
  /** Steps between ticks: clocks run at different rates (drift). */
  tickPeriod: number;
  restarts: number;
}

interface InFlight {
  bytes: Uint8Array;
  from: NodeId;
  to: NodeId;
  deliverAt: number;
}

interface PendingOp {
  op: Operation;
  node: NodeId;
  /** Writes: where the proposal landed. */
  index: number;
  term: number;
  /** Reads: the context sent with ReadIndex and the confirmed read index. */
  context: string;
  readIndex: number;
}

interface Command {
  id: string;
  kind: "put" | "delete";
  key: string;
  value?: string;
}

export function runSimulation(options: SimOptions): SimStats {
  return new Simulation(options).run();
}

class Simulation {
  private readonly rng: SeededRandom;
  private readonly nodes = new Map<NodeId, SimNode>();
  private network: InFlight[] = [];
  private group = new Map<NodeId, number>();
  /** Directed link failures ("from->to"): asymmetric partitions. */
  private readonly oneWayCuts = new Set<string>();
  /** Group commit: writes queued per node, proposed together every GROUP_COMMIT_STEPS. */
  private readonly writeQueues = new Map<NodeId, { client: number; command: Command }[]>();
  private now = 0;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly entryRecord = new Map<string, { data: Uint8Array; type: string; prevTerm: number }>();
  private readonly committed = new Map<number, Entry>();
  /** The term in which each index was first seen committed (by a leader's persisted commit). */
  private readonly commitTermOf = new Map<number, number>();
  private commitRecordedUpTo = 0;
  private committedMax = 0;
  /** Lower bound for the durability check (entries below it are re-checked anyway: cheap). */
  private readonly durableCheckedBelow = 1;
  private readonly history: Operation[] = [];
  private readonly clients: (PendingOp | null)[] = new Array(CLIENTS).fill(null);
  private readonly clientTarget: NodeId[] = [];
  private opCounter = 0;
  private readonly stats: SimStats;
  private readonly nodeCount: number;
  private faults = true;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRandom(options.seed);
    this.nodeCount = options.nodeCount ?? 3;
    this.checkQuorum = options.checkQuorum ?? options.seed % 3 !== 2;
    this.preVote = options.preVote ?? options.seed % 5 !== 3;
    const ids = Array.from({ length: this.nodeCount }, (_, i) => i + 1);
    // With membership changes on 5 nodes, only 1-3 are bootstrapped; 4 and 5 start empty and
    // must be added (and catch up) before they count.
    const voters = options.membershipChanges && this.nodeCount === 5 ? [1, 2, 3] : ids;
    const bootstrap: Membership = { voters, learners: [], index: 0 };
    const emptyMembership: Membership = { voters: [], learners: [], index: 0 };
    for (const id of ids) {
      const membership = voters.includes(id) ? bootstrap : emptyMembership;
      const storage = new MemoryStorage(membership);
      const app: App = { kv: new Map(), applied: 0, ledger: new Map(), membership: { ...membership } };
      const sim: SimNode = { id, storage, node: null, app, tickOffset: this.rng.int(TICK_STEPS), tickPeriod: TICK_STEPS - 3 + this.rng.int(7), restarts: 0 };
      this.nodes.set(id, sim);
      this.start(sim);
    }
    for (let c = 0; c < CLIENTS; c++) this.clientTarget.push(1 + this.rng.int(this.nodeCount));
    this.stats = {
      seed: options.seed,
      nodeCount: this.nodeCount,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
      steps: 0,
      elections: 0,
      crashes: 0,
      partitions: 0,
      catchups: 0,
      compactions: 0,
      configChanges: 0,
      messagesDelivered: 0,
      committedIndex: 0,
      operations: 0,
      unknownOperations: 0,
      reads: 0,
      largestBatch: 0,
    };
  }

  private trace(text: string): void {
    if (this.options.trace) console.log(`[${this.options.seed}@${this.now}] ${text}`);
  }

  private fail(detail: string): never {
    const flags = this.options.bug ? ` --bug ${this.options.bug}` : "";
    throw new SimulationFailure(this.options.seed, this.now, detail, flags);
  }

  private start(sim: SimNode): void {
    sim.node = new RawNode({
      id: sim.id,
      storage: sim.storage,
      random: new SeededRandom(this.options.seed * 7919 + sim.id * 131 + sim.restarts),
      electionTimeoutTicks: ELECTION_TICKS,
      heartbeatTimeoutTicks: 1,
      appliedIndex: sim.app.applied,
      inflightMessagesMax: 4,
      messageBytesMax: 512,
      checkQuorum: this.checkQuorum,
      preVote: this.preVote,
    });
  }

  run(): SimStats {
    const steps = this.options.steps ?? 3000;
    const settle = this.options.settleSteps ?? 3000;
    for (let i = 0; i < steps; i++) this.step(true);
    this.faults = false;
    this.group.clear();
    this.oneWayCuts.clear();
    for (const sim of this.nodes.values()) if (!sim.node) this.restart(sim);
    for (let i = 0; i < settle; i++) {
      this.step(false);
      if (i > 200 && this.converged()) break;
    }
    this.finalChecks();
    this.stats.steps = this.now;
    this.stats.committedIndex = this.committedMax;
    return this.stats;
  }

  // ---- one step ---------------------------------------------------------------------------

  private step(withFaults: boolean): void {
    this.now++;
    if (withFaults) this.injectFaults();
    for (const sim of this.nodes.values()) {
      if (sim.node && (this.now + sim.tickOffset) % sim.tickPeriod === 0) sim.node.tick();
    }
    this.deliverDue();
    if (withFaults) this.clientTraffic();
    if (this.now % GROUP_COMMIT_STEPS === 0) this.flushWrites();
    this.expireClients();
    for (const sim of this.nodes.values()) this.handleReady(sim, withFaults);
    this.checkStep();
  }

  private injectFaults(): void {
    const r = this.rng;
    if (r.chance(0.0015)) {
      const up = [...this.nodes.values()].filter((s) => s.node);
      if (up.length > 0) this.crash(up[r.int(up.length)]!);
    }
    const restartChance = this.options.bug ? 0.05 : 0.004;
    for (const sim of this.nodes.values()) if (!sim.node && r.chance(restartChance)) this.restart(sim);
    if (r.chance(0.001)) {
      this.group.clear();
      for (const id of this.nodes.keys()) this.group.set(id, r.int(2));
      this.stats.partitions++;
      this.trace(`partition ${JSON.stringify([...this.group])}`);
    }
    if (r.chance(0.0007)) {
      const leader = this.currentLeader();
      if (leader) {
        // Isolate the leader with clients still talking to it: the stale-read trap.
        for (const id of this.nodes.keys()) this.group.set(id, id === leader.id ? 1 : 0);
        this.stats.partitions++;
        this.trace(`isolate leader ${leader.id}`);
      }
    }
    if (r.chance(0.0007)) {
      const ids = [...this.nodes.keys()];
      const from = ids[r.int(ids.length)]!;
      const to = ids[r.int(ids.length)]!;
      if (from !== to) {
        this.oneWayCuts.add(`${from}->${to}`);
        this.trace(`cut ${from}->${to}`);
      }
    }
    if ((this.group.size > 0 || this.oneWayCuts.size > 0) && r.chance(0.003)) {
      this.group.clear();
      this.oneWayCuts.clear();
      this.trace("heal");
    }
    if (r.chance(0.003)) this.compactSomeNode();
    if (r.chance(0.0005)) this.transferLeadership();
    if (this.options.membershipChanges && r.chance(0.004)) this.changeMembership();
  }

  private crash(sim: SimNode): void {
    this.trace(`crash ${sim.id}`);
    sim.node = null;
    this.stats.crashes++;
    this.abandonClientsAt(sim.id);
  }

  private restart(sim: SimNode): void {
    sim.restarts++;

    this.trace(`restart ${sim.id} (applied ${sim.app.applied})`);
    this.start(sim);
  }

  private compactSomeNode(): void {
    const ids = [...this.nodes.keys()];
    const sim = this.nodes.get(ids[this.rng.int(ids.length)]!)!;
    const keep = this.rng.int(8);
    const upTo = Math.min(sim.app.applied, sim.storage.lastIndex()) - keep;
    if (upTo >= sim.storage.firstIndex()) {
      sim.storage.compact(upTo);
      this.stats.compactions++;
      this.trace(`compact ${sim.id} to ${upTo}`);
    }
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const sim of this.nodes.values()) {
      if (sim.node?.raft.role === "leader" && (!best || sim.node.raft.term > best.node!.raft.term)) best = sim;
    }
    return best;
  }

  private transferLeadership(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const voters = leader.node!.raft.membership.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = voters[this.rng.int(voters.length)]!;
    this.trace(`transfer ${leader.id} -> ${target}`);
    leader.node!.transferLeadership(target);
  }

  private changeMembership(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const m = leader.node!.raft.membership;
    const all = [...this.nodes.keys()];
    const absent = all.filter((id) => !m.voters.includes(id));
    let change: ConfigChange;
    if (absent.length > 0 && (m.voters.length <= 3 || this.rng.chance(0.5))) {
      const nodeId = absent[this.rng.int(absent.length)]!;
      const asLearner = !m.learners.includes(nodeId) && this.rng.chance(0.3);
      change = { kind: asLearner ? "addLearner" : "addVoter", nodeId };
    } else if (m.voters.length > 3) {
      change = { kind: "remove" as const, nodeId: m.voters[this.rng.int(m.voters.length)]! };
    } else return;
    const result = leader.node!.proposeConfigChange(change);
    this.trace(`config ${JSON.stringify(change)} -> ${JSON.stringify(result)}`);
    if (result.ok) this.stats.configChanges++;
  }

  // ---- network ----------------------------------------------------------------------------

  private send(from: NodeId, bytes: Uint8Array, to: NodeId): void {
    const r = this.rng;
    if (this.faults && r.chance(0.05)) return; // drop
    const delay = this.faults && r.chance(0.05) ? 20 + r.int(150) : 1 + r.int(8);
    this.network.push({ bytes, from, to, deliverAt: this.now + delay });
    if (this.faults && r.chance(0.03)) this.network.push({ bytes, from, to, deliverAt: this.now + 1 + r.int(40) });
  }

  private deliverDue(): void {
    const due: InFlight[] = [];
    const later: InFlight[] = [];
    for (const m of this.network) (m.deliverAt <= this.now ? due : later).push(m);
    this.network = later;
    // Reorder: deliver due messages in a random order.
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [due[i], due[j]] = [due[j]!, due[i]!];
    }
    for (const m of due) {
      const target = this.nodes.get(m.to);
      if (!target?.node) continue;
      if (this.group.size > 0 && this.group.get(m.from) !== this.group.get(m.to)) continue;
      if (this.oneWayCuts.has(`${m.from}->${m.to}`)) continue;
      const msg = decodeMessage(m.bytes);
      this.stats.messagesDelivered++;
      target.node.step(msg);
    }
  }

  // ---- the Ready loop (persist, send, apply, advance), with crash points -----------------

  private handleReady(sim: SimNode, withFaults: boolean): void {
    const node = sim.node;
    if (!node || !node.hasReady()) return;
    const rd = node.ready();
    const bugSend = this.options.bug === "sendBeforePersist";
    // Planted bugs need crashes mid-protocol to show: crash far more often then.
    const crashPoint = withFaults && this.rng.chance(this.options.bug ? 0.05 : 0.002) ? 1 + this.rng.int(4) : 0;
    if (bugSend) for (const m of rd.messages) this.send(sim.id, encodeMessage(m), m.to);
    if (crashPoint === 1) return this.crash(sim); // nothing of this Ready was persisted
    if (rd.softState?.role === "leader") this.stats.elections++;
    if (rd.softState) this.trace(`node ${sim.id} ${rd.softState.role} (leader ${rd.softState.leader}) term ${node.raft.term} last ${node.raft.log.lastIndex()}/${node.raft.log.lastTerm()}`);
    if (rd.catchup) this.installCatchup(sim, rd);
    if (crashPoint === 4) {
      // A torn write: the log (and catch-up point) reached the disk, the hard state did not.
      sim.storage.applyReady({ ...rd, hardState: null, membership: null });
      return this.crash(sim);
    }
    if (this.options.bug === "keepStaleEntries") {
      const last = sim.storage.lastIndex();
      sim.storage.applyReady({ ...rd, entries: rd.entries.filter((e) => e.index > last) });
    } else sim.storage.applyReady(rd);
    this.recordPersisted(sim, rd);
    if (rd.hardState && node.raft.role === "leader" && node.raft.term === rd.hardState.term) {
      for (let i = this.commitRecordedUpTo + 1; i <= rd.hardState.commit; i++) this.commitTermOf.set(i, rd.hardState.term);
      this.commitRecordedUpTo = Math.max(this.commitRecordedUpTo, rd.hardState.commit);
    }
    if (crashPoint === 2) return this.crash(sim);
    if (!bugSend) for (const m of rd.messages) this.send(sim.id, encodeMessage(m), m.to);
    if (crashPoint === 3) return this.crash(sim);
    for (const entry of rd.committedEntries) this.apply(sim, entry);
    if (rd.membership) sim.app.membership = rd.membership;
    this.collectReadStates(sim, rd);
    node.advance(rd);
    if (rd.softState?.role === "leader") this.checkLeaderCompleteness(sim);
  }

  private installCatchup(sim: SimNode, rd: Ready): void {
    const c = rd.catchup!;
    this.stats.catchups++;
    this.trace(`catchup ${sim.id} to ${c.index} from ${c.from} (applied ${sim.app.applied})`);
    const source = this.nodes.get(c.from);
    for (let i = sim.app.applied + 1; i <= c.index; i++) {
      const entry = source?.app.ledger.get(i) ?? this.committed.get(i);
      if (!entry) this.fail(`catch-up of node ${sim.id} to ${c.index}: no source holds ledger index ${i}`);
      this.apply(sim, entry);
    }
    const expectedTerm = this.committed.get(c.index)?.term;
    if (expectedTerm !== undefined && expectedTerm !== c.term) this.fail(`catch-up point (${c.index}, ${c.term}) but committed term is ${expectedTerm}`);
    sim.app.membership = c.membership;
  }

  private apply(sim: SimNode, entry: Entry): void {
    const app = sim.app;
    if (entry.index <= app.applied) return; // already applied before a restart
    if (entry.index !== app.applied + 1) this.fail(`node ${sim.id} applies ${entry.index} after ${app.applied}`);
    const known = this.committed.get(entry.index);
    if (known) {
      if (known.term !== entry.term || known.type !== entry.type || !bytesEqual(known.data, entry.data)) {
        this.fail(`state machine safety: node ${sim.id} applies (${entry.index}, ${entry.term}) but (${known.index}, ${known.term}) was applied elsewhere`);
      }
    } else {
      this.committed.set(entry.index, entry);
      this.committedMax = Math.max(this.committedMax, entry.index);
    }
    app.applied = entry.index;
    app.ledger.set(entry.index, entry);
    if (entry.type === "normal" && entry.data.length > 0) {
      const command = JSON.parse(fromUtf8(entry.data)) as Command;
      if (command.kind === "put") app.kv.set(command.key, command.value!);
      else app.kv.delete(command.key);
    }
    this.completeWrites(sim, entry);
    this.completeReads(sim);
  }

  private recordPersisted(sim: SimNode, rd: Ready): void {
    for (const e of rd.entries) {
      const prevTerm = e.index === 1 ? 0 : sim.storage.term(e.index - 1);
      const key = `${e.index}/${e.term}`;
      const seen = this.entryRecord.get(key);
      if (!seen) {
        this.entryRecord.set(key, { data: e.data, type: e.type, prevTerm });
      } else if (seen.prevTerm !== prevTerm || seen.type !== e.type || !bytesEqual(seen.data, e.data)) {
        this.fail(`log matching: entry (${e.index}, ${e.term}) on node ${sim.id} differs from another copy`);
      }
    }
  }

  // ---- invariants -------------------------------------------------------------------------

  /**
   * Committed entries survive: each is durable (in the Raft log or, once compacted, in the
   * ledger) on a majority of the bootstrap voters. Only checked without membership changes,
   * where "majority" is well defined; with them, leader completeness and the final check cover it.
   */
  private checkCommittedDurable(): void {
    if (this.options.membershipChanges) return;
    const voters = [...this.nodes.values()];
    const quorum = Math.floor(voters.length / 2) + 1;
    for (let index = this.durableCheckedBelow; index <= this.committedMax; index++) {
      const entry = this.committed.get(index);
      if (!entry) continue;
      let holders = 0;
      for (const sim of voters) {
        const inLedger = sim.app.ledger.get(index)?.term === entry.term;
        let inLog = false;
        if (!inLedger && index >= sim.storage.firstIndex() && index <= sim.storage.lastIndex()) inLog = sim.storage.term(index) === entry.term;
        if (inLedger || inLog) holders++;
      }
      if (holders < quorum) this.fail(`committed entry ${index} (term ${entry.term}) is durable on only ${holders} nodes`);
    }
  }

  private checkStep(): void {
    if (this.now % 50 === 0) this.checkCommittedDurable();
    for (const sim of this.nodes.values()) {
      const raft = sim.node?.raft;
      if (!raft || raft.role !== "leader") continue;
      const previous = this.leaderOfTerm.get(raft.term);
      if (previous === undefined) this.leaderOfTerm.set(raft.term, sim.id);
      else if (previous !== sim.id) this.fail(`election safety: nodes ${previous} and ${sim.id} both lead term ${raft.term}`);
    }
  }

  /**
   * Leader completeness (§5.4): an entry committed in a term before this leader's term is in
   * its log. (Entries committed in later terms need not be: a stale node can still win an
   * older term's election.)
   */
  private checkLeaderCompleteness(sim: SimNode): void {
    const log = sim.node!.raft.log;
    const term = sim.node!.raft.term;
    const first = log.firstIndex();
    for (let i = Math.max(1, first - 1); i <= this.committedMax; i++) {
      const want = this.committed.get(i);
      const committedIn = this.commitTermOf.get(i);
      if (!want || committedIn === undefined || committedIn >= term) continue;
      const have = log.termOrZero(i);
      if (have !== want.term) {
        this.fail(`leader completeness: leader ${sim.id} (term ${sim.node!.raft.term}) has term ${have} at committed index ${i}, want ${want.term}`);
      }
    }
  }

  private members(): NodeId[] {
    const leader = this.currentLeader();
    const m = leader ? leader.node!.raft.membership : { voters: [...this.nodes.keys()], learners: [] };
    return [...m.voters, ...m.learners];
  }

  private converged(): boolean {
    const leader = this.currentLeader();
    if (!leader) return false;
    const target = leader.node!.raft.log.committed;
    if (leader.node!.raft.log.termOrZero(target) !== leader.node!.raft.term) return false;
    return this.members().every((id) => this.nodes.get(id)!.app.applied >= target) && this.clients.every((c) => c === null);
  }

  private finalChecks(): void {
    if (!this.converged()) {
      const states = [...this.nodes.values()].map((s) => `${s.id}:${s.node?.raft.role}/t${s.node?.raft.term}/applied ${s.app.applied}`);
      this.fail(`no convergence after settling (committed ${this.committedMax}): ${states.join(", ")}`);
    }
    // Committed entries survive: every member's ledger holds every committed entry.
    for (const id of this.members()) {
      const app = this.nodes.get(id)!.app;
      for (const [index, entry] of this.committed) {
        const mine = app.ledger.get(index);
        if (!mine || mine.term !== entry.term || !bytesEqual(mine.data, entry.data)) {
          this.fail(`committed entry ${index} missing or different on member ${id}`);
        }
      }
    }
    const result = checkKvHistory(this.history);
    if (result.result === "violation") {
      const ops = result.operations.map((o) => `${o.kind}(${o.value ?? ""})${o.kind === "get" ? `=${o.output}` : ""}@[${o.callMs},${o.unknown ? "?" : o.returnMs}]`);
      this.fail(`linearizability violation on key "${result.violatingKey}" (${ops.length} operations): ${ops.slice(0, 40).join(" ")}`);
    }
    if (result.result === "timeout") this.fail(`linearizability check timed out on key "${result.timedOutKey}" (not a proven violation)`);
  }

  // ---- clients ----------------------------------------------------------------------------

  private clientTraffic(): void {
    for (let c = 0; c < CLIENTS; c++) {
      if (this.clients[c] !== null || !this.rng.chance(0.05)) continue;
      // Clients mostly stick to the node they think leads, sometimes try another (as after a
      // load-balancer retry); several clients may then talk to two "leaders" at once.
      if (this.rng.chance(0.2)) this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
      const target = this.nodes.get(this.clientTarget[c]!)!;
      if (!target.node) {
        this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
        continue;
      }
      const key = KEYS[this.rng.int(KEYS.length)]!;
      const kindRoll = this.rng.int(10);
      const id = `c${c}-${++this.opCounter}`;
      if (kindRoll < 4) this.issueRead(c, target, key, id);
      else this.issueWrite(c, target, { id, kind: kindRoll < 8 ? "put" : "delete", key, value: kindRoll < 8 ? id : undefined });
    }
  }

  private redirect(c: number, leader: NodeId): void {
    this.clientTarget[c] = leader !== 0 ? leader : 1 + this.rng.int(this.nodeCount);
  }

  private issueWrite(c: number, target: SimNode, command: Command): void {
    const op: Operation = { clientId: c, key: command.key, kind: command.kind, value: command.value, callMs: this.now, returnMs: 0 };
    this.clients[c] = { op, node: target.id, index: -1, term: 0, context: "", readIndex: -1 };
    const queue = this.writeQueues.get(target.id) ?? [];
    queue.push({ client: c, command });
    this.writeQueues.set(target.id, queue);
  }

  /** Proposes each node's queued writes as one batch (entries firstIndex..lastIndex in order). */
  private flushWrites(): void {
    for (const [id, queue] of this.writeQueues) {
      if (queue.length === 0) continue;
      this.writeQueues.set(id, []);
      const live = queue.filter((w) => this.clients[w.client]?.node === id && this.clients[w.client]!.index === -1);
      const node = this.nodes.get(id)!.node;
      if (!node || live.length === 0) continue;
      const result = node.propose(live.map((w) => utf8(JSON.stringify(w.command))));
      if (result.ok) this.stats.largestBatch = Math.max(this.stats.largestBatch, live.length);
      live.forEach((w, k) => {
        if (!result.ok) {
          this.clients[w.client] = null; // refused: never happened
          this.redirect(w.client, result.leader);
        } else {
          this.clients[w.client]!.index = result.firstIndex + k;
          this.clients[w.client]!.term = result.term;
        }
      });
    }
  }

  private issueRead(c: number, target: SimNode, key: string, id: string): void {
    if (this.options.bug === "localReads") {
      const op: Operation = { clientId: c, key, kind: "get", callMs: this.now, returnMs: 0, output: target.app.kv.get(key) ?? null };
      this.clients[c] = { op, node: target.id, index: 0, term: 0, context: id, readIndex: -1 };
      return this.finish(c, false);
    }
    const result = target.node!.readIndex(utf8(id));
    if (!result.ok) return this.redirect(c, result.leader);
    const op: Operation = { clientId: c, key, kind: "get", callMs: this.now, returnMs: 0 };
    this.clients[c] = { op, node: target.id, index: 0, term: 0, context: id, readIndex: -1 };
  }

  private finish(c: number, unknown: boolean): void {
    const pending = this.clients[c]!;
    this.clients[c] = null;
    if (pending.op.kind === "get" && unknown) return; // a read that never returned constrains nothing
    pending.op.returnMs = this.now;
    if (unknown) {
      pending.op.unknown = true;
      this.stats.unknownOperations++;
    }
    if (pending.op.kind === "get") this.stats.reads++;
    this.stats.operations++;
    this.history.push(pending.op);
  }

  private completeWrites(sim: SimNode, entry: Entry): void {
    for (let c = 0; c < CLIENTS; c++) {
      const p = this.clients[c];
      if (!p || p.op.kind === "get" || p.node !== sim.id || p.index !== entry.index) continue;
      if (entry.term === p.term) this.finish(c, false);
      else this.clients[c] = null; // another entry won this index: ours was never committed
    }
  }

  private collectReadStates(sim: SimNode, rd: Ready): void {
    for (const rs of rd.readStates) {
      const context = fromUtf8(rs.context);
      for (const p of this.clients) if (p && p.node === sim.id && p.context === context) p.readIndex = rs.index;
    }
    this.completeReads(sim);
  }

  private completeReads(sim: SimNode): void {
    for (let c = 0; c < CLIENTS; c++) {
      const p = this.clients[c];
      if (!p || p.op.kind !== "get" || p.node !== sim.id || p.readIndex < 0 || sim.app.applied < p.readIndex) continue;
      p.op.output = sim.app.kv.get(p.op.key) ?? null;
      this.finish(c, false);
    }
  }

  private abandonClientsAt(id: NodeId): void {
    for (let c = 0; c < CLIENTS; c++) {
      const p = this.clients[c];
      if (p?.node !== id) continue;
      if (p.op.kind !== "get" && p.index === -1) this.clients[c] = null; // still queued: never proposed
      else this.finish(c, true);
    }
  }

  private expireClients(): void {
    for (let c = 0; c < CLIENTS; c++) {
      const p = this.clients[c];
      if (p && this.now - p.op.callMs > CLIENT_TIMEOUT_STEPS) {
        this.finish(c, true);
        this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
      }
    }
  }
}

/** The options CI and the script use for a seed: node count and membership changes vary with it. */
export function simOptionsForSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return { seed, nodeCount: seed % 2 === 1 ? 3 : 5, membershipChanges: seed % 4 === 0, steps: 5000, ...overrides };
}
