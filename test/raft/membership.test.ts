/**
 * Learners and single-server membership changes (one pending change at a time, applied when the
 * config entry is applied). See docs/RAFT.md for why single-server changes.
 */
import { describe, expect, test } from "bun:test";
import { applyConfigChange, decodeConfigChange, encodeConfigChange, type ConfigChange } from "../../src/raft/index.ts";
import { Harness } from "./harness.ts";

const empty = { voters: [], learners: [], index: 0 };

function settle(c: Harness, ticks = 3): void {
  c.deliverAll();
  c.tickAll(ticks);
}

describe("learners", () => {
  test("a learner receives the log but is not counted for commit and never campaigns", () => {
    const c = new Harness([1, 2, 3], {}, [4]);
    c.elect(1);
    c.propose(1, "x");
    c.deliverAll();
    expect(c.appliedTexts(4)).toEqual(["x"]);
    c.isolate(2);
    c.isolate(3);
    c.propose(1, "needs a voter");
    c.deliverAll();
    expect(c.raft(1).log.committed).toBe(2); // the learner's ack does not make a quorum
    c.heal();
    c.isolate(1);
    for (let i = 0; i < 100; i++) c.tick(4);
    expect(c.raft(4).role).toBe("follower");
    expect(c.raft(4).term).toBe(1);
  });

  test("a learner can be promoted to voter", () => {
    const c = new Harness([1, 2, 3], {}, [4]);
    c.elect(1);
    expect(c.get(1).node.proposeConfigChange({ kind: "addVoter", nodeId: 4 }).ok).toBe(true);
    settle(c);
    for (const id of [1, 2, 3, 4]) expect(c.get(id).node.membership().voters).toEqual([1, 2, 3, 4]);
    expect(c.get(1).node.membership().learners).toEqual([]);
  });
});

