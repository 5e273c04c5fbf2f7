/**
 * @module test/raft/harness. A tiny deterministic cluster for protocol tests: messages are
 * queued and delivered in order until quiet; links can be cut. Each node persists every Ready
 * into its MemoryStorage (persist, send, apply, advance).
 */

import { SeededRandom } from "../../src/lib/index.ts";
import {
  MemoryStorage,
  RawNode,
  emptyMessage,
  type Ready,
  type Entry,
  type Membership,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
} from "../../src/raft/index.ts";

export interface HarnessNode {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
}

export type HarnessOptions = Partial<Omit<RaftConfig, "id" | "storage" | "random">> & { seed?: number };

export class Harness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  queue: Message[] = [];
  /** Cut links, as "from->to". */
  readonly cut = new Set<string>();
  delivered: Message[] = [];

  constructor(ids: NodeId[], readonly options: HarnessOptions = {}, learners: NodeId[] = []) {
    const membership: Membership = { voters: ids, learners, index: 0 };
    for (const id of [...ids, ...learners]) this.add(id, membership);
  }

  add(id: NodeId, membership: Membership): HarnessNode {
    const storage = new MemoryStorage(membership);
    const node = new RawNode({ ...this.options, id, storage, random: new SeededRandom((this.options.seed ?? 1) * 31 + id) });
    const h: HarnessNode = { id, node, storage, applied: [], readStates: [] };
    this.nodes.set(id, h);
    return h;
  }

  /** Replaces a node's core with a fresh one over the same storage (crash + restart). */
  restart(id: NodeId): void {
    const h = this.get(id);
    const applied = h.applied.length > 0 ? h.applied[h.applied.length - 1]!.index : 0;
    h.node = new RawNode({ ...this.options, id, storage: h.storage, random: new SeededRandom(id), appliedIndex: applied });
  }

  get(id: NodeId): HarnessNode {
    const h = this.nodes.get(id);
    if (!h) throw new Error(`no node ${id}`);
    return h;
  }

  raft(id: NodeId) {
    return this.get(id).node.raft;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Handles the pending Ready of every node once. */
  processReadies(): void {
    for (const h of this.nodes.values()) {
      if (!h.node.hasReady()) continue;
      const rd = h.node.ready();
      h.storage.applyReady(rd);
      this.queue.push(...rd.messages);
      h.applied.push(...rd.committedEntries);
      h.readStates.push(...rd.readStates);
      h.node.advance(rd);
    }
  }

  /** Delivers messages until none are left (bounded). `filter` may drop a message (return false). */
  /** Messages for which this returns false are dropped (default filter of deliverAll). */
  drop: (m: Message) => boolean = () => false;

  deliverAll(filter: (m: Message) => boolean = (m) => !this.drop(m), roundsMax = 10_000): void {
    for (let round = 0; round < roundsMax; round++) {
      this.processReadies();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.cut.has(`${m.from}->${m.to}`) || !filter(m)) continue;
        const target = this.nodes.get(m.to);
        if (!target) continue;
        this.delivered.push(m);
        target.node.step(m);
      }
    }
    throw new Error("deliverAll did not quiesce");
  }

  /** Makes `id` campaign and delivers until quiet. */
  elect(id: NodeId): void {
    this.get(id).node.campaign();
    this.deliverAll();
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.get(id).node.tick();
  }

  /** Ticks every node `times` times, delivering messages after each round. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const h of this.nodes.values()) h.node.tick();
      this.deliverAll();
    }
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((h) => h.node.raft.role === "leader").map((h) => h.id);
  }

  propose(id: NodeId, text: string) {
    return this.get(id).node.propose([new TextEncoder().encode(text)]);
  }

  appliedTexts(id: NodeId): string[] {
    return this.get(id)
      .applied.filter((e) => e.type === "normal" && e.data.length > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }
}

/** Builds an entry list from terms: terms[i] is the term of index i + 1. */
export function entriesOf(terms: number[], firstIndex = 1): Entry[] {
  return terms.map((term, i) => ({ term, index: firstIndex + i, type: "normal" as const, data: new TextEncoder().encode(`e${firstIndex + i}`) }));
}

export interface NodeSetup {
  voters: NodeId[];
  learners?: NodeId[];
  /** Terms of the log's entries (index 1..n). */
  log?: number[];
  term?: number;
  vote?: NodeId;
  commit?: number;
  options?: HarnessOptions;
}

/** A single core over a prepared MemoryStorage, for message-level tests. */
export function makeNode(id: NodeId, setup: NodeSetup): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ voters: setup.voters, learners: setup.learners ?? [], index: 0 });
  storage.append(entriesOf(setup.log ?? []));
  storage.setHardState({ term: setup.term ?? 0, vote: setup.vote ?? 0, commit: setup.commit ?? 0 });
  const node = new RawNode({ preVote: false, checkQuorum: false, ...setup.options, id, storage, random: new SeededRandom(setup.options?.seed ?? id) });
  return { node, storage };
}

/** A message with zero values except the given fields. */
export function msg(type: Message["type"], from: NodeId, to: NodeId, term: number, fields: Partial<Message> = {}): Message {
  return { ...emptyMessage(type, from, to, term), ...fields };
}

/** Takes (and acknowledges) the node's Ready, persisting it to `storage`; returns it. */
export function drain(node: RawNode, storage: MemoryStorage): Ready {
  const rd = node.ready();
  storage.applyReady(rd);
  node.advance(rd);
  return rd;
}

/** Builds a harness whose nodes start from prepared logs and hard states. */
export function harnessWithLogs(setups: Map<NodeId, Omit<NodeSetup, "voters">>, voters: NodeId[], options: HarnessOptions = {}): Harness {
  const h = new Harness([], options);
  for (const [id, setup] of setups) {
    const { node, storage } = makeNode(id, { ...setup, voters, options: { ...options, ...setup.options } });
    h.nodes.set(id, { id, node, storage, applied: [], readStates: [] });
  }
  return h;
}
