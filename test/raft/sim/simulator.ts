/**
 * @module test/raft/sim/simulator. A seeded, single-process simulator of 3- and 5-node Raft
 * clusters that runs the node's REAL driver: each simulated node is a RawNode driven by the
 * Ready loop of src/cluster/ready-loop.ts (with its proposal and read queues, its deadline
 * mechanism and its early-send exception to the Ready contract), over
 * - simulated storage (store.ts): a memory log and a key-value state machine with crash
 *   semantics — what a handled Ready did not persist durably is lost in a crash; crashes hit
 *   before persisting, after persisting, after the late send, or tear the write between the log
 *   and the hard state;
 * - a simulated network: drop, duplicate, reorder, delay, partition, one-way link failure, heal;
 * - a simulated clock: one step is one millisecond; nodes tick at drifting rates and the loop's
 *   deadlines are swept at each tick, as the node does.
 *
 * Every message crosses the binary codec. Simulated clients put/get/delete through the loop
 * (writes are proposed in groups, reads go through ReadIndex) and their history is checked for
 * linearizability at the end. After every step the simulator checks:
 * - election safety: at most one leader per term, and one granted vote per node and term (seen on
 *   the wire);
 * - log matching: an (index, term) pair always names the same data and the same previous term;
 * - leader completeness: a new leader holds every entry known to be committed;
 * - state machine safety: no two nodes apply different entries at one index;
 * - committed entries survive: durable on a majority, and at the end, after healing, every
 *   member applies all of them.
 * A failure throws SimulationFailure carrying the seed; runSimulation(seed) replays it exactly.
 */

import { DeadlineQueue } from "../../../src/cluster/deadlines.ts";
import { ReadyLoop, type DriverBug } from "../../../src/cluster/ready-loop.ts";
import { Waiters } from "../../../src/cluster/waiters.ts";
import { HistoryRecorder, checkKvHistory, writeAnswerOf } from "../../../src/check/index.ts";
import { ScribeError, SeededRandom, bytesEqual, utf8 } from "../../../src/lib/index.ts";
import { RawNode, decodeMessage, encodeMessage, type CatchupInstall, type ConfigChange, type Entry, type HardState, type Membership, type Message, type NodeId, type Ready } from "../../../src/raft/index.ts";
import { SimCrash, SimStore, type Command, type CrashPoint } from "./store.ts";

/** Bugs to plant: the driver's (DriverBug, in the real Ready loop) or the simulated storage's. */
export type SimBug = DriverBug | "keepStaleEntries";

export interface SimOptions {
  seed: number;
  nodeCount?: 1 | 3 | 5;
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
   * Plant a bug to prove the checks catch it: one of the driver bugs of the Ready loop
   * (src/cluster/ready-loop.ts, DriverBug), or "keepStaleEntries": the simulated storage appends
   * new entries but never overwrites conflicting ones.
   */
  bug?: SimBug;
  /** Log a line per notable event. */
  trace?: boolean;
  /**
   * The core's campaign retry (default CAMPAIGN_RETRY_TICKS). A whole election timeout here is
   * the old behavior, which the election bound check must catch (test/raft/sim-detects.test.ts).
   */
  campaignRetryTicks?: number;
  /** Chance per quiet step of timing an election (default ELECTION_PROBE_CHANCE). */
  electionProbeChance?: number;
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
  /** Leaders crashed or isolated at a quiet moment. */
  electionProbes: number;
  /** Each timed replacement's steps, from the old leader's last message to the new leader. */
  electionSteps: number[];
}

export class SimulationFailure extends Error {
  override name = "SimulationFailure";
  constructor(readonly seed: number, readonly step: number, detail: string, replayFlags = "") {
    super(`simulation seed ${seed} failed at step ${step}: ${detail}\n  replay: bun scripts/raft-sim.ts --seeds 1 --start ${seed} --trace${replayFlags}`);
  }
}

