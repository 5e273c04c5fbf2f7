/**
 * The node's Ready loop (src/cluster/ready-loop.ts) in the order it promises: a leader's appends
 * leave before its own persist step; votes and responses, and everything of a Ready that changes
 * term or vote, only after it; proposers are answered once their entry is applied. Two real cores
 * over memory logs, a recording store and sender. (The seeded simulator runs the same loop with
 * faults; these pin the order itself.)
 */
import { expect, test } from "bun:test";
import { DeadlineQueue } from "../../src/cluster/deadlines.ts";
import type { PersistStep, ReplicaStore } from "../../src/cluster/ready-contracts.ts";
import { ReadyLoop } from "../../src/cluster/ready-loop.ts";
import { Waiters } from "../../src/cluster/waiters.ts";
import { SeededRandom, utf8 } from "../../src/lib/index.ts";
import { MemoryStorage, RawNode, type Message } from "../../src/raft/index.ts";
import { deliver } from "./loop-network.ts";

interface Node {
  core: RawNode;
  loop: ReadyLoop<string>;
  events: string[];
  outbox: Message[];
  /** With `flushLater`: finishes the oldest background flush (a store like node-storage.ts's). */
  flushes: (() => void)[];
}

function makeNode(id: number, voters: number[], flushLater = false): Node {
  const storage = new MemoryStorage({ voters, learners: [], index: 0 });
  const core = new RawNode({ id, storage, random: new SeededRandom(id), preVote: false, checkQuorum: false });
  const events: string[] = [];
  const outbox: Message[] = [];
  const flushes: (() => void)[] = [];
  let flushing: Promise<void> | undefined;
  let applied = 0;
  const store: ReplicaStore<string> = {
    appliedIndex: () => applied,
    installCatchup: () => undefined,
    persistAndApply(step: PersistStep) {
      storage.append(step.entries);
      if (step.hardState) storage.setHardState(step.hardState);
      const later = flushLater && step.sync && step.mayFlushLater;
      events.push(`persist${step.sync ? (later ? " flush-later" : " sync") : ""} entries=${step.entries.length} apply=${step.apply.length}`);
      if (later) {
        flushing = new Promise<void>((resolve) =>
          flushes.push(() => {
            events.push("flushed");
            resolve();
          }),
        );
      }
      return step.apply.map((e) => {
        applied = e.index;
        return `applied ${e.index}`;
      });
    },
    compact: () => undefined,
    pendingFlush() {
      const pending = flushing;
      flushing = undefined;
      return pending;
    },
  };
  const sender = {
    send(messages: readonly Message[]) {
      if (messages.length === 0) return;
      events.push(`send ${messages.map((m) => m.type).join(",")}`);
      outbox.push(...messages);
    },
  };
  const waiters = new Waiters(new DeadlineQueue(() => 0), 0, () => core.softState().leader);
  const loop = new ReadyLoop<string>({ core, store, sender, waiters, hardState: storage.initialState().hardState, limits: { perCycleMax: 16, weightMax: 16 } });
  return { core, loop, events, outbox, flushes };
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

test("a step flushed in the background counts as persisted only once the flush is done: no vote, response or answer before", async () => {
  const nodes = new Map([1, 2, 3].map((id) => [id, makeNode(id, [1, 2, 3], true)]));
  const one = nodes.get(1)!;
  const two = nodes.get(2)!;
  one.core.campaign();
  const campaigning = one.loop.cycle();
  // The term and self-vote are written, but until their flush the vote requests wait.
  expect(campaigning).toBeInstanceOf(Promise);
  expect(one.events).toEqual(["persist flush-later entries=0 apply=0"]);
  expect(one.loop.running).toBe(true);
  expect(one.outbox).toEqual([]);
  one.flushes.shift()!();
  await campaigning;
  expect(one.events).toEqual(["persist flush-later entries=0 apply=0", "flushed", "send vote,vote"]);
  expect(one.loop.running).toBe(false);

  // A voter's grant leaves after the flush of its vote, not after the write.
  deliver(nodes);
  expect(two.events).toEqual(["persist flush-later entries=0 apply=0"]);
  expect(two.outbox).toEqual([]);
  two.flushes.shift()!();
  await Promise.resolve();
  expect(two.events).toEqual(["persist flush-later entries=0 apply=0", "flushed", "send voteResponse"]);
  nodes.get(3)!.flushes.shift()!();
  await Promise.resolve();
  deliver(nodes);
  // The leader's empty entry: its appends leave before its own flush, as before.
  while (one.flushes.length > 0 || two.flushes.length > 0 || nodes.get(3)!.flushes.length > 0) {
    for (const node of nodes.values()) node.flushes.splice(0).forEach((flush) => flush());
    await Bun.sleep(0);
    deliver(nodes);
    for (const node of nodes.values()) await node.loop.cycle();
  }
  expect(one.core.softState().role).toBe("leader");

  one.events.length = 0;
  two.events.length = 0;
  two.outbox.length = 0;
  let answer = "";
  one.loop.propose(utf8("x"), 1, 1000, (outcome) => (answer = outcome.ok ? String(outcome.result) : outcome.error.code));
  const proposing = one.loop.cycle();
  expect(one.events).toEqual(["send append,append", "persist flush-later entries=1 apply=0"]);
  deliver(nodes);
  // The follower wrote the entry; its response waits for the flush.
  expect(two.events).toEqual(["persist flush-later entries=1 apply=0"]);
  expect(two.outbox).toEqual([]);
  two.flushes.shift()!();
  await Bun.sleep(0);
  expect(two.events).toEqual(["persist flush-later entries=1 apply=0", "flushed", "send appendResponse"]);
  one.flushes.shift()!();
  await proposing;
  expect(answer).toBe("");

  // The next write is proposed as the first one commits: one step appends the second and applies
  // the first. The first was durable on a majority before that step, so its proposer is answered
  // at once; the step's own flush holds back only what concerns the second entry.
  for (const m of two.outbox.splice(0)) one.core.step(m);
  let second = "";
  one.loop.propose(utf8("y"), 1, 1000, (outcome) => (second = outcome.ok ? String(outcome.result) : outcome.error.code));
  one.events.length = 0;
  const both = one.loop.cycle();
  expect(one.events.at(-1)).toBe("persist flush-later entries=1 apply=1");
  expect(one.loop.running).toBe(true);
  expect(answer).toMatch(/^applied \d+$/);
  expect(second).toBe("");
  one.flushes.shift()!();
  await both;
  deliver(nodes);
  for (const node of nodes.values()) node.flushes.splice(0).forEach((flush) => flush());
  await Bun.sleep(0);
  deliver(nodes);
  expect(second).toMatch(/^applied \d+$/);
});
