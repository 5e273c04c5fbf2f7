/**
 * The node's Ready loop (src/cluster/ready-loop.ts) in the order it promises: a leader's appends
 * leave before its own persist step; votes and responses, and everything of a Ready that changes
 * term or vote, only after it; proposers are answered once their entry is applied. Two real cores
 * over memory logs, a recording store and sender. (The seeded simulator runs the same loop with
 * faults; these pin the order itself.)
 */
import { expect, test } from "bun:test";
import { DeadlineQueue } from "../../src/cluster/deadlines.ts";
import { ReadyLoop, type PersistStep, type ReplicaStore } from "../../src/cluster/ready-loop.ts";
import { Waiters } from "../../src/cluster/waiters.ts";
import { SeededRandom, utf8 } from "../../src/lib/index.ts";
import { MemoryStorage, RawNode, type Message } from "../../src/raft/index.ts";
import { deliver } from "./loop-network.ts";

interface Node {
  core: RawNode;
  loop: ReadyLoop<string>;
  events: string[];
  outbox: Message[];
}

function makeNode(id: number, voters: number[]): Node {
  const storage = new MemoryStorage({ voters, learners: [], index: 0 });
  const core = new RawNode({ id, storage, random: new SeededRandom(id), preVote: false, checkQuorum: false });
  const events: string[] = [];
  const outbox: Message[] = [];
  let applied = 0;
  const store: ReplicaStore<string> = {
    appliedIndex: () => applied,
    installCatchup: () => undefined,
    persistAndApply(step: PersistStep) {
      storage.append(step.entries);
      if (step.hardState) storage.setHardState(step.hardState);
      events.push(`persist${step.sync ? " sync" : ""} entries=${step.entries.length} apply=${step.apply.length}`);
      return step.apply.map((e) => {
        applied = e.index;
        return `applied ${e.index}`;
      });
    },
    compact: () => undefined,
  };
  const sender = {
    send(messages: readonly Message[]) {
      if (messages.length === 0) return;
      events.push(`send ${messages.map((m) => m.type).join(",")}`);
      outbox.push(...messages);
    },
  };
  const waiters = new Waiters(new DeadlineQueue(() => 0), 0);
  const loop = new ReadyLoop<string>({ core, store, sender, waiters, hardState: storage.initialState().hardState, limits: { perCycleMax: 16, weightMax: 16 } });
  return { core, loop, events, outbox };
}

test("votes leave only after the term and vote are persisted; a leader's appends leave before its own persist", () => {
  const nodes = new Map([1, 2, 3].map((id) => [id, makeNode(id, [1, 2, 3])]));
  const one = nodes.get(1)!;
  const two = nodes.get(2)!;
  one.core.campaign();
  one.loop.cycle();
  // The candidate's vote requests follow the persisted term and self-vote.
  expect(one.events).toEqual(["persist sync entries=0 apply=0", "send vote,vote"]);
  deliver(nodes);
  // The voter's grant follows its persisted vote.
  expect(two.events.slice(0, 2)).toEqual(["persist sync entries=0 apply=0", "send voteResponse"]);
  expect(one.core.softState().role).toBe("leader");

  one.events.length = 0;
  let answer = "";
  one.loop.propose(utf8("x"), 1, 1000, (outcome) => (answer = outcome.ok ? String(outcome.result) : outcome.error.code));
  one.loop.cycle();
  // The leader's appends leave first; its own copy is persisted (and fsync'd) after.
  expect(one.events).toEqual(["send append,append", "persist sync entries=1 apply=0"]);
  expect(answer).toBe("");
  deliver(nodes);
  // Answered once the entry is committed and applied, with the state machine's result.
  expect(answer).toMatch(/^applied \d+$/);
  // An apply-only step is not fsync'd.
  expect(one.events).toContain(`persist entries=0 apply=1`);
});
