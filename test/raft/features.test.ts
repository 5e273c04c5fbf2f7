/**
 * Pre-vote, check-quorum, ReadIndex, leadership transfer, flow control and catch-up of a
 * follower behind the leader's compacted point.
 */
import { describe, expect, test } from "bun:test";
import { utf8 } from "../../src/lib/index.ts";
import type { Message } from "../../src/raft/index.ts";
import { Harness, drain, makeNode, msg } from "./harness.ts";

describe("pre-vote", () => {
  test("a partitioned node does not raise its term, and does not disrupt the leader on rejoin", () => {
    const c = new Harness([1, 2, 3], { preVote: true, checkQuorum: false });
    c.elect(1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 100; i++) c.tick(3);
    c.deliverAll();
    expect(c.raft(3).term).toBe(term);
    expect(c.raft(3).role).toBe("preCandidate");
    c.heal();
    c.tickAll(3);
    expect(c.leaders()).toEqual([1]);
    expect(c.raft(1).term).toBe(term);
    expect(c.raft(3).role).toBe("follower");
  });

  test("without pre-vote the same partition forces the leader out (the control case)", () => {
    const c = new Harness([1, 2, 3], { preVote: false, checkQuorum: false });
    c.elect(1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 100; i++) c.tick(3);
    expect(c.raft(3).term).toBeGreaterThan(term + 3);
    c.heal();
    c.tickAll(2);
    expect(c.raft(1).term).toBeGreaterThan(term + 3); // the leader was deposed by the higher term
  });

  test("a pre-vote is refused to a node whose log is behind, and terms stay unchanged", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], log: [1, 2, 2], term: 2, options: { preVote: true } });
    node.step(msg("preVote", 2, 1, 3, { index: 2, logTerm: 2 }));
    const rd = drain(node, storage);
    expect(rd.messages).toMatchObject([{ type: "preVoteResponse", reject: true }]);
    expect(node.raft.term).toBe(2);
    expect(node.raft.vote).toBe(0);
    node.step(msg("preVote", 2, 1, 3, { index: 3, logTerm: 2 }));
    expect(drain(node, storage).messages).toMatchObject([{ type: "preVoteResponse", reject: false, term: 3 }]);
    expect(node.raft.term).toBe(2); // granting a pre-vote changes nothing durable
    expect(node.raft.vote).toBe(0);
  });

  test("a retried pre-vote keeps the pre-votes granted in earlier rounds of its term and asks the refusers again", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3, 4, 5], options: { preVote: true, electionTimeoutTicks: 10, campaignRetryTicks: 2 } });
    node.campaign();
    const preVotes = () => drain(node, storage).messages.filter((m) => m.type === "preVote");
    expect(preVotes().map((m) => m.to)).toEqual([2, 3, 4, 5]);
    node.step(msg("preVoteResponse", 2, 1, 1)); // granted
    node.step(msg("preVoteResponse", 4, 1, 0, { reject: true }));
    expect(node.raft.role).toBe("preCandidate"); // 2 of the 3 needed
    // Nobody else answers; the round is retried for the same term.
    let ticks = 0;
    do {
      node.tick();
      expect(++ticks).toBeLessThanOrEqual(4);
    } while (preVotes().length === 0);
    expect(node.raft.role).toBe("preCandidate");
    expect(node.raft.term).toBe(0);
    // Node 4 now grants: with node 2's grant of the earlier round, that is a quorum.
    node.step(msg("preVoteResponse", 4, 1, 1));
    expect(node.raft.role).toBe("candidate");
    expect(node.raft.term).toBe(1);
  });

  test("a pre-candidate that wins the pre-vote runs a real election", () => {
    const c = new Harness([1, 2, 3], { preVote: true });
    c.elect(2);
    expect(c.leaders()).toEqual([2]);
    expect(c.raft(2).term).toBe(1);
  });
});

