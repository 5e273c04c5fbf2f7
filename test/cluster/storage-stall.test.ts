/**
 * A full disk is a state of the Ready loop (src/cluster/ready-loop.ts, "Storage stalls"), not a
 * failure: with the node's StorageState as its gate, a leader below its free-space reserve refuses
 * proposals before the core sees them; a persist step SQLite refuses for lack of space is kept and
 * written later, the same step; a follower below the reserve holds the leader's appends. Real Raft
 * cores over memory logs, a store that fails like SQLite does (code SQLITE_FULL), the real
 * StorageState and DiskSpace with statfs replaced by a number the test sets, a clock the test moves.
 */
import { expect, test } from "bun:test";
import pino from "pino";
import { DeadlineQueue } from "../../src/cluster/deadlines.ts";
import type { PersistStep, ReplicaStore } from "../../src/cluster/ready-contracts.ts";
import { ReadyLoop } from "../../src/cluster/ready-loop.ts";
import { stallRetryMsMax } from "../../src/cluster/storage-stall.ts";
import { StorageState } from "../../src/cluster/storage-state.ts";
import { Waiters } from "../../src/cluster/waiters.ts";
import { fromUtf8, SeededRandom, utf8 } from "../../src/lib/index.ts";
import { MemoryStorage, RawNode, type Message } from "../../src/raft/index.ts";
import { DiskSpace } from "../../src/storage/index.ts";
import { deliver } from "./loop-network.ts";

const MiB = 1024 * 1024;

interface Node {
  core: RawNode;
  loop: ReadyLoop<string>;
  outbox: Message[];
  /** Data of the entries applied, in order. */
  applied: string[];
  disk: { full: boolean; freeBytes: number };
  storage: StorageState;
  logs: Record<string, unknown>[];
  fatal: unknown[];
}

function sqliteFull(): Error {
  return Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL", errno: 13 });
}

function makeNode(id: number, voters: number[], clock: { now: number }): Node {
  const log = new MemoryStorage({ voters, learners: [], index: 0 });
  const core = new RawNode({ id, storage: log, random: new SeededRandom(id), preVote: false, checkQuorum: false });
  const outbox: Message[] = [];
  const applied: string[] = [];
  const disk = { full: false, freeBytes: 512 * MiB };
  let appliedIndex = 0;
  const store: ReplicaStore<string> = {
    appliedIndex: () => appliedIndex,
    installCatchup: () => undefined,
    persistAndApply(step: PersistStep) {
      // Like one SQLite transaction on a full disk: nothing of the step is kept.
      if (disk.full && (step.entries.length > 0 || step.hardState || step.apply.length > 0)) throw sqliteFull();
      log.append(step.entries);
      if (step.hardState) log.setHardState(step.hardState);
      return step.apply.map((e) => {
        appliedIndex = e.index;
        if (e.data.length > 0) applied.push(fromUtf8(e.data));
        return `applied ${e.index}`;
      });
    },
    compact: () => undefined,
  };
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const storage = new StorageState(new DiskSpace({ dir: "/unused", minFreeBytes: 64 * MiB, now: () => clock.now, statfs: () => disk.freeBytes }), logger);
  const fatal: unknown[] = [];
  const sender = { send: (messages: readonly Message[]) => void outbox.push(...messages) };
  const waiters = new Waiters(new DeadlineQueue(() => clock.now), 0, () => core.softState().leader);
  const loop = new ReadyLoop<string>({
    core,
    store,
    sender,
    waiters,
    hardState: log.initialState().hardState,
    limits: { perCycleMax: 16, weightMax: 64 },
    storage,
    onFatal: (error) => fatal.push(error),
  });
  return { core, loop, outbox, applied, disk, storage, logs, fatal };
}

/** Proposes `text`; the returned object gets the outcome (a code, or "ok"). */
function propose(node: Node, text: string, clock: { now: number }): { outcome?: string } {
  const answer: { outcome?: string } = {};
  node.loop.propose(utf8(text), 1, clock.now + 60_000, (outcome) => (answer.outcome = outcome.ok ? "ok" : outcome.error.code));
  return answer;
}

function singleLeader(clock: { now: number }): Node {
  const node = makeNode(1, [1], clock);
  node.core.campaign();
  node.loop.cycle();
  expect(node.core.softState().role).toBe("leader");
  node.loop.cycle();
  return node;
}

