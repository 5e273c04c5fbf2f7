/**
 * One test (or more) per rule of Figure 2 of the Raft paper ("Rules for Servers", RequestVote
 * and AppendEntries receiver implementations, commit rule).
 */
import { describe, expect, test } from "bun:test";
import { SeededRandom } from "../../src/lib/index.ts";
import { MemoryStorage, RawNode, type Message } from "../../src/raft/index.ts";
import { Harness, drain, entriesOf, makeNode, msg } from "./harness.ts";

const sent = (messages: Message[], type: Message["type"]) => messages.filter((m) => m.type === type);

describe("Figure 2, all servers", () => {
  test("a message with a higher term converts any role to follower at that term", () => {
    for (const role of ["follower", "candidate", "leader"] as const) {
      const { node } = makeNode(1, { voters: [1, 2, 3], term: 1 });
      if (role !== "follower") node.campaign();
      if (role === "leader") node.step(msg("voteResponse", 2, 1, 2));
      expect(node.raft.role).toBe(role);
      node.step(msg("append", 3, 1, 9, { index: 0, logTerm: 0 }));
      expect(node.raft.role).toBe("follower");
      expect(node.raft.term).toBe(9);
      expect(node.raft.vote).toBe(0);
      expect(node.raft.lead).toBe(3);
    }
  });

  test("a message with a lower term is not acted upon; a stale leader is told the term", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], term: 5, log: [1, 2] });
    node.step(msg("append", 2, 1, 3, { index: 2, logTerm: 2, entries: entriesOf([3], 3), commit: 2 }));
    const rd = drain(node, storage);
    expect(rd.entries).toEqual([]);
    expect(node.raft.term).toBe(5);
    expect(rd.messages).toMatchObject([{ type: "appendResponse", to: 2, term: 5 }]);
  });

  test("persistent state is in the same Ready as the messages that depend on it", () => {
    // A vote grant and an append acknowledgement must not leave before term, vote and entries
    // are durable: the Ready carries them together and the contract persists before sending.
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], term: 1 });
    node.step(msg("vote", 2, 1, 2));
    let rd = node.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 2, commit: 0 });
    expect(rd.messages).toMatchObject([{ type: "voteResponse", reject: false }]);
    storage.applyReady(rd);
    node.advance(rd);
    node.step(msg("append", 2, 1, 2, { index: 0, logTerm: 0, entries: entriesOf([2]), commit: 1 }));
    rd = node.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.hardState).toEqual({ term: 2, vote: 2, commit: 1 });
    expect(rd.messages).toMatchObject([{ type: "appendResponse", index: 1 }]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    expect(() => node.ready()).toThrow(); // one Ready at a time
    storage.applyReady(rd);
    node.advance(rd);
    expect(node.hasReady()).toBe(false);
    expect(node.status()).toMatchObject({ term: 2, commitIndex: 1, appliedIndex: 1, lastIndex: 1, role: "follower", leader: 2 });
  });

  test("committed entries are handed out for applying in log order, once", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    for (const t of ["a", "b", "c"]) c.propose(1, t);
    c.deliverAll();
    for (const id of [1, 2, 3]) {
      const indexes = c.get(id).applied.map((e) => e.index);
      expect(indexes).toEqual([1, 2, 3, 4]);
      expect(c.appliedTexts(id)).toEqual(["a", "b", "c"]);
    }
  });
});