const TICK_STEPS = 10; // one Raft tick every 10 simulated ms
/** Slowest tick period of a drifting clock (TICK_STEPS - 3 + int(7)). */
const TICK_STEPS_MAX = TICK_STEPS + 3;
const ELECTION_TICKS = 10;
/** Randomized election timeouts are drawn from [ELECTION_TICKS, ELECTION_TICKS_MAX]. */
const ELECTION_TICKS_MAX = 2 * ELECTION_TICKS - 1;
/** The core's default for ELECTION_TICKS (max(2, ceil(ELECTION_TICKS / 10))). */
const CAMPAIGN_RETRY_TICKS = 2;
/**
 * The election bound the simulator checks (docs/RAFT.md, "How long an election takes"): after the
 * leader is crashed or isolated with a quorum of voters up and connected, some other node leads a
 * later term within the slowest clock's election timeout max plus this margin: three campaign
 * retries (split votes, late messages of this simulated network, pre-votes dropped by a lease
 * that had not yet run out, votes that came after their round was given up), the first after at
 * most 2 * CAMPAIGN_RETRY_TICKS, each further one at most CAMPAIGN_RETRY_TICKS later than the one
 * before (the core's retry grows by that much for each round whose votes came late).
 */
const ELECTION_MARGIN_STEPS = (2 + 3 + 4) * CAMPAIGN_RETRY_TICKS * TICK_STEPS_MAX;
/** The election bound in steps (simulated ms). */
export const electionBoundSteps = ELECTION_TICKS_MAX * TICK_STEPS_MAX + ELECTION_MARGIN_STEPS;
/** Chance per step, at a quiet moment, to crash or isolate the leader and time the election. */
const ELECTION_PROBE_CHANCE = 0.002;
const CLIENTS = 4;
const KEYS = ["a", "b", "c"];
const CLIENT_TIMEOUT_STEPS = 300;
/** A node's event loop is busy for a step with this chance: requests then queue up (group commit). */
const BUSY_CHANCE = 0.3;
/** The loop's limits in the simulation: small, so a burst exercises them. */
const LOOP_LIMITS = { perCycleMax: 64, weightMax: 256 };

interface SimNode {
  id: NodeId;
  store: SimStore;
  core: RawNode | null;
  loop: ReadyLoop<true> | null;
  waiters: Waiters | null;
  tickOffset: number;
  /** Steps between ticks: clocks run at different rates (drift). */
  tickPeriod: number;
  restarts: number;
  /** The loop failed with a simulated crash during this step. */
  died: boolean;
}

/** A timed election: the leader was crashed or isolated at `startedAt`. */
interface ElectionProbe {
  startedAt: number;
  /** The last step a message of the old leader reached another node (a late one resets its timer). */
  heardAt: number;
  leader: NodeId;
  term: number;
  kind: "crash" | "isolate";
}

interface InFlight {
  bytes: Uint8Array;
  from: NodeId;
  to: NodeId;
  deliverAt: number;
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
  private now = 0;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Granted votes seen on the wire: "voter/term" → candidate. */
  private readonly votes = new Map<string, NodeId>();
  private readonly entryRecord = new Map<string, { data: Uint8Array; type: string; prevTerm: number }>();
  private readonly committed = new Map<number, Entry>();
  /** The term in which each index was first seen committed (by a leader's persisted commit). */
  private readonly commitTermOf = new Map<number, number>();
  private commitRecordedUpTo = 0;
  private committedMax = 0;
  private readonly history = new HistoryRecorder(() => this.now);
  private readonly clientBusy: boolean[] = new Array(CLIENTS).fill(false);
  private readonly clientTarget: NodeId[] = [];
  private opCounter = 0;
  private readonly stats: SimStats;
  private readonly nodeCount: number;
  private faults = true;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly driverBug: DriverBug | undefined;
  private probe: ElectionProbe | null = null;