test("a step SQLite could not write is kept and written later: in flight answer outcome_unknown, queued insufficient_storage, never fatal", () => {
  const clock = { now: 1000 };
  const node = singleLeader(clock);
  node.disk.full = true;
  const inflight = propose(node, "a", clock);
  node.loop.cycle();
  // Proposed, then its persist step failed: it may still commit (here, once space returns).
  expect(inflight.outcome).toBe("outcome_unknown");
  expect(node.loop.storageStalled).toBe(true);
  expect(node.fatal).toEqual([]);
  expect(node.storage.status()).toMatchObject({ writable: false, reason: expect.stringContaining("the disk is full") });

  const queued = propose(node, "b", clock);
  node.loop.cycle();
  expect(queued.outcome).toBe("insufficient_storage"); // never reached the core: nothing appended
  expect(node.core.status().lastIndex).toBe(2); // the no-op and "a" (unstable)

  // Still full at the retry: it waits longer, and stays stalled.
  clock.now += 200;
  node.loop.cycle();
  expect(node.loop.storageStalled).toBe(true);
  expect(node.fatal).toEqual([]);

  node.disk.full = false;
  clock.now += stallRetryMsMax;
  node.loop.cycle();
  node.loop.cycle();
  expect(node.loop.storageStalled).toBe(false);
  // The unknown write was written by the retry and applied: "unknown" was the honest answer.
  expect(node.applied).toEqual(["a"]);
  const after = propose(node, "c", clock);
  node.loop.cycle();
  node.loop.cycle();
  expect(after.outcome).toBe("ok");
  expect(node.applied).toEqual(["a", "c"]);
  expect(node.storage.status().writable).toBe(true);
  // One alarm when it became not writable, one line when it cleared.
  expect(node.logs.filter((l) => l.alarm === "insufficient_storage" && l.cleared !== true)).toHaveLength(1);
  expect(node.logs.filter((l) => l.cleared === true)).toHaveLength(1);
  expect(node.storage.counters).toMatchObject({ stalls: 1, refused_writes: 1 });
});

test("below the free-space reserve a leader refuses proposals before the core sees them, and takes them again once space returns", () => {
  const clock = { now: 1000 };
  const node = singleLeader(clock);
  const lastIndex = node.core.status().lastIndex;
  node.disk.freeBytes = 10 * MiB;
  const refused = [propose(node, "x", clock), propose(node, "y", clock)];
  node.loop.cycle();
  expect(refused.map((r) => r.outcome)).toEqual(["insufficient_storage", "insufficient_storage"]);
  expect(node.core.status().lastIndex).toBe(lastIndex); // nothing appended
  expect(node.loop.storageStalled).toBe(false); // a refusal, not a stall: the loop runs on
  expect(node.storage.status()).toMatchObject({ writable: false, free_bytes: 10 * MiB, min_free_bytes: 64 * MiB });
  expect(node.storage.counters.refused_writes).toBe(2);
  const alarms = node.logs.filter((l) => l.alarm === "insufficient_storage");
  expect(alarms).toHaveLength(1);
  expect(alarms[0]!.msg).toContain("ALARM insufficient_storage");

  // Space returns: the next group commit reads statfs again and the write goes through.
  node.disk.freeBytes = 100 * MiB;
  const accepted = propose(node, "z", clock);
  node.loop.cycle();
  node.loop.cycle();
  expect(accepted.outcome).toBe("ok");
  expect(node.applied).toEqual(["z"]);
  expect(node.storage.status().writable).toBe(true);
});

test("a follower below the reserve holds the leader's appends (no acknowledgement), the others commit, and it catches up when space returns", () => {
  const clock = { now: 1000 };
  const nodes = new Map([1, 2, 3].map((id) => [id, makeNode(id, [1, 2, 3], clock)]));
  const [one, two, three] = [nodes.get(1)!, nodes.get(2)!, nodes.get(3)!];
  one.core.campaign();
  deliver(nodes);
  expect(one.core.softState().role).toBe("leader");

  three.disk.freeBytes = MiB;
  clock.now += 200; // past the reuse of its last reading (which was far above the reserve)
  const write = propose(one, "w1", clock);
  deliver(nodes);
  expect(write.outcome).toBe("ok"); // the leader and node 2 are a majority
  expect(three.loop.storageStalled).toBe(true);
  expect(three.fatal).toEqual([]);
  expect(three.applied).toEqual([]);
  expect(two.applied).toEqual(["w1"]);

  three.disk.freeBytes = 200 * MiB;
  clock.now += stallRetryMsMax;
  deliver(nodes);
  one.core.tick(); // a heartbeat round brings the commit index
  deliver(nodes);
  expect(three.loop.storageStalled).toBe(false);
  expect(three.applied).toEqual(["w1"]);
});