describe("Figure 2, followers", () => {
  test("a follower that hears nothing for its election timeout becomes a candidate", () => {
    const { node } = makeNode(1, { voters: [1, 2, 3], term: 1, options: { electionTimeoutTicks: 10 } });
    for (let i = 0; i < 9; i++) node.tick();
    expect(node.raft.role).toBe("follower");
    for (let i = 0; i < 11; i++) node.tick();
    expect(node.raft.role).toBe("candidate");
    expect(node.raft.term).toBe(2);
  });

  test("election timeouts are randomized in [timeout, 2 x timeout)", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 60; seed++) {
      const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [], index: 0 });
      const node = new RawNode({ id: 1, storage, random: new SeededRandom(seed), electionTimeoutTicks: 10, preVote: false });
      let ticks = 0;
      while (node.raft.role === "follower" && ticks < 100) {
        node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThanOrEqual(5);
  });

  test("hearing from the leader resets the election timer", () => {
    const { node } = makeNode(1, { voters: [1, 2, 3], term: 1, options: { electionTimeoutTicks: 10 } });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 9; i++) node.tick();
      node.step(msg("heartbeat", 2, 1, 1));
    }
    expect(node.raft.role).toBe("follower");
    expect(node.raft.lead).toBe(2);
  });

  test("a follower rejects proposals and names the leader instead of throwing", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    expect(c.propose(2, "x")).toEqual({ ok: false, reason: "not_leader", leader: 1 });
    expect(c.get(2).node.readIndex(new Uint8Array([1]))).toEqual({ ok: false, reason: "not_leader", leader: 1 });
  });
});

describe("Figure 2, candidates", () => {
  test("on conversion: increment term, vote for self, request votes from all others", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], term: 4, log: [1, 4] });
    node.campaign();
    expect(node.raft.term).toBe(5);
    expect(node.raft.vote).toBe(1);
    const rd = drain(node, storage);
    expect(rd.hardState).toEqual({ term: 5, vote: 1, commit: 0 });
    const votes = sent(rd.messages, "vote");
    expect(votes.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of votes) expect(m).toMatchObject({ term: 5, index: 2, logTerm: 4 });
  });

  test("votes from a majority: become leader, append an empty entry, replicate it", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3, 4, 5], term: 1, log: [1] });
    node.campaign();
    drain(node, storage);
    node.step(msg("voteResponse", 2, 1, 2));
    expect(node.raft.role).toBe("candidate");
    node.step(msg("voteResponse", 3, 1, 2));
    expect(node.raft.role).toBe("leader");
    const rd = drain(node, storage);
    expect(rd.entries).toMatchObject([{ index: 2, term: 2, type: "normal" }]);
    expect(rd.entries[0]!.data.length).toBe(0);
    expect(sent(rd.messages, "append").map((m) => m.to).sort()).toEqual([2, 3, 4, 5]);
  });

  test("an append from the new leader of the same term converts a candidate to follower", () => {
    const { node } = makeNode(1, { voters: [1, 2, 3], term: 1 });
    node.campaign();
    node.step(msg("append", 2, 1, 2, { index: 0, logTerm: 0 }));
    expect(node.raft.role).toBe("follower");
    expect(node.raft.lead).toBe(2);
    expect(node.raft.term).toBe(2);
  });

  test("when the election timeout elapses without a winner, start a new election", () => {
    const { node } = makeNode(1, { voters: [1, 2, 3], term: 1, options: { electionTimeoutTicks: 10 } });
    node.campaign();
    expect(node.raft.term).toBe(2);
    for (let i = 0; i < 20; i++) node.tick();
    expect(node.raft.role).toBe("candidate");
    expect(node.raft.term).toBe(3);
  });

  test("a majority of rejections returns the candidate to follower", () => {
    const { node } = makeNode(1, { voters: [1, 2, 3], term: 1 });
    node.campaign();
    node.step(msg("voteResponse", 2, 1, 2, { reject: true }));
    node.step(msg("voteResponse", 3, 1, 2, { reject: true }));
    expect(node.raft.role).toBe("follower");
  });
});

