/**
 * The seeded simulator in CI: a bounded number of seeds (RAFT_SIM_SEEDS, default 500) over 3-
 * and 5-node clusters with faults (and a fifth as many over a sole voter with crashes), each node running the real Ready loop of
 * src/cluster/ready-loop.ts; every seed must keep all invariants and produce a linearizable
 * client history, and (with pre-vote, as the node runs) replace a crashed or isolated leader
 * within the election bound of docs/RAFT.md. A failure names its seed; replay it with
 *   bun scripts/raft-sim.ts --seeds 1 --start <seed> --trace
 */
import { describe, expect, test } from "bun:test";
import { runSimulation, simOptionsForSeed } from "./sim/simulator.ts";

const seeds = Number(process.env.RAFT_SIM_SEEDS ?? 500);
const start = Number(process.env.RAFT_SIM_START ?? 1);

describe("raft simulator", () => {
  test(`${seeds} seeds keep every invariant and linearizability`, () => {
    const failures: string[] = [];
    let operations = 0;
    let catchups = 0;
    let configChanges = 0;
    let largestBatch = 0;
    let electionProbes = 0;
    let electionStepsMax = 0;
    for (let seed = start; seed < start + seeds; seed++) {
      try {
        const stats = runSimulation(simOptionsForSeed(seed));
        operations += stats.operations;
        catchups += stats.catchups;
        configChanges += stats.configChanges;
        largestBatch = Math.max(largestBatch, stats.largestBatch);
        electionProbes += stats.electionProbes;
        electionStepsMax = Math.max(electionStepsMax, ...stats.electionSteps);
      } catch (error) {
        failures.push(String(error));
        if (failures.length >= 3) break;
      }
    }
    if (failures.length > 0) console.error(failures.join("\n"));
    expect(failures).toEqual([]);
    // The runs must actually exercise the protocol, or passing means nothing.
    expect(operations).toBeGreaterThan(seeds * 50);
    expect(largestBatch).toBeGreaterThan(1); // group commit proposes several writes at once
    if (seeds >= 50) {
      expect(catchups).toBeGreaterThan(0);
      expect(configChanges).toBeGreaterThan(0);
      // Leaders were crashed and isolated, and each was replaced within the election bound.
      expect(electionProbes).toBeGreaterThan(seeds / 4);
      expect(electionStepsMax).toBeGreaterThan(0);
    }
  }, 300_000);

  test("a sole voter, whose entries commit in the write that persists them, keeps every invariant through crashes", () => {
    const failures: string[] = [];
    let operations = 0;
    for (let seed = start; seed < start + Math.max(20, Math.floor(seeds / 5)); seed++) {
      try {
        operations += runSimulation(simOptionsForSeed(seed, { nodeCount: 1, membershipChanges: false })).operations;
      } catch (error) {
        failures.push(String(error));
        if (failures.length >= 3) break;
      }
    }
    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThan(1000);
  }, 300_000);

  test("a run replays identically from its seed", () => {
    const a = runSimulation(simOptionsForSeed(77));
    const b = runSimulation(simOptionsForSeed(77));
    expect(b).toEqual(a);
  });
});