describe("election timing", () => {
  /** Ticks `id` alone until it leaves the follower role; returns how many ticks that took. */
  function ticksToCampaign(c: Harness, id: number, ticksMax = 1000): number {
    for (let i = 1; i <= ticksMax; i++) {
      c.tick(id);
      if (c.raft(id).role !== "follower") return i;
    }
    throw new Error(`node ${id} never campaigned`);
  }

  test("followers campaign after a randomized timeout within [electionTimeoutTicks, electionTimeoutTicksMax]", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const c = new Harness([1, 2, 3], { seed, electionTimeoutTicks: 10, electionTimeoutTicksMax: 13 });
      c.isolate(1);
      const ticks = ticksToCampaign(c, 1);
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThanOrEqual(13);
      seen.add(ticks);
    }
    expect([...seen].sort()).toEqual([10, 11, 12, 13]); // every value of the range is drawn
    // The default range is [electionTimeoutTicks, 2 * electionTimeoutTicks - 1].
    expect(new Harness([1], { electionTimeoutTicks: 10 }).raft(1).electionTimeoutTicksMax).toBe(19);
  });

  test("with pre-vote, a campaign that made no leader is retried within 2 * campaignRetryTicks, not a whole election timeout", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const c = new Harness([1, 2, 3], { seed, preVote: true, electionTimeoutTicks: 20, campaignRetryTicks: 3 });
      c.isolate(1); // nobody answers: the pre-vote round can never finish
      ticksToCampaign(c, 1);
      expect(c.raft(1).role).toBe("preCandidate");
      c.deliverAll();
      const sent = () => c.queue.length + c.delivered.filter((m) => m.from === 1 && m.type === "preVote").length;
      c.processReadies();
      // Rounds that get no answer at all (no vote came late) keep the quick retry, round after round.
      for (let round = 0; round < 5; round++) {
        const before = sent();
        let retryTicks = 0;
        while (sent() === before) {
          c.tick(1);
          c.processReadies();
          retryTicks++;
          expect(retryTicks).toBeLessThanOrEqual(6);
        }
        expect(retryTicks).toBeGreaterThanOrEqual(3);
      }
      expect(c.raft(1).term).toBe(0); // pre-vote rounds never raise the term
    }
  });

  test("a split vote is resolved by the quick retry: a leader within the election timeout plus a few retries", () => {
    // 4 voters of 5 alive (5 is down), 1 and 2 campaign at once and split the other two.
    const c = new Harness([1, 2, 3, 4, 5], { seed: 7, preVote: true, electionTimeoutTicks: 20, campaignRetryTicks: 2 });
    c.isolate(5);
    c.get(1).node.campaign();
    c.get(2).node.campaign();
    c.processReadies();
    // Pre-votes are granted all round; then 3 votes for 1 and 4 for 2: neither has 3 of 5.
    c.deliverAll((m) => !(m.type === "vote" && ((m.from === 1 && m.to === 4) || (m.from === 2 && m.to === 3) || (m.from === 1 && m.to === 2) || (m.from === 2 && m.to === 1))));
    expect(c.leaders()).toEqual([]);
    expect(c.raft(1).role).toBe("candidate");
    expect(c.raft(2).role).toBe("candidate");
    let ticks = 0;
    while (c.leaders().length === 0) {
      c.tickAll(1);
      ticks++;
      expect(ticks).toBeLessThan(20); // well within one more election timeout
    }
    expect(c.leaders()).toHaveLength(1);
  });

  test("votes slower than the quick retry still elect a leader: each round whose votes came late makes the retries longer", () => {
    // Every message takes 5 of node 1's ticks to arrive, so a round's answers come 10 ticks after
    // its requests: more than the first retries' 2..4 ticks. Only node 1's clock runs (the others
    // would otherwise campaign on their own timers).
    const delayTicks = 5;
    for (let seed = 1; seed <= 20; seed++) {
      const c = new Harness([1, 2, 3], { seed, preVote: true, checkQuorum: true, electionTimeoutTicks: 20, campaignRetryTicks: 2 });
      const inFlight: { m: Message; at: number }[] = [];
      let ticks = 0;
      let rounds = 0;
      while (c.leaders().length === 0) {
        c.tick(1);
        ticks++;
        c.processReadies();
        for (const m of c.queue) {
          if (m.from === 1 && m.to === 2 && m.type === "preVote") rounds++;
          inFlight.push({ m, at: ticks + delayTicks });
        }
        c.queue = [];
        for (const due of inFlight.filter((f) => f.at <= ticks)) {
          inFlight.splice(inFlight.indexOf(due), 1);
          c.get(due.m.to).node.step(due.m);
        }
        expect(ticks).toBeLessThan(200); // 80-130 ticks with the growing wait; never, with a fixed 2..4
      }
      expect(c.leaders()).toEqual([1]);
      expect(rounds).toBeGreaterThan(2); // the first rounds were abandoned: their answers came too late
    }
  });

  test("without pre-vote a failed campaign waits a whole randomized election timeout (classic Raft)", () => {
    const c = new Harness([1, 2, 3], { seed: 3, preVote: false, electionTimeoutTicks: 20, campaignRetryTicks: 2 });
    c.isolate(1);
    ticksToCampaign(c, 1);
    expect(c.raft(1).role).toBe("candidate");
    const term = c.raft(1).term;
    const again = ticksToCampaignAgain(c, term);
    expect(again).toBeGreaterThanOrEqual(20);

    function ticksToCampaignAgain(h: Harness, from: number): number {
      for (let i = 1; i <= 100; i++) {
        h.tick(1);
        if (h.raft(1).term > from) return i;
      }
      throw new Error("no second campaign");
    }
  });

  test("a follower knows the leader's commit index even when its own log is behind", () => {
    const c = new Harness([1, 2, 3], { preVote: true });
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.deliverAll();
    const committed = c.raft(1).log.committed;
    expect(c.get(1).node.status().leaderCommitIndex).toBe(committed);
    expect(c.get(3).node.status().commitIndex).toBeLessThan(committed);
    c.heal();
    // The first append after healing is refused (3's log is behind) but carries the commit index.
    c.get(1).node.raft.progressOf(3)!.becomeProbe();
    c.tickAll(1);
    expect(c.get(3).node.status().leaderCommitIndex).toBe(c.raft(1).log.committed);
  });
});