describe("Figure 2, leaders", () => {
  test("send heartbeats during idle periods", () => {
    const c = new Harness([1, 2, 3], { heartbeatTimeoutTicks: 2 });
    c.elect(1);
    const before = c.delivered.length;
    c.tick(1, 2);
    c.deliverAll();
    const heartbeats = c.delivered.slice(before).filter((m) => m.type === "heartbeat");
    expect(heartbeats.map((m) => m.to).sort()).toEqual([2, 3]);
  });

  test("a proposal is appended locally, replicated, and committed once a majority holds it", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    const r = c.propose(1, "x");
    expect(r).toMatchObject({ ok: true, firstIndex: 2, lastIndex: 2, term: 1 });
    c.deliverAll();
    expect(c.raft(1).log.committed).toBe(2);
    expect(c.appliedTexts(1)).toEqual(["x"]);
    expect(c.appliedTexts(3)).toEqual([]);
  });

  test("no commit without a majority", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.isolate(2);
    c.isolate(3);
    c.propose(1, "x");
    c.deliverAll();
    expect(c.raft(1).log.committed).toBe(1);
  });

  test("batched proposals append many entries at once", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    const data = ["a", "b", "c", "d"].map((t) => new TextEncoder().encode(t));
    expect(c.get(1).node.propose(data)).toMatchObject({ ok: true, firstIndex: 2, lastIndex: 5 });
    c.deliverAll();
    expect(c.appliedTexts(2)).toEqual(["a", "b", "c", "d"]);
  });

  test("on rejection nextIndex backs off and the follower's divergent log is repaired", () => {
    // Figure 7 style: the leader's log and followers with missing and extra uncommitted entries.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing one
      [1, 1, 1, 4], // (b) missing many
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra from a later term
      [1, 1, 1, 4, 4, 4, 4], // (e) extra from an old term
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) long divergent suffix
    ];
    for (const followerLog of followers) {
      const leader = makeNode(1, { voters: [1, 2, 3], log: leaderLog, term: 7, commit: 3 });
      const follower = makeNode(2, { voters: [1, 2, 3], log: followerLog, term: 7, commit: 3 });
      leader.node.campaign(); // term 8; node 3 (not simulated) grants the vote
      leader.node.step(msg("voteResponse", 3, 1, 8));
      let messages = drain(leader.node, leader.storage).messages.filter((m) => m.to === 2);
      for (let round = 0; round < 50 && messages.length > 0; round++) {
        const next: Message[] = [];
        for (const m of messages) {
          const target = m.to === 1 ? leader : follower;
          target.node.step(m);
          next.push(...drain(target.node, target.storage).messages.filter((m) => m.to !== 3));
        }
        messages = next;
      }
      expect(leader.node.raft.role).toBe("leader");
      const leaderTerms = Array.from({ length: 11 }, (_, i) => leader.storage.term(i + 1));
      const followerTerms = Array.from({ length: follower.storage.lastIndex() }, (_, i) => follower.storage.term(i + 1));
      expect(followerTerms).toEqual(leaderTerms);
      leader.node.step(msg("appendResponse", 3, 1, 8, { index: 11 })); // node 3 acks too: commit
      for (const m of drain(leader.node, leader.storage).messages) if (m.to === 2) follower.node.step(m);
      drain(follower.node, follower.storage);
      expect(follower.node.raft.log.committed).toBe(11);
    }
  });
});

describe("RequestVote receiver", () => {
  test("1. reply false if term < currentTerm", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], term: 5 });
    node.step(msg("vote", 2, 1, 4, { index: 10, logTerm: 4 }));
    const rd = drain(node, storage);
    expect(node.raft.vote).toBe(0);
    expect(rd.messages.some((m) => m.type === "voteResponse" && !m.reject)).toBe(false);
  });

  test("2. grant at most one vote per term (and keep it across a restart)", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], term: 1 });
    node.step(msg("vote", 2, 1, 2));
    let rd = drain(node, storage);
    expect(rd.messages).toMatchObject([{ type: "voteResponse", to: 2, reject: false }]);
    node.step(msg("vote", 3, 1, 2));
    rd = drain(node, storage);
    expect(rd.messages).toMatchObject([{ type: "voteResponse", to: 3, reject: true }]);
    // The same candidate asking again (a duplicate) is granted again.
    node.step(msg("vote", 2, 1, 2));
    expect(drain(node, storage).messages).toMatchObject([{ to: 2, reject: false }]);
    const restarted = new RawNode({ id: 1, storage, random: new SeededRandom(1), preVote: false, checkQuorum: false });
    restarted.step(msg("vote", 3, 1, 2));
    expect(restarted.ready().messages).toMatchObject([{ to: 3, reject: true }]);
  });

  test("2. grant only if the candidate's log is at least as up to date (§5.4.1)", () => {
    // Voter log: last index 3, last term 2.
    const cases: [number, number, boolean][] = [
      [3, 2, true], // equal
      [4, 2, true], // same term, longer
      [2, 2, false], // same term, shorter
      [1, 3, true], // higher last term wins even when shorter
      [9, 1, false], // lower last term loses even when longer
    ];
    for (const [index, logTerm, granted] of cases) {
      const { node, storage } = makeNode(1, { voters: [1, 2, 3], log: [1, 2, 2], term: 2 });
      node.step(msg("vote", 2, 1, 3, { index, logTerm }));
      expect({ index, logTerm, granted: !drain(node, storage).messages[0]!.reject }).toEqual({ index, logTerm, granted });
    }
  });
});

