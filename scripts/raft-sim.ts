/**
 * Runs the Raft simulator (the node's real Ready loop over simulated storage, network and clock)
 * over many seeds; every seed checks the safety invariants, linearizability and, with pre-vote, the
 * election bound (a crashed or isolated leader replaced in time; docs/RAFT.md):
 *   bun scripts/raft-sim.ts --seeds 10000 --start 1 [--steps 5000] [--nodes 1|3|5] [--trace] [--keep-going]
 *                           [--bug sendBeforePersist|voteBeforePersist|ackBeforeDurable|applyBeforeCommit|localReads|keepStaleEntries]
 * Each seed is one deterministic run; a failure prints the seed and the replay command. At the end
 * it prints how long the timed elections took (p50, p99, p99.9, max, in steps) against the bound.
 * Exit code 1 when any seed fails, 2 for an unknown bug name.
 */
import { parseArgs } from "node:util";
import { SimulationFailure, electionBoundSteps, runSimulation, simOptionsForSeed, type SimBug } from "../test/raft/sim/simulator.ts";

const bugs: readonly SimBug[] = ["sendBeforePersist", "voteBeforePersist", "ackBeforeDurable", "applyBeforeCommit", "localReads", "keepStaleEntries"];

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seeds: { type: "string", default: "1000" },
    start: { type: "string", default: "1" },
    steps: { type: "string" },
    nodes: { type: "string" },
    trace: { type: "boolean", default: false },
    "keep-going": { type: "boolean", default: false },
    bug: { type: "string" }, // plant a bug to see the checks fire: one of `bugs`
  },
});

const seeds = Number(values.seeds);
const start = Number(values.start);
const overrides: Record<string, unknown> = { trace: values.trace };
if (values.steps) overrides.steps = Number(values.steps);
if (values.nodes) overrides.nodeCount = Number(values.nodes);
if (values.bug) {
  if (!bugs.includes(values.bug as SimBug)) {
    console.error(`raft-sim: unknown --bug ${values.bug}; one of ${bugs.join(", ")}`);
    process.exit(2);
  }
  overrides.bug = values.bug;
}

const startedMs = performance.now();
let failed = 0;
let operations = 0;
const electionSteps: number[] = [];
for (let seed = start; seed < start + seeds; seed++) {
  try {
    const stats = runSimulation(simOptionsForSeed(seed, overrides));
    operations += stats.operations;
    electionSteps.push(...stats.electionSteps);
    if (values.trace) console.log(JSON.stringify(stats));
  } catch (error) {
    failed++;
    console.error(error instanceof SimulationFailure ? error.message : error);
    if (!values["keep-going"]) break;
  }
  if ((seed - start + 1) % 500 === 0) {
    console.log(`${seed - start + 1} seeds, ${failed} failed, ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
  }
}
const seconds = (performance.now() - startedMs) / 1000;
console.log(`raft-sim: ${seeds} seeds from ${start}: ${failed} failed, ${operations} client operations checked, ${seconds.toFixed(1)} s`);
if (electionSteps.length > 0) {
  // The timed elections (a crashed or isolated leader replaced), in simulated steps (ms).
  electionSteps.sort((a, b) => a - b);
  const at = (q: number) => electionSteps[Math.min(electionSteps.length - 1, Math.floor(q * electionSteps.length))];
  console.log(`raft-sim: ${electionSteps.length} timed elections: p50 ${at(0.5)}, p99 ${at(0.99)}, p99.9 ${at(0.999)}, max ${electionSteps.at(-1)} steps (the bound: ${electionBoundSteps})`);
}
process.exit(failed > 0 ? 1 : 0);