  constructor(private readonly options: SimOptions) {
    this.rng = new SeededRandom(options.seed);
    this.nodeCount = options.nodeCount ?? 3;
    this.checkQuorum = options.checkQuorum ?? options.seed % 3 !== 2;
    this.preVote = options.preVote ?? options.seed % 5 !== 3;
    this.driverBug = options.bug === "keepStaleEntries" ? undefined : options.bug;
    const ids = Array.from({ length: this.nodeCount }, (_, i) => i + 1);
    // With membership changes on 5 nodes, only 1-3 are bootstrapped; 4 and 5 start empty and
    // must be added (and catch up) before they count.
    const voters = options.membershipChanges && this.nodeCount === 5 ? [1, 2, 3] : ids;
    const bootstrap: Membership = { voters, learners: [], index: 0 };
    const emptyMembership: Membership = { voters: [], learners: [], index: 0 };
    for (const id of ids) {
      const store = new SimStore(id, voters.includes(id) ? bootstrap : emptyMembership, this.storeHooks());
      const sim: SimNode = { id, store, core: null, loop: null, waiters: null, tickOffset: this.rng.int(TICK_STEPS), tickPeriod: TICK_STEPS - 3 + this.rng.int(7), restarts: 0, died: false };
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
      electionProbes: 0,
      electionSteps: [],
    };
  }

  private trace(text: string): void {
    if (this.options.trace) console.log(`[${this.options.seed}@${this.now}] ${text}`);
  }

  private fail(detail: string): never {
    const flags = this.options.bug ? ` --bug ${this.options.bug}` : "";
    throw new SimulationFailure(this.options.seed, this.now, detail, flags);
  }

  /** Starts (or restarts) a node's core and Ready loop over what its store holds. */
  private start(sim: SimNode): void {
    const image = sim.store.live;
    try {
      sim.core = new RawNode({
        id: sim.id,
        storage: image.storage,
        random: new SeededRandom(this.options.seed * 7919 + sim.id * 131 + sim.restarts),
        electionTimeoutTicks: ELECTION_TICKS,
        electionTimeoutTicksMax: ELECTION_TICKS_MAX,
        campaignRetryTicks: this.options.campaignRetryTicks ?? CAMPAIGN_RETRY_TICKS,
        heartbeatTimeoutTicks: 1,
        appliedIndex: image.applied,
        inflightMessagesMax: 4,
        messageBytesMax: 512,
        checkQuorum: this.checkQuorum,
        preVote: this.preVote,
      });
    } catch (error) {
      this.fail(`node ${sim.id} cannot restart from its durable state: ${(error as Error).message}`);
    }
    const core = sim.core!;
    sim.waiters = new Waiters(new DeadlineQueue(() => this.now), image.applied, () => core.softState().leader);
    sim.loop = new ReadyLoop<true>({
      core: sim.core,
      store: sim.store,
      sender: { send: (messages) => this.send(sim, messages) },
      waiters: sim.waiters,
      hardState: image.storage.initialState().hardState,
      limits: LOOP_LIMITS,
      onAdvance: (rd) => this.advanced(sim, rd),
      onFatal: (error) => this.driverFailed(sim, error),
      plantedBug: this.driverBug,
    });
  }

  run(): SimStats {
    const steps = this.options.steps ?? 3000;
    const settle = this.options.settleSteps ?? 3000;
    for (let i = 0; i < steps; i++) this.step(true);
    this.probe = null;
    this.faults = false;
    this.group.clear();
    this.oneWayCuts.clear();
    for (const sim of this.nodes.values()) if (!sim.core) this.restart(sim);
    for (let i = 0; i < settle; i++) {
      this.step(false);
      if (i > 200 && this.converged()) break;
    }
    this.finalChecks();
    this.stats.steps = this.now;
    this.stats.committedIndex = this.committedMax;
    for (const sim of this.nodes.values()) {
      this.stats.catchups += sim.store.counters.catchups;
      this.stats.compactions += sim.store.counters.compactions;
    }
    return this.stats;
  }

  // ---- one step ---------------------------------------------------------------------------

