/**
 * The simulator's checks can fail: with a bug planted in the node's real Ready loop
 * (src/cluster/ready-loop.ts, DriverBug) or in the simulated storage, some seed among the first
 * few dozen must be reported, naming the broken property and its seed.
 */
import { describe, expect, test } from "bun:test";
import { SimulationFailure, runSimulation, simOptionsForSeed, type SimBug } from "./sim/simulator.ts";

/** The seeds that failed with a bug planted: without it, they must pass (the control below). */
const failedSeeds = new Set<number>();

function firstFailure(bug: SimBug, seedsMax = 60): SimulationFailure | null {
  for (let seed = 1; seed <= seedsMax; seed++) {
    try {
      runSimulation(simOptionsForSeed(seed, { bug, membershipChanges: false }));
    } catch (error) {
      if (error instanceof SimulationFailure) {
        failedSeeds.add(seed);
        return error;
      }
      throw error;
    }
  }
  return null;
}

describe("the simulator detects bugs planted in the driver", () => {
  test("sending every message before the Ready is persisted loses committed entries", () => {
    const failure = firstFailure("sendBeforePersist");
    expect(failure).not.toBeNull();
    // Lost acknowledgements show as lost entries, diverging state, double votes, or a follower stuck forever.
    expect(failure!.message).toMatch(/durable on only|state machine safety|log matching|leader completeness|linearizability|committed entry|no convergence|one vote per term|election safety/);
    expect(failure!.message).toContain(`--start ${failure!.seed}`);
    expect(failure!.message).toContain("--bug sendBeforePersist");
  });

  test("sending a vote before its term and vote are persisted lets a node vote twice in a term", () => {
    const failure = firstFailure("voteBeforePersist");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/one vote per term|election safety/);
  });

  test("answering a proposer before its entry is committed breaks linearizability", () => {
    const failure = firstFailure("ackBeforeDurable");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/linearizability violation/);
  });

  test("applying entries before they commit breaks state machine safety", () => {
    const failure = firstFailure("applyBeforeCommit");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/state machine safety: node \d+ applies \d+ beyond its commit index/);
  });

  test("answering reads from local state, without a read index round, is caught by the linearizability checker", () => {
    const failure = firstFailure("localReads");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/linearizability/);
  });

});

describe("the simulator detects a bug planted in the storage", () => {
  test("persistence that keeps stale conflicting entries breaks log matching", () => {
    const failure = firstFailure("keepStaleEntries");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/log matching|state machine safety|leader completeness|durable|linearizability/);
  });

  test("a failing seed fails the same way when replayed", () => {
    const failure = firstFailure("voteBeforePersist")!;
    expect(() => runSimulation(simOptionsForSeed(failure.seed, { bug: "voteBeforePersist", membershipChanges: false }))).toThrow(failure.message);
  });
});

describe("the simulator checks the election bound", () => {
  test("campaigns retried only after twice an election timeout (not the core's quick retry) leave a crashed or isolated leader unreplaced too long", () => {
    let failure: SimulationFailure | null = null;
    // Leaders are crashed or isolated often here (electionProbeChance), so a slow election shows soon.
    const options = { membershipChanges: false, electionProbeChance: 0.01 };
    for (let seed = 1; seed <= 100 && !failure; seed++) {
      try {
        runSimulation(simOptionsForSeed(seed, { ...options, campaignRetryTicks: 20 }));
      } catch (error) {
        if (!(error instanceof SimulationFailure)) throw error;
        failure = error;
      }
    }
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/election bound: (crashed|isolated) leader \d+ \(term \d+\) not replaced within \d+ steps/);
    // The same seed with the core's own retry keeps the bound.
    expect(() => runSimulation(simOptionsForSeed(failure!.seed, options))).not.toThrow();
  }, 60_000);
});

test("the seeds that failed with a planted bug pass without it: the bug, not the seed, failed them", () => {
  expect(failedSeeds.size).toBeGreaterThan(0);
  for (const seed of failedSeeds) expect(() => runSimulation(simOptionsForSeed(seed, { membershipChanges: false }))).not.toThrow();
});