describe("check-quorum", () => {
  test("a leader that hears from no quorum for an election timeout steps down", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: true, electionTimeoutTicks: 10 });
    c.elect(1);
    c.isolate(1);
    for (let i = 0; i < 21; i++) c.tick(1);
    expect(c.raft(1).role).toBe("follower");
    expect(c.get(1).node.propose([utf8("x")])).toMatchObject({ ok: false, reason: "not_leader" });
  });

  test("a leader with a quorum stays", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: true, electionTimeoutTicks: 10 });
    c.elect(1);
    c.isolate(3);
    c.tickAll(50);
    expect(c.raft(1).role).toBe("leader");
  });

  test("a follower inside its leader lease ignores vote requests with a higher term", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: true, preVote: false });
    c.elect(1);
    const term = c.raft(2).term;
    c.get(2).node.step(msg("vote", 3, 2, term + 5, { index: 100, logTerm: term }));
    expect(c.raft(2).term).toBe(term);
    expect(c.raft(2).vote).toBe(1);
  });
});

describe("ReadIndex", () => {
  const ctx = (text: string) => utf8(text);

  test("the leader answers after a quorum confirms its leadership", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.propose(1, "x");
    c.deliverAll();
    expect(c.get(1).node.readIndex(ctx("r1"))).toEqual({ ok: true });
    expect(c.get(1).readStates).toEqual([]); // nothing before the heartbeat round
    c.deliverAll();
    expect(c.get(1).readStates).toEqual([{ index: 2, context: ctx("r1") }]);
  });

  test("an isolated leader never confirms a read", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: false });
    c.elect(1);
    c.isolate(1);
    c.get(1).node.readIndex(ctx("r"));
    c.tickAll(5);
    expect(c.get(1).readStates).toEqual([]);
  });

  test("one ack short of quorum is not enough; the next heartbeat round retries", () => {
    const c = new Harness([1, 2, 3, 4, 5], { checkQuorum: false });
    c.elect(1);
    c.isolate(4);
    c.isolate(5);
    c.cut.add("3->1");
    c.get(1).node.readIndex(ctx("r"));
    c.deliverAll();
    expect(c.get(1).readStates).toEqual([]); // only 1 and 2
    c.cut.delete("3->1");
    c.tickAll(1); // the periodic heartbeat carries the pending read round
    expect(c.get(1).readStates.map((r) => r.context)).toEqual([ctx("r")]);
  });

  test("a read before the leader's first commit in its term waits for that commit", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3], log: [1], term: 1, commit: 1 });
    node.campaign();
    node.step(msg("voteResponse", 2, 1, 2));
    drain(node, storage);
    expect(node.readIndex(ctx("early"))).toEqual({ ok: true });
    const hb = drain(node, storage).messages.filter((m) => m.type === "heartbeat");
    expect(hb).toEqual([]); // no read round yet: commit index 1 is from term 1
    node.step(msg("appendResponse", 2, 1, 2, { index: 2 }));
    const round = drain(node, storage).messages.filter((m) => m.type === "heartbeat" && m.readSeq > 0);
    expect(round.length).toBe(2);
    node.step(msg("heartbeatResponse", 2, 1, 2, { readSeq: round[0]!.readSeq }));
    expect(drain(node, storage).readStates).toEqual([{ index: 2, context: ctx("early") }]);
  });

  test("a single-voter cluster answers reads at once", () => {
    const c = new Harness([1]);
    c.elect(1);
    c.get(1).node.readIndex(ctx("solo"));
    c.deliverAll();
    expect(c.get(1).readStates).toEqual([{ index: 1, context: ctx("solo") }]);
  });
});