describe("AppendEntries receiver", () => {
  test("1. reply false if term < currentTerm", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2], term: 3, log: [1] });
    node.step(msg("append", 2, 1, 2, { index: 1, logTerm: 1, entries: entriesOf([2], 2) }));
    const rd = drain(node, storage);
    expect(rd.entries).toEqual([]);
    expect(rd.messages[0]).toMatchObject({ type: "appendResponse", term: 3 });
    expect(storage.lastIndex()).toBe(1);
  });

  test("2. reply false if the log has no entry at prevLogIndex with prevLogTerm", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2], term: 3, log: [1, 2, 2] });
    node.step(msg("append", 2, 1, 3, { index: 3, logTerm: 3, entries: entriesOf([3], 4) })); // term mismatch
    let rd = drain(node, storage);
    expect(rd.messages[0]).toMatchObject({ type: "appendResponse", reject: true, index: 3, rejectHint: 3, logTerm: 2 });
    node.step(msg("append", 2, 1, 3, { index: 7, logTerm: 3, entries: entriesOf([3], 8) })); // beyond our log
    rd = drain(node, storage);
    expect(rd.messages[0]).toMatchObject({ reject: true, index: 7, rejectHint: 3 });
    expect(storage.lastIndex()).toBe(3);
  });

  test("3. a conflicting entry and all that follow it are deleted", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2], term: 3, log: [1, 2, 2, 2] });
    node.step(msg("append", 2, 1, 3, { index: 1, logTerm: 1, entries: entriesOf([3], 2) }));
    const rd = drain(node, storage);
    expect(rd.messages[0]).toMatchObject({ reject: false, index: 2 });
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(2)).toBe(3);
  });

  test("4. entries already in the log are kept; new ones appended; duplicates are harmless", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2], term: 2, log: [1, 2] });
    const m = msg("append", 2, 1, 2, { index: 0, logTerm: 0, entries: entriesOf([1, 2, 2, 2]) });
    node.step(m);
    let rd = drain(node, storage);
    expect(rd.entries.map((e) => e.index)).toEqual([3, 4]);
    node.step(m); // duplicate delivery
    rd = drain(node, storage);
    expect(rd.entries).toEqual([]);
    expect(rd.messages[0]).toMatchObject({ reject: false, index: 4 });
    // A stale shorter append must not truncate entries after it.
    node.step(msg("append", 2, 1, 2, { index: 1, logTerm: 1, entries: entriesOf([2], 2) }));
    drain(node, storage);
    expect(storage.lastIndex()).toBe(4);
  });

  test("5. commitIndex = min(leaderCommit, index of last new entry)", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2], term: 2, log: [1, 1, 1, 1, 1] });
    node.step(msg("append", 2, 1, 2, { index: 1, logTerm: 1, entries: entriesOf([1], 2), commit: 5 }));
    drain(node, storage);
    expect(node.raft.log.committed).toBe(2); // not 5: entries 3..5 are not known to match the leader
    node.step(msg("append", 2, 1, 2, { index: 2, logTerm: 1, entries: entriesOf([1, 1], 3), commit: 3 }));
    drain(node, storage);
    expect(node.raft.log.committed).toBe(3);
  });
});