describe("single-server membership changes", () => {
  test("adding a voter: the new node starts empty, receives the log, and then counts for quorum", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.propose(1, "before");
    c.deliverAll();
    c.add(4, empty);
    const r = c.get(1).node.proposeConfigChange({ kind: "addVoter", nodeId: 4 });
    expect(r).toMatchObject({ ok: true, firstIndex: 3 });
    settle(c);
    expect(c.get(4).node.membership()).toEqual({ voters: [1, 2, 3, 4], learners: [], index: 3 });
    expect(c.get(4).storage.initialState().membership.voters).toEqual([1, 2, 3, 4]);
    expect(c.appliedTexts(4)).toEqual(["before"]);
    // Quorum is now 3 of 4: two voters alone cannot commit.
    c.isolate(3);
    c.isolate(4);
    c.propose(1, "two of four");
    c.deliverAll();
    expect(c.appliedTexts(1)).toEqual(["before"]);
    c.heal();
    settle(c);
    expect(c.appliedTexts(4)).toEqual(["before", "two of four"]);
  });

  test("removing a voter shrinks the quorum", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.get(1).node.proposeConfigChange({ kind: "remove", nodeId: 3 });
    settle(c);
    expect(c.get(1).node.membership().voters).toEqual([1, 2]);
    c.isolate(3);
    c.propose(1, "without 3");
    c.deliverAll();
    expect(c.appliedTexts(2)).toEqual(["without 3"]);
  });

  test("only one change may be pending: a second one waits until the first is applied", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.add(4, empty);
    c.add(5, empty);
    expect(c.get(1).node.proposeConfigChange({ kind: "addVoter", nodeId: 4 }).ok).toBe(true);
    expect(c.get(1).node.proposeConfigChange({ kind: "addVoter", nodeId: 5 })).toMatchObject({ ok: false, reason: "config_pending" });
    settle(c);
    expect(c.get(1).node.proposeConfigChange({ kind: "addVoter", nodeId: 5 }).ok).toBe(true);
    settle(c);
    expect(c.get(5).node.membership().voters).toEqual([1, 2, 3, 4, 5]);
  });

  test("a new leader accepts no change before the config entries already in its log are applied", () => {
    const c = new Harness([1, 2, 3], { checkQuorum: false });
    c.elect(1);
    c.get(1).node.proposeConfigChange({ kind: "addLearner", nodeId: 4 });
    c.processReadies(); // appended and sent, not yet committed anywhere
    c.deliverAll((m) => m.type !== "appendResponse"); // followers hold it, the leader never learns
    c.isolate(1);
    c.get(2).node.campaign();
    c.deliverAll((m) => m.type !== "append"); // elected, but nothing replicated yet
    expect(c.raft(2).role).toBe("leader");
    expect(c.raft(2).log.applied).toBeLessThan(2); // the inherited change (index 2) is not applied
    const early = c.get(2).node.proposeConfigChange({ kind: "addLearner", nodeId: 5 });
    expect(early).toMatchObject({ ok: false, reason: "config_pending" });
    c.tickAll(2); // replicate, commit, apply
    expect(c.get(2).node.proposeConfigChange({ kind: "addLearner", nodeId: 5 }).ok).toBe(true);
  });

  test("a leader that removes itself steps down and the others elect a new leader", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.get(1).node.proposeConfigChange({ kind: "remove", nodeId: 1 });
    c.deliverAll();
    expect(c.raft(1).role).toBe("follower");
    c.tickAll(40);
    const leaders = c.leaders();
    expect(leaders.length).toBe(1);
    expect([2, 3]).toContain(leaders[0]!);
    c.propose(leaders[0]!, "after removal");
    c.deliverAll();
    expect(c.appliedTexts(2)).toContain("after removal");
  });

  test("removing or demoting the last voter is refused", () => {
    const c = new Harness([1]);
    c.elect(1);
    expect(c.get(1).node.proposeConfigChange({ kind: "remove", nodeId: 1 })).toMatchObject({ ok: false, reason: "invalid" });
    expect(c.get(1).node.proposeConfigChange({ kind: "addLearner", nodeId: 1 })).toMatchObject({ ok: false, reason: "invalid" });
  });

  test("config changes encode, decode and apply idempotently", () => {
    const changes: ConfigChange[] = [
      { kind: "addVoter", nodeId: 7 },
      { kind: "addLearner", nodeId: 8 },
      { kind: "remove", nodeId: 2 },
    ];
    const after = { voters: [1, 7], learners: [8] };
    for (const ch of changes) expect(decodeConfigChange(encodeConfigChange(ch, after))).toEqual({ change: ch, ...after });
    const good = encodeConfigChange({ kind: "addVoter", nodeId: 1 }, after);
    expect(() => decodeConfigChange(good.slice(0, good.length - 1))).toThrow(); // truncated
    expect(() => decodeConfigChange(new Uint8Array([...good, 0]))).toThrow(); // trailing byte
    const badKind = good.slice();
    badKind[0] = 9;
    expect(() => decodeConfigChange(badKind)).toThrow();
    const zeroId = good.slice();
    zeroId.fill(0, 1, 9);
    expect(() => decodeConfigChange(zeroId)).toThrow();
    const m = { voters: [1, 2, 3], learners: [], index: 0 };
    const once = applyConfigChange(m, { kind: "addVoter", nodeId: 4 }, 5);
    expect(applyConfigChange(once, { kind: "addVoter", nodeId: 4 }, 6)).toEqual({ ...once, index: 6 });
    expect(applyConfigChange(once, { kind: "addLearner", nodeId: 4 }, 7)).toEqual({ voters: [1, 2, 3], learners: [4], index: 7 });
  });

  test("a restarted node does not re-apply config entries its persisted membership already reflects", () => {
    const c = new Harness([1, 2, 3]);
    c.elect(1);
    c.get(1).node.proposeConfigChange({ kind: "remove", nodeId: 3 });
    settle(c);
    c.get(1).node.proposeConfigChange({ kind: "addVoter", nodeId: 3 });
    settle(c);
    c.get(2).applied = []; // the state machine restarts from scratch: everything is re-applied
    c.restart(2);
    expect(c.get(2).node.membership().voters).toEqual([1, 2, 3]);
    c.tickAll(2);
    expect(c.get(2).node.membership().voters).toEqual([1, 2, 3]);
  });
});