describe("leadership transfer", () => {
  test("to an up-to-date follower: it becomes leader at once with the next term", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    const term = c.raft(1).term;
    expect(c.get(1).node.transferLeadership(2)).toEqual({ ok: true });
    c.deliverAll();
    expect(c.leaders()).toEqual([2]);
    expect(c.raft(2).term).toBe(term + 1);
  });

  test("to a lagging follower: the leader catches it up first; proposals are refused meanwhile", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    for (const t of ["a", "b"]) c.propose(1, t);
    c.deliverAll();
    expect(c.get(1).node.transferLeadership(3)).toEqual({ ok: true });
    expect(c.propose(1, "refused")).toMatchObject({ ok: false, reason: "transferring" });
    c.heal();
    c.tickAll(2);
    expect(c.leaders()).toEqual([3]);
    expect(c.appliedTexts(3)).toEqual(["a", "b"]);
  });

  test("a transfer to an unreachable node is abandoned after an election timeout", () => {
    const c = new Harness([1, 2, 3], { electionTimeoutTicks: 10 });
    c.elect(1);
    c.isolate(3);
    c.get(1).node.transferLeadership(3);
    c.tickAll(11);
    expect(c.leaders()).toEqual([1]);
    expect(c.propose(1, "ok again").ok).toBe(true);
  });

  test("invalid targets are refused", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    expect(c.get(1).node.transferLeadership(1)).toMatchObject({ ok: false, reason: "invalid_target" });
    expect(c.get(1).node.transferLeadership(9)).toMatchObject({ ok: false, reason: "invalid_target" });
    expect(c.get(2).node.transferLeadership(3)).toMatchObject({ ok: false, reason: "not_leader", leader: 1 });
  });
});