  private step(withFaults: boolean): void {
    this.now++;
    if (withFaults) this.injectFaults();
    for (const sim of this.nodes.values()) {
      if (sim.core && (this.now + sim.tickOffset) % sim.tickPeriod === 0) {
        sim.core.tick();
        sim.waiters!.deadlines.sweep();
      }
    }
    this.deliverDue();
    if (withFaults) this.clientTraffic();
    for (const sim of this.nodes.values()) {
      if (sim.loop && !this.rng.chance(BUSY_CHANCE)) this.runCycle(sim);
    }
    this.checkStep();
    if (this.probe) this.checkElectionBound(this.probe);
  }

  /** One cycle of a node's real Ready loop; a simulated crash inside it takes the node down. */
  private runCycle(sim: SimNode): void {
    const pending = sim.loop!.cycle();
    if (pending) this.fail(`node ${sim.id}'s Ready loop went asynchronous, but the simulated store installs catch-ups synchronously`);
    if (sim.died) this.crash(sim);
  }

  private driverFailed(sim: SimNode, error: unknown): void {
    if (error instanceof SimCrash) {
      this.trace(`node ${sim.id}: ${error.message}`);
      sim.died = true;
      return;
    }
    if (error instanceof SimulationFailure) throw error;
    this.fail(`node ${sim.id}'s driver failed: ${(error as Error)?.stack ?? String(error)}`);
  }

  private injectFaults(): void {
    const r = this.rng;
    // While an election is timed, nothing else breaks: only the network's drops, duplicates,
    // delays and reordering and the busy event loops go on.
    if (this.probe) return;
    if (this.preVote && r.chance(this.options.electionProbeChance ?? ELECTION_PROBE_CHANCE) && this.startElectionProbe()) return;
    if (r.chance(0.0015)) {
      const up = [...this.nodes.values()].filter((s) => s.core);
      if (up.length > 0) this.crash(up[r.int(up.length)]!);
    }
    const restartChance = this.options.bug ? 0.05 : 0.004;
    for (const sim of this.nodes.values()) if (!sim.core && r.chance(restartChance)) this.restart(sim);
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
    if (r.chance(0.0005)) this.transferLeadership();
    if (this.options.membershipChanges && r.chance(0.004)) this.changeMembership();
  }

