/**
 * The driver's one deadline mechanism (src/cluster/deadlines.ts) and the waits built on it
 * (src/cluster/waiters.ts), against an injected clock.
 */
import { describe, expect, test } from "bun:test";
import { DeadlineQueue, type Deadline } from "../../src/cluster/deadlines.ts";
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
    const waiters = new Waiters(new DeadlineQueue(() => now), 3);
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

  test("leader waits are settled by a soft state report, or at their deadline with or without an error", async () => {
    let now = 0;
    const waiters = new Waiters(new DeadlineQueue(() => now), 0);
    const anyLeader = waiters.untilLeader((l) => l !== 0, 50, () => new ScribeError("no_leader", "none"));
    const changed = waiters.untilLeader((l) => l !== 2, 80, () => undefined);
    const never = waiters.untilLeader((l) => l === 9, 50, () => new ScribeError("no_leader", "none"));
    waiters.leaderChanged(2);
    await anyLeader;
    now = 60;
    waiters.deadlines.sweep();
    await expect(never).rejects.toMatchObject({ code: "no_leader" });
    now = 80;
    waiters.deadlines.sweep();
    await changed; // the deadline passed without a change: settled without an error
    expect(waiters.deadlines.size).toBe(0);
  });
});