describe("flow control and pipelining", () => {
  test("in replicate state at most inflightMessagesMax appends are outstanding", () => {
    const c = new Harness([1, 2], { inflightMessagesMax: 3, checkQuorum: false });
    c.elect(1);
    const sentTo2: Message[] = [];
    for (let i = 0; i < 10; i++) {
      c.propose(1, `p${i}`);
      c.processReadies();
      sentTo2.push(...c.queue.filter((m) => m.type === "append" && m.to === 2));
      c.queue = []; // nothing is delivered: no acks come back
    }
    // Three pipelined appends, each carrying the next entry (not a resend), then the window is full.
    expect(sentTo2.map((m) => [m.index, m.entries.length])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
  });

  test("a heartbeat response frees one in-flight slot so lost appends cannot stall a follower", () => {
    const c = new Harness([1, 2], { inflightMessagesMax: 2, checkQuorum: false });
    c.elect(1);
    for (let i = 0; i < 5; i++) {
      c.propose(1, `p${i}`);
      c.processReadies();
      c.queue = c.queue.filter((m) => m.type !== "append"); // lose every append
    }
    c.tickAll(3);
    expect(c.appliedTexts(2)).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });

  test("named limits refuse work as values: batch size, uncommitted entries, pending reads", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: false, proposalEntriesMax: 4, uncommittedEntriesMax: 6, pendingReadsMax: 2 });
    c.elect(1);
    const node = c.get(1).node;
    const data = (n: number) => Array.from({ length: n }, () => new Uint8Array(1));
    expect(node.propose(data(5))).toMatchObject({ ok: false, reason: "too_many_entries" });
    c.isolate(1); // nothing commits from now on
    expect(node.propose(data(4)).ok).toBe(true);
    expect(node.propose(data(2)).ok).toBe(true);
    expect(node.propose(data(1))).toMatchObject({ ok: false, reason: "overloaded" });
    expect(node.readIndex(new Uint8Array([1])).ok).toBe(true);
    expect(node.readIndex(new Uint8Array([2])).ok).toBe(true);
    expect(node.readIndex(new Uint8Array([3]))).toMatchObject({ ok: false, reason: "overloaded" });
    c.heal();
    c.tickAll(2);
    expect(node.propose(data(1)).ok).toBe(true); // committed again: room again
    expect(c.get(1).readStates.length).toBe(2);
  });

  test("reportUnreachable stops pipelining and probes from the last acknowledged index", () => {
    const c = new Harness([1, 2], { checkQuorum: false });
    c.elect(1);
    const pr = () => c.raft(1).progressOf(2)!;
    expect(pr().state).toBe("replicate");
    c.propose(1, "lost");
    c.processReadies();
    c.queue = []; // the connection dropped with the append in it
    expect(pr().next).toBe(3);
    c.get(1).node.reportUnreachable(2);
    expect(pr()).toMatchObject({ state: "probe", next: 2 });
    c.tickAll(1);
    expect(c.appliedTexts(2)).toEqual(["lost"]);
  });

  test("messageBytesMax bounds the entries of one append (at least one entry always goes)", () => {
    const c = new Harness([1, 2], { messageBytesMax: 100 });
    c.elect(1);
    c.isolate(2);
    c.get(1).node.propose(Array.from({ length: 6 }, () => new Uint8Array(40)));
    c.get(1).node.propose([new Uint8Array(500)]);
    c.deliverAll();
    c.heal();
    c.tickAll(1);
    const appends = c.delivered.filter((m) => m.type === "append" && m.entries.length > 0);
    for (const m of appends) {
      const bytes = m.entries.reduce((n, e) => n + e.data.length + 24, 0);
      expect(m.entries.length === 1 || bytes <= 100).toBe(true);
    }
    expect(c.get(2).applied.length).toBe(8);
  });

  test("a new commit index reaches the followers at once, with no tick: they apply a write as soon as it commits", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: false });
    c.elect(1);
    c.delivered = [];
    c.propose(1, "a");
    c.deliverAll(); // no tick anywhere
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(["a"]);
    // Per follower: the append with the entry, then one carrying the new commit index.
    const appends = c.delivered.filter((m) => m.type === "append").map((m) => `${m.to}:${m.entries.length}@${m.commit}`);
    expect(appends.sort()).toEqual(["2:0@2", "2:1@1", "3:0@2", "3:1@1"]);
  });

  test("entries are applied from memory once persisted: the core does not read them back from storage", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: false });
    c.elect(1);
    const reads: number[][] = [];
    for (const h of c.nodes.values()) {
      const entries = h.storage.entries.bind(h.storage);
      h.storage.entries = (lo, hi, maxBytes) => {
        reads.push([h.id, lo, hi]);
        return entries(lo, hi, maxBytes);
      };
    }
    for (let i = 0; i < 5; i++) {
      c.propose(1, `p${i}`);
      c.deliverAll();
    }
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(["p0", "p1", "p2", "p3", "p4"]);
    expect(reads).toEqual([]);
  });
});