  /** The process dies: pending requests are lost with it, and so is everything not durable. */
  private crash(sim: SimNode): void {
    this.trace(`crash ${sim.id}`);
    this.stats.crashes++;
    const loop = sim.loop!;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, loop.proposals.counters.largestBatch);
    loop.stop(new ScribeError("unavailable", `node ${sim.id} crashed`));
    sim.core = null;
    sim.loop = null;
    sim.waiters = null;
    sim.died = false;
    sim.store.crash();
  }

  private restart(sim: SimNode): void {
    sim.restarts++;
    this.trace(`restart ${sim.id} (applied ${sim.store.live.applied})`);
    this.start(sim);
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const sim of this.nodes.values()) {
      if (sim.core?.raft.role === "leader" && (!best || sim.core.raft.term > best.core!.raft.term)) best = sim;
    }
    return best;
  }

  private transferLeadership(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const voters = leader.core!.raft.membership.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = voters[this.rng.int(voters.length)]!;
    this.trace(`transfer ${leader.id} -> ${target}`);
    leader.core!.transferLeadership(target);
  }

  private changeMembership(): void {
    const leader = this.currentLeader();
    if (!leader) return;
    const m = leader.core!.raft.membership;
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
    const result = leader.core!.proposeConfigChange(change);
    this.trace(`config ${JSON.stringify(change)} -> ${JSON.stringify(result)}`);
    if (result.ok) this.stats.configChanges++;
  }

  // ---- the election bound ---------------------------------------------------------------

  /**
   * At a quiet moment (every node up, no partition or cut link, one leader that committed in its
   * term, every voter on its membership with no change in flight), crash or isolate the leader
   * and time how long the others take to elect a new one.
   */
  private startElectionProbe(): boolean {
    const leader = this.currentLeader();
    if (!leader || this.group.size > 0 || this.oneWayCuts.size > 0) return false;
    const raft = leader.core!.raft;
    if (raft.log.termOrZero(raft.log.committed) !== raft.term || raft.log.lastIndex() !== raft.log.committed) return false;
    const { voters } = raft.membership;
    if (voters.length < 3) return false; // a quorum of the others needs three voters or more
    for (const sim of this.nodes.values()) {
      const core = sim.core;
      if (!core || sim.store.crashAfterSend) return false;
      if (voters.includes(sim.id) && (core.raft.membership.index !== raft.membership.index || core.raft.log.committed < raft.membership.index)) return false;
    }
    const kind = this.rng.chance(0.5) ? "crash" : "isolate";
    this.probe = { startedAt: this.now, heardAt: this.now, leader: leader.id, term: raft.term, kind };
    this.stats.electionProbes++;
    this.trace(`election probe: ${kind} leader ${leader.id} (term ${raft.term})`);
    if (kind === "crash") this.crash(leader);
    else for (const id of this.nodes.keys()) this.group.set(id, id === leader.id ? 1 : 0);
    return true;
  }

  /**
   * The probe ends when another node leads a later term; past the bound it is a failure. Time
   * counts from the old leader's last message that arrived (this network delays some messages
   * by up to 170 steps, and a late heartbeat rightly restarts a follower's election timer).
   */
  private checkElectionBound(probe: ElectionProbe): void {
    const elapsed = this.now - probe.heardAt;
    const successor = [...this.nodes.values()].find((sim) => sim.id !== probe.leader && sim.core?.raft.role === "leader" && sim.core.raft.term > probe.term);
    if (successor) {
      this.trace(`election probe: node ${successor.id} leads term ${successor.core!.raft.term} after ${elapsed} steps`);
      this.stats.electionSteps.push(elapsed);
      this.probe = null;
      return;
    }
    if (elapsed > electionBoundSteps) {
      const states = [...this.nodes.values()].map((sim) => `${sim.id}:${sim.core ? `${sim.core.raft.role}/t${sim.core.raft.term}` : "down"}`);
      this.fail(`election bound: ${probe.kind === "crash" ? "crashed" : "isolated"} leader ${probe.leader} (term ${probe.term}) not replaced within ${electionBoundSteps} steps (${states.join(", ")})`);
    }
  }

  // ---- network ----------------------------------------------------------------------------

  /** The loop's sender: every message is encoded and put on the simulated network. */
  private send(sim: SimNode, messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === "voteResponse" && !m.reject) this.checkSingleVote(m);
      this.transmit(sim.id, encodeMessage(m), m.to);
    }
    if (sim.store.crashAfterSend) {
      sim.store.crashAfterSend = false;
      throw new SimCrash("crash after sending");
    }
  }

  private transmit(from: NodeId, bytes: Uint8Array, to: NodeId): void {
    const r = this.rng;
    // While an election is timed the network loses nothing (a quorum is connected, as over TCP
    // connections that stay up); it still delays, duplicates and reorders.
    if (this.faults && !this.probe && r.chance(0.05)) return; // drop
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
      if (!target?.core) continue;
      if (this.group.size > 0 && this.group.get(m.from) !== this.group.get(m.to)) continue;
      if (this.oneWayCuts.has(`${m.from}->${m.to}`)) continue;
      this.stats.messagesDelivered++;
      if (this.probe?.leader === m.from) this.probe.heardAt = this.now;
      target.core.step(decodeMessage(m.bytes));
    }
  }

  // ---- what the stores and loops report ---------------------------------------------------

  private storeHooks() {
    return {
      crashPoint: (electing: boolean): CrashPoint => {
        // Planted bugs need crashes mid-protocol to show: crash far more often then, and most
        // often in a step that changes the term or the vote, where durability matters most.
        const chance = this.options.bug ? (electing ? 0.3 : 0.05) : electing ? 0.01 : 0.002;
        if (!this.faults || this.probe || !this.rng.chance(chance)) return 0;
        return (1 + this.rng.int(4)) as CrashPoint;
      },
      persisted: (store: SimStore, entries: readonly Entry[], hardState: HardState | null) => this.persisted(store, entries, hardState),
      applying: (store: SimStore, entry: Entry) => this.applying(store, entry),
      catchupStarted: (store: SimStore, catchup: CatchupInstall) => this.catchupStarted(store, catchup),
      catchupEntry: (store: SimStore, catchup: CatchupInstall, index: number) => this.catchupEntry(store, catchup, index),
      compactionKeep: () => (this.faults && this.rng.chance(0.02) ? this.rng.int(8) : undefined),
      keepStaleEntries: this.options.bug === "keepStaleEntries",
    };
  }

  /** Log matching for every persisted entry; the commit index a leader persisted, by term. */
  private persisted(store: SimStore, entries: readonly Entry[], hardState: HardState | null): void {
    const storage = store.live.storage;
    for (const e of entries) {
      const prevTerm = e.index === 1 ? 0 : storage.term(e.index - 1);
      const key = `${e.index}/${e.term}`;
      const seen = this.entryRecord.get(key);
      if (!seen) {
        this.entryRecord.set(key, { data: e.data, type: e.type, prevTerm });
      } else if (seen.prevTerm !== prevTerm || seen.type !== e.type || !bytesEqual(seen.data, e.data)) {
        this.fail(`log matching: entry (${e.index}, ${e.term}) on node ${store.id} differs from another copy`);
      }
    }
    const raft = this.nodes.get(store.id)!.core!.raft;
    if (hardState && raft.role === "leader" && raft.term === hardState.term) {
      for (let i = this.commitRecordedUpTo + 1; i <= hardState.commit; i++) this.commitTermOf.set(i, hardState.term);
      this.commitRecordedUpTo = Math.max(this.commitRecordedUpTo, hardState.commit);
    }
  }

  /**
   * State machine safety: a node applies only entries it knows committed, in order, and one
   * entry per index cluster-wide.
   */
  private applying(store: SimStore, entry: Entry): void {
    if (entry.index !== store.live.applied + 1) this.fail(`node ${store.id} applies ${entry.index} after ${store.live.applied}`);
    const commit = this.nodes.get(store.id)!.core!.raft.log.committed;
    if (entry.index > commit) this.fail(`state machine safety: node ${store.id} applies ${entry.index} beyond its commit index ${commit}`);
    const known = this.committed.get(entry.index);
    if (known) {
      if (known.term !== entry.term || known.type !== entry.type || !bytesEqual(known.data, entry.data)) {
        this.fail(`state machine safety: node ${store.id} applies (${entry.index}, ${entry.term}) but (${known.index}, ${known.term}) was applied elsewhere`);
      }
    } else {
      this.committed.set(entry.index, entry);
      this.committedMax = Math.max(this.committedMax, entry.index);
    }
  }

  private catchupStarted(store: SimStore, catchup: CatchupInstall): void {
    this.trace(`catchup ${store.id} to ${catchup.index} from ${catchup.from} (applied ${store.live.applied})`);
    const expectedTerm = this.committed.get(catchup.index)?.term;
    if (expectedTerm !== undefined && expectedTerm !== catchup.term) this.fail(`catch-up point (${catchup.index}, ${catchup.term}) but committed term is ${expectedTerm}`);
  }

  private catchupEntry(store: SimStore, catchup: CatchupInstall, index: number): Entry {
    const entry = this.nodes.get(catchup.from)?.store.live.ledger.get(index) ?? this.committed.get(index);
    if (!entry) this.fail(`catch-up of node ${store.id} to ${catchup.index}: no source holds ledger index ${index}`);
    return entry;
  }

  /** After each advanced Ready: elections, and leader completeness for a new leader. */
  private advanced(sim: SimNode, rd: Ready): void {
    if (!rd.softState) return;
    const raft = sim.core!.raft;
    this.trace(`node ${sim.id} ${rd.softState.role} (leader ${rd.softState.leader}) term ${raft.term} last ${raft.log.lastIndex()}/${raft.log.lastTerm()}`);
    if (rd.softState.role !== "leader") return;
    this.stats.elections++;
    this.checkLeaderCompleteness(sim);
  }

  // ---- invariants -------------------------------------------------------------------------

  /**
   * Committed entries survive: each is durable (in the Raft log or, once compacted, in the
   * ledger) on a majority of the bootstrap voters' disks. Only checked without membership
   * changes, where "majority" is well defined; with them, leader completeness and the final
   * check cover it.
   */
  private checkCommittedDurable(): void {
    if (this.options.membershipChanges) return;
    const voters = [...this.nodes.values()];
    const quorum = Math.floor(voters.length / 2) + 1;
    for (let index = 1; index <= this.committedMax; index++) {
      const entry = this.committed.get(index);
      if (!entry) continue;
      let holders = 0;
      for (const sim of voters) {
        const disk = sim.store.disk;
        const inLedger = disk.ledger.get(index)?.term === entry.term;
        let inLog = false;
        if (!inLedger && index >= disk.storage.firstIndex() && index <= disk.storage.lastIndex()) inLog = disk.storage.term(index) === entry.term;
        if (inLedger || inLog) holders++;
      }
      if (holders < quorum) this.fail(`committed entry ${index} (term ${entry.term}) is durable on only ${holders} nodes`);
    }
  }

  /** One vote per term: a node never grants its vote to two candidates in the same term. */
  private checkSingleVote(m: Message): void {
    const key = `${m.from}/${m.term}`;
    const earlier = this.votes.get(key);
    if (earlier === undefined) this.votes.set(key, m.to);
    else if (earlier !== m.to) this.fail(`one vote per term: node ${m.from} voted for ${earlier} and for ${m.to} in term ${m.term}`);
  }

  private checkStep(): void {
    if (this.now % 50 === 0) this.checkCommittedDurable();
    for (const sim of this.nodes.values()) {
      const raft = sim.core?.raft;
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
    const log = sim.core!.raft.log;
    const term = sim.core!.raft.term;
    const first = log.firstIndex();
    for (let i = Math.max(1, first - 1); i <= this.committedMax; i++) {
      const want = this.committed.get(i);
      const committedIn = this.commitTermOf.get(i);
      if (!want || committedIn === undefined || committedIn >= term) continue;
      const have = log.termOrZero(i);
      if (have !== want.term) {
        this.fail(`leader completeness: leader ${sim.id} (term ${term}) has term ${have} at committed index ${i}, want ${want.term}`);
      }
    }
  }

  private members(): NodeId[] {
    const leader = this.currentLeader();
    const m = leader ? leader.core!.raft.membership : { voters: [...this.nodes.keys()], learners: [] };
    return [...m.voters, ...m.learners];
  }

  private converged(): boolean {
    const leader = this.currentLeader();
    if (!leader) return false;
    const target = leader.core!.raft.log.committed;
    if (leader.core!.raft.log.termOrZero(target) !== leader.core!.raft.term) return false;
    return this.members().every((id) => this.nodes.get(id)!.store.live.applied >= target) && this.clientBusy.every((busy) => !busy);
  }

  private finalChecks(): void {
    if (!this.converged()) {
      const states = [...this.nodes.values()].map((s) => `${s.id}:${s.core?.raft.role}/t${s.core?.raft.term}/applied ${s.store.live.applied}`);
      this.fail(`no convergence after settling (committed ${this.committedMax}): ${states.join(", ")}`);
    }
    // Committed entries survive: every member's ledger holds every committed entry.
    for (const id of this.members()) {
      const ledger = this.nodes.get(id)!.store.live.ledger;
      for (const [index, entry] of this.committed) {
        const mine = ledger.get(index);
        if (!mine || mine.term !== entry.term || !bytesEqual(mine.data, entry.data)) {
          this.fail(`committed entry ${index} missing or different on member ${id}`);
        }
      }
    }
    for (const sim of this.nodes.values()) if (sim.loop) this.stats.largestBatch = Math.max(this.stats.largestBatch, sim.loop.proposals.counters.largestBatch);
    const result = checkKvHistory(this.history.operations());
    if (result.result === "violation") {
      const ops = result.operations.map((o) => `${o.kind}(${o.value ?? ""})${o.kind === "get" ? `=${o.output}` : ""}@[${o.callMs},${o.unknown ? "?" : o.returnMs}]`);
      this.fail(`linearizability violation on key "${result.violatingKey}" (${ops.length} operations): ${ops.slice(0, 40).join(" ")}`);
    }
    if (result.result === "timeout") this.fail(`linearizability check timed out on key "${result.timedOutKey}" (not a proven violation)`);
  }

  // ---- clients ----------------------------------------------------------------------------

  private clientTraffic(): void {
    for (let c = 0; c < CLIENTS; c++) {
      if (this.clientBusy[c] || !this.rng.chance(0.05)) continue;
      // Clients mostly stick to the node they think leads, sometimes try another (as after a
      // load-balancer retry); several clients may then talk to two "leaders" at once.
      if (this.rng.chance(0.2)) this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
      const target = this.nodes.get(this.clientTarget[c]!)!;
      if (!target.loop) {
        this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
        continue;
      }
      const key = KEYS[this.rng.int(KEYS.length)]!;
      const kindRoll = this.rng.int(10);
      const id = `c${c}-${++this.opCounter}`;
      if (kindRoll < 4) this.issueRead(c, target, key);
      else this.issueWrite(c, target, { id, kind: kindRoll < 8 ? "put" : "delete", key, value: kindRoll < 8 ? id : undefined });
    }
  }

  /** After a refusal: the node's known leader, or any node. */
  private redirect(c: number, from: SimNode): void {
    const leader = from.core?.softState().leader ?? 0;
    this.clientTarget[c] = leader !== 0 ? leader : 1 + this.rng.int(this.nodeCount);
  }

  private issueWrite(c: number, target: SimNode, command: Command): void {
    const op = this.history.begin({ clientId: c, key: command.key, kind: command.kind, value: command.value });
    this.clientBusy[c] = true;
    target.loop!.propose(utf8(JSON.stringify(command)), 1, this.now + CLIENT_TIMEOUT_STEPS, (outcome) => {
      this.clientBusy[c] = false;
      if (outcome.ok) {
        op.ok();
        this.stats.operations++;
      } else if (writeAnswerOf(outcome.error.status, outcome.error.code) === "unknown") {
        // outcome_unknown: timed out or its node stopped after proposing it: it may or may not take effect.
        op.unknown();
        this.stats.operations++;
        this.stats.unknownOperations++;
        this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
      } else {
        op.failed(); // refused before it reached a log, or lost to another entry at its index
        this.redirect(c, target);
      }
    });
  }

  private issueRead(c: number, target: SimNode, key: string): void {
    const op = this.history.begin({ clientId: c, key, kind: "get" });
    this.clientBusy[c] = true;
    const deadline = this.now + CLIENT_TIMEOUT_STEPS;
    const unanswered = (refused: boolean) => {
      this.clientBusy[c] = false;
      op.failed(); // a read that never returned constrains nothing
      if (refused) this.redirect(c, target);
      else this.clientTarget[c] = 1 + this.rng.int(this.nodeCount);
    };
    target.loop!.read(deadline, (outcome) => {
      if (!outcome.ok) return unanswered(outcome.error.code !== "timeout");
      target.waiters!.waitApplied(outcome.index, deadline, "the read", (error) => {
        if (error) return unanswered(false);
        this.clientBusy[c] = false;
        op.ok(target.store.live.kv.get(key) ?? null);
        this.stats.operations++;
        this.stats.reads++;
      });
    });
  }
}

/** The options CI and the script use for a seed: node count and membership changes vary with it. */
export function simOptionsForSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return { seed, nodeCount: seed % 2 === 1 ? 3 : 5, membershipChanges: seed % 4 === 0, steps: 5000, ...overrides };
}
