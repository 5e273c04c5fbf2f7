/**
 * The driver's one deadline mechanism (src/cluster/deadlines.ts) and the waits built on it
 * (src/cluster/waiters.ts), against an injected clock.
 */
import { describe, expect, test } from "bun:test";
import { DeadlineQueue, type Deadline } from "../../src/cluster/deadlines.ts";
import { AddressBook } from "../../src/cluster/address-book.ts";
import { Leadership } from "../../src/cluster/leadership.ts";
import { Waiters } from "../../src/cluster/waiters.ts";
import { ScribeError, SeededRandom } from "../../src/lib/index.ts";

function item(deadlineMs: number, log: string[], name: string): Deadline {
  return { deadlineMs, slot: -1, expire: () => log.push(`expire ${name}`), abort: (e) => log.push(`abort ${name} ${e.code}`) };
}

describe("DeadlineQueue", () => {
  test("expires exactly the items past their deadline, earliest first, and never a removed one", () => {
    const random = new SeededRandom(7);
    let now = 0;
    const queue = new DeadlineQueue(() => now);
    const log: string[] = [];
    const live = new Map<string, Deadline>();
    for (let step = 0; step < 5000; step++) {
      const roll = random.int(10);
      if (roll < 5) {
        const name = `i${step}`;
        const d = item(now + random.int(200), log, name);
        live.set(name, d);
        queue.add(d);
      } else if (roll < 8 && live.size > 0) {
        const names = [...live.keys()];
        const name = names[random.int(names.length)]!;
        queue.remove(live.get(name)!);
        live.delete(name);
      } else {
        now += random.int(20);
        // The naive reference: every live item past its deadline, by deadline.
        const due = [...live].filter(([, d]) => d.deadlineMs <= now).sort((a, b) => a[1].deadlineMs - b[1].deadlineMs);
        log.length = 0;
        expect(queue.sweep()).toBe(due.length);
        expect(log.map((l) => l.slice("expire ".length)).sort()).toEqual(due.map(([n]) => n).sort());
        for (const [name] of due) live.delete(name);
        // Earliest first: deadlines of the expired items never decrease.
        const order = log.map((l) => due.find(([n]) => n === l.slice("expire ".length))![1].deadlineMs);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
      expect(queue.size).toBe(live.size);
    }
  });

  test("abortAll aborts every pending item once and empties the queue", () => {
    const queue = new DeadlineQueue(() => 0);
    const log: string[] = [];
    queue.add(item(10, log, "a"));
    queue.add(item(5, log, "b"));
    queue.abortAll(new ScribeError("shutting_down", "stop"));
    expect(log.sort()).toEqual(["abort a shutting_down", "abort b shutting_down"]);
    expect(queue.size).toBe(0);
    expect(queue.sweep()).toBe(0);
  });
});

describe("Waiters", () => {
  test("an applied-index wait is settled by apply, or times out at its deadline with an unknown outcome", () => {
    let now = 0;
    const waiters = new Waiters(new DeadlineQueue(() => now), 3, () => 0);
    const results: string[] = [];
    waiters.waitApplied(2, 100, "the read", (e) => results.push(`2:${e?.code ?? "ok"}`));
    waiters.waitApplied(5, 100, "the read", (e) => results.push(`5:${e?.code ?? "ok"}`));
    waiters.waitApplied(9, 100, "the read", (e) => results.push(`9:${e?.message ?? "ok"}`));
    expect(results).toEqual(["2:ok"]);
    waiters.applied(6);
    expect(results).toEqual(["2:ok", "5:ok"]);
    now = 100;
    waiters.deadlines.sweep();
    expect(results[2]).toBe("9:the read did not complete within 0s; its outcome is unknown");
    waiters.applied(10);
    expect(results).toHaveLength(3);
    expect(waiters.deadlines.size).toBe(0);
  });

  test("leader waits are settled by a handled Ready that finds the leader they wait for, or at their deadline with or without an error", async () => {
    let now = 0;
    let leader = 0;
    const waiters = new Waiters(new DeadlineQueue(() => now), 0, () => leader);
    const anyLeader = waiters.untilLeader((l) => l !== 0, 50, () => new ScribeError("no_leader", "none"));
    const never = waiters.untilLeader((l) => l === 9, 50, () => new ScribeError("no_leader", "none"));
    leader = 2;
    const changed = waiters.untilLeader((l) => l !== 2, 80, () => undefined);
    await waiters.untilLeader((l) => l === 2, 80, () => undefined); // the core's leader now: at once
    expect(waiters.deadlines.size).toBe(3); // the core's change alone settles nothing until a Ready is handled
    waiters.leaderChecked();
    await anyLeader;
    expect(waiters.deadlines.size).toBe(2);
    now = 60;
    waiters.deadlines.sweep();
    await expect(never).rejects.toMatchObject({ code: "no_leader" });
    now = 80;
    waiters.deadlines.sweep();
    await changed; // the deadline passed without a change: settled without an error
    expect(waiters.deadlines.size).toBe(0);
  });

  test("condition waits hold until a handled Ready makes them true, or time out at the deadline; none polls", async () => {
    let now = 0;
    const waiters = new Waiters(new DeadlineQueue(() => now), 0, () => 3);
    const state = { size: 0 };
    const checks = { count: 0 };
    const sizeAtLeast = (n: number) => () => {
      checks.count++;
      return state.size >= n;
    };
    const results: string[] = [];
    waiters.waitUntil(sizeAtLeast(0), 100, () => new ScribeError("timeout", "t"), (e) => results.push(`0:${e?.code ?? "ok"}`));
    expect(results).toEqual(["0:ok"]); // true at once: no wait queued
    const five = waiters.until(sizeAtLeast(5), 100, () => new ScribeError("timeout", "five"));
    const nine = waiters.until(sizeAtLeast(9), 50, () => new ScribeError("timeout", "nine"));
    const quiet = waiters.until(sizeAtLeast(99), 50, () => undefined);
    expect(waiters.deadlines.size).toBe(3);
    // Without a Ready nothing is checked again, however long the waits last.
    const before = checks.count;
    now = 40;
    waiters.deadlines.sweep();
    expect(checks.count).toBe(before);
    // A state change alone settles nothing until the driver reports a handled Ready.
    state.size = 6;
    waiters.applied(1);
    waiters.leaderChecked();
    expect(waiters.deadlines.size).toBe(3);
    waiters.progressed();
    await five;
    expect(waiters.deadlines.size).toBe(2);
    now = 50;
    waiters.deadlines.sweep();
    await expect(nine).rejects.toMatchObject({ code: "timeout", message: "nine" });
    await quiet; // its deadline passed: settled without an error
    const afterExpiry = checks.count;
    state.size = 10;
    waiters.progressed(); // an expired wait is neither checked nor settled again
    expect(checks.count).toBe(afterExpiry);
    expect(waiters.deadlines.size).toBe(0);
  });

  test("a condition that throws settles its wait with unavailable, and a stopped node aborts condition waits", () => {
    const waiters = new Waiters(new DeadlineQueue(() => 0), 0, () => 0);
    const results: string[] = [];
    const record = (name: string) => (e?: ScribeError) => results.push(`${name}:${e?.code ?? "ok"}:${e?.message ?? ""}`);
    let broken = false;
    const failing = () => {
      if (broken) throw new Error("tree closed");
      return false;
    };
    waiters.waitUntil(failing, 100, () => new ScribeError("timeout", "t"), record("failing"));
    broken = true;
    waiters.progressed();
    expect(results).toEqual(["failing:unavailable:a wait's condition failed: tree closed"]);
    expect(waiters.deadlines.size).toBe(0);
    waiters.waitUntil(failing, 100, () => undefined, record("at-once"));
    expect(results[1]).toBe("at-once:unavailable:a wait's condition failed: tree closed");
    waiters.waitUntil(() => false, 100, () => new ScribeError("timeout", "t"), record("pending"));
    waiters.deadlines.abortAll(new ScribeError("shutting_down", "the node is stopping"));
    expect(results[2]).toBe("pending:shutting_down:the node is stopping");
    waiters.progressed();
    expect(results).toHaveLength(3);
  });

  test("a request waits for a leader until its own deadline when that comes before the five-second bound", async () => {
    let now = 0;
    const waiters = new Waiters(new DeadlineQueue(() => now), 0, () => 0);
    const self = { client: "http://127.0.0.1:1", raft: "127.0.0.1:2" };
    const leadership = new Leadership(1, { softState: () => ({ leader: 0, role: "follower" }) as never }, new AddressBook(1, self, {}), waiters, () => now);
    const settled: string[] = [];
    const track = (name: string, wait: Promise<void>) => wait.then(() => settled.push(`${name} ok`), (e: ScribeError) => settled.push(`${name} ${e.code}@${now}`));
    const soon = track("soon", leadership.awaitLeader(1000));
    const bounded = track("bounded", leadership.awaitLeader());
    const late = track("late", leadership.awaitLeader(60_000));
    for (now = 0; now <= 6000; now += 250) {
      waiters.deadlines.sweep();
      await Bun.sleep(0);
    }
    await Promise.all([soon, bounded, late]);
    expect(settled.sort()).toEqual(["bounded no_leader@5000", "late no_leader@5000", "soon no_leader@1000"]);
  });

  test("a wait for a leader sees the leader the core knows now, not the last one a Ready reported: a refused request's retry waits instead of spinning", async () => {
    // Seen in a partitioned 5-node cluster: the core lost its leader (an election timeout) and a
    // read arrived before the Ready that reports it; the wait for a leader passed at once on the
    // reported one, the read found no leader's address (no_leader), the wait for another leader
    // passed at once again, and the retry loop spun in microtasks for the read's whole timeout,
    // read after read, without letting the Ready loop run.
    let now = 0;
    let leader = 4;
    const waiters = new Waiters(new DeadlineQueue(() => now), 0, () => leader);
    const self = { client: "http://127.0.0.1:1", raft: "127.0.0.1:2" };
    const leadership = new Leadership(1, { softState: () => ({ leader, role: "follower" }) as never }, new AddressBook(1, self, {}), waiters, () => now);
    waiters.leaderChecked(); // a Ready was handled while leader 4 was known
    leader = 0; // the core lost it; no Ready since
    const settled: string[] = [];
    void leadership.awaitLeader(10_000).then(() => settled.push("a leader"));
    void leadership.awaitLeaderChange(0, 10_000).then(() => settled.push("another leader"));
    await Bun.sleep(0);
    expect(settled).toEqual([]);
    expect(waiters.deadlines.size).toBe(2);
    // The core finds leader 4 again before the next Ready (no soft state change to report): the
    // next handled Ready settles both waits all the same.
    leader = 4;
    waiters.leaderChecked();
    await Bun.sleep(0);
    expect(settled.sort()).toEqual(["a leader", "another leader"]);
    expect(waiters.deadlines.size).toBe(0);
  });
});
