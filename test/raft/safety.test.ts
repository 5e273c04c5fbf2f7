/**
 * §5.4 safety: the election restriction, the current-term commit rule and the Figure 8
 * scenario, leader completeness across crashes.
 */
import { describe, expect, test } from "bun:test";
import { Harness, drain, harnessWithLogs, makeNode, msg } from "./harness.ts";

const noPreVote = { preVote: false, checkQuorum: false };

describe("§5.4.1 election restriction", () => {
  test("a node missing committed entries cannot be elected", () => {
    const c = new Harness([1, 2, 3], noPreVote);
    c.elect(1);
    c.isolate(3);
    c.propose(1, "committed");
    c.deliverAll();
    expect(c.raft(1).log.committed).toBe(2);
    c.isolate(1); // the leader disappears; 3 comes back
    c.cut.delete("3->2");
    c.cut.delete("2->3");
    c.elect(3);
    expect(c.raft(3).role).not.toBe("leader");
    c.elect(2);
    expect(c.raft(2).role).toBe("leader");
    c.propose(2, "next");
    c.deliverAll();
    expect(c.appliedTexts(3)).toEqual(["committed", "next"]);
  });
});

describe("§5.4.2 committing entries from previous terms (Figure 8)", () => {
  // Figure 8, state (c): S1 leads term 4 and has replicated index 2 (from term 2) to S2 and S3,
  // a majority, while S5 holds a different index 2 from term 3.
  test("(c) a leader does not commit an earlier-term entry by counting replicas", () => {
    const { node, storage } = makeNode(1, { voters: [1, 2, 3, 4, 5], log: [1, 2], term: 3, commit: 1 });
    node.campaign();
    node.step(msg("voteResponse", 2, 1, 4));
    node.step(msg("voteResponse", 3, 1, 4));
    expect(node.raft.role).toBe("leader");
    expect(node.raft.term).toBe(4);
    drain(node, storage); // appends the term-4 empty entry at index 3
    node.step(msg("appendResponse", 2, 1, 4, { index: 2 }));
    node.step(msg("appendResponse", 3, 1, 4, { index: 2 }));
    expect(node.raft.log.committed).toBe(1); // index 2 is on a majority but is from term 2
    // (e) once an entry of the current term is on a majority, it and everything before commit.
    node.step(msg("appendResponse", 2, 1, 4, { index: 3 }));
    node.step(msg("appendResponse", 3, 1, 4, { index: 3 }));
    expect(node.raft.log.committed).toBe(3);
  });

  test("(d) why: S5 can still be elected and overwrite that index 2 everywhere", () => {
    const logs = new Map([
      [1, { log: [1, 2], term: 4 }],
      [2, { log: [1, 2], term: 4 }],
      [3, { log: [1, 2], term: 4 }],
      [4, { log: [1], term: 4 }],
      [5, { log: [1, 3], term: 4 }],
    ]);
    const c = harnessWithLogs(logs, [1, 2, 3, 4, 5], noPreVote);
    c.isolate(1); // S1 crashes
    c.elect(5);
    expect(c.raft(5).role).toBe("leader"); // votes from S2, S3, S4: S5's last term 3 beats 2
    for (const id of [2, 3, 4, 5]) expect(c.get(id).storage.term(2)).toBe(3);
  });

  test("(e) after S1 commits an entry of its own term, S5 can no longer win", () => {
    const logs = new Map([
      [1, { log: [1, 2, 4], term: 4 }],
      [2, { log: [1, 2, 4], term: 4 }],
      [3, { log: [1, 2, 4], term: 4 }],
      [4, { log: [1], term: 4 }],
      [5, { log: [1, 3], term: 4 }],
    ]);
    const c = harnessWithLogs(logs, [1, 2, 3, 4, 5], noPreVote);
    c.isolate(1);
    c.elect(5);
    expect(c.raft(5).role).not.toBe("leader");
    c.elect(2);
    expect(c.raft(2).role).toBe("leader");
    c.deliverAll();
    for (const id of [2, 3, 4, 5]) expect([c.get(id).storage.term(2), c.get(id).storage.term(3)]).toEqual([2, 4]);
  });
});

describe("leader completeness across crashes", () => {
  test("entries committed before a crash are in every later leader's log and survive restart", () => {
    const c = new Harness([1, 2, 3], noPreVote);
    c.elect(1);
    for (const t of ["a", "b", "c"]) c.propose(1, t);
    c.deliverAll();
    c.restart(1);
    c.restart(2);
    c.restart(3);
    c.elect(3);
    expect(c.raft(3).role).toBe("leader");
    c.propose(3, "d");
    c.deliverAll();
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(["a", "b", "c", "d"]);
  });

  test("a restarted node keeps its term and vote, so it cannot vote twice in a term", () => {
    const c = new Harness([1, 2, 3], noPreVote);
    c.elect(1);
    const term = c.raft(2).term;
    c.restart(2);
    expect(c.raft(2).term).toBe(term);
    expect(c.raft(2).vote).toBe(1);
  });
});
