/**
 * The simulator's checks can fail: with a bug planted in the simulated application, some seed
 * among the first few dozen must be reported, naming the broken property and its seed.
 */
import { describe, expect, test } from "bun:test";
import { SimulationFailure, runSimulation, simOptionsForSeed, type SimOptions } from "./sim/simulator.ts";

function firstFailure(bug: NonNullable<SimOptions["bug"]>, seedsMax = 60): SimulationFailure | null {
  for (let seed = 1; seed <= seedsMax; seed++) {
    try {
      runSimulation(simOptionsForSeed(seed, { bug, membershipChanges: false }));
    } catch (error) {
      if (error instanceof SimulationFailure) return error;
      throw error;
    }
  }
  return null;
}

describe("the simulator detects planted bugs", () => {
  test("acknowledging before persisting loses committed entries", () => {
    const failure = firstFailure("sendBeforePersist");
    expect(failure).not.toBeNull();
    // Lost acknowledgements show as lost entries, diverging state, or a follower stuck forever.
    expect(failure!.message).toMatch(/durable on only|state machine safety|log matching|leader completeness|linearizability|committed entry|no convergence/);
    expect(failure!.message).toContain(`--start ${failure!.seed}`);
  });

  test("persistence that keeps stale conflicting entries breaks log matching", () => {
    const failure = firstFailure("keepStaleEntries");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/log matching|state machine safety|leader completeness|durable|linearizability/);
  });

  test("serving reads from local state is caught by the linearizability checker", () => {
    const failure = firstFailure("localReads");
    expect(failure).not.toBeNull();
    expect(failure!.message).toMatch(/linearizability/);
  });

  test("a failing seed fails the same way when replayed", () => {
    const failure = firstFailure("localReads")!;
    expect(() => runSimulation(simOptionsForSeed(failure.seed, { bug: "localReads", membershipChanges: false }))).toThrow(failure.message);
  });
});