describe("catch-up of a follower behind the compacted point", () => {
  function compactedCluster() {
    const c = new Harness([1, 2, 3], { checkQuorum: false });
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) c.propose(1, `e${i}`);
    c.deliverAll();
    c.get(1).storage.compact(8);
    c.get(2).storage.compact(8);
    return c;
  }

  test("the leader sends a catch-up; the follower's Ready asks the application to install it", () => {
    const c = compactedCluster();
    c.heal();
    const leader = c.get(1).node;
    const catchups: Message[] = [];
    let installed = false;
    c.processReadies = function () {
      for (const h of this.nodes.values()) {
        if (!h.node.hasReady()) continue;
        const rd = h.node.ready();
        if (rd.catchup) {
          expect(h.id).toBe(3);
          expect(rd.catchup).toMatchObject({ index: 8, term: 1, from: 1, membership: { voters: [1, 2, 3] } });
          expect(rd.committedEntries).toEqual([]); // nothing at or below the catch-up point
          // The application copies the ledger range (applied, 8] from a peer, then persists.
          const source = this.get(rd.catchup.from).applied.filter((e) => e.index <= rd.catchup!.index);
          h.applied = source.slice();
          installed = true;
        }
        h.storage.applyReady(rd);
        this.queue.push(...rd.messages);
        catchups.push(...rd.messages.filter((m) => m.type === "catchup"));
        h.applied.push(...rd.committedEntries);
        h.node.advance(rd);
      }
    };
    c.tickAll(3);
    expect(installed).toBe(true);
    expect(catchups.length).toBe(1);
    expect(c.get(3).storage.firstIndex()).toBe(9);
    expect(c.get(3).node.raft.log.applied).toBeGreaterThanOrEqual(11);
    expect(leader.raft.progressOf(3)!.state).toBe("replicate");
    c.propose(1, "after");
    c.deliverAll();
    expect(c.appliedTexts(3)).toEqual([...Array.from({ length: 10 }, (_, i) => `e${i}`), "after"]);
  });

  test("a lost catch-up message is retried after the next heartbeat response", () => {
    const c = compactedCluster();
    c.heal();
    let dropped = 0;
    c.drop = (m) => m.type === "catchup" && dropped++ === 0;
    c.tickAll(1);
    expect(dropped).toBe(1);
    c.tickAll(3);
    expect(c.get(3).storage.firstIndex()).toBe(9);
    expect(c.raft(1).progressOf(3)!.state).toBe("replicate");
  });

  test("a follower that already holds the catch-up point fast-forwards instead of installing", () => {
    const { node, storage } = makeNode(2, { voters: [1, 2, 3], log: [1, 1, 1, 1], term: 1, commit: 1 });
    node.step(msg("catchup", 1, 2, 1, { catchup: { index: 3, term: 1, membership: { voters: [1, 2, 3], learners: [], index: 0 } } }));
    const rd = drain(node, storage);
    expect(rd.catchup).toBeNull();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(rd.messages).toMatchObject([{ type: "appendResponse", index: 3, reject: false }]);
  });
});
