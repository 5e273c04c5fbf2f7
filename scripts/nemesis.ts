/**
 * A seeded fault run against a real cluster of node processes on loopback (test/support/nemesis.ts):
 * kill -9 and SIGSTOP of the leader, a follower, a majority and every node, and network partitions
 * (the leader alone, a minority, two sides bridged by one node), while clients write and
 * read through every node and a monitor checks signed checkpoints; then the history must be
 * linearizable, every acknowledged write in every node's ledger, no write applied twice, and every
 * checkpoint consistent with every other.
 *
 *   bun scripts/nemesis.ts [--seed N] [--runs 1] [--seconds 60] [--nodes 3] [--clients 8]
 *                          [--faults kill-leader,pause-majority,...] [--quiet]
 *
 * --runs R runs seeds N..N+R-1 one after the other (default seed: random, printed). The seed fixes
 * the fault schedule, not the processes' timing. Each run prints a JSON report; the exit code is 1
 * when any run found a problem, 2 for bad arguments. Every process it starts is stopped by its PID,
 * also on Ctrl-C.
 */
import { parseArgs } from "node:util";
import { faultKinds, runNemesis, type FaultKind } from "../test/support/nemesis.ts";

const usage = "usage: bun scripts/nemesis.ts [--seed N] [--runs 1] [--seconds 60] [--nodes 3] [--clients 8] [--faults kind,...] [--quiet]";
let values;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      seed: { type: "string" },
      runs: { type: "string", default: "1" },
      seconds: { type: "string", default: "60" },
      nodes: { type: "string", default: "3" },
      clients: { type: "string", default: "8" },
      faults: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  }));
} catch (error) {
  console.error(`nemesis: ${(error as Error).message}\n${usage}`);
  process.exit(2);
}

function integer(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`nemesis: --${name} must be an integer >= ${min}, got ${JSON.stringify(text)}\n${usage}`);
    process.exit(2);
  }
  return n;
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : integer("seed", values.seed, 0);
const runs = integer("runs", values.runs, 1);
const seconds = integer("seconds", values.seconds, 1);
const nodes = integer("nodes", values.nodes, 3);
if (nodes % 2 === 0) {
  console.error(`nemesis: --nodes must be odd, got ${nodes}`);
  process.exit(2);
}
const clients = integer("clients", values.clients, 1);
const faults = values.faults?.split(",").map((f) => f.trim());
const unknown = faults?.filter((f) => !(faultKinds as readonly string[]).includes(f));
if (unknown && unknown.length > 0) {
  console.error(`nemesis: unknown fault ${unknown.join(", ")}; one of ${faultKinds.join(", ")}`);
  process.exit(2);
}

// Ctrl-C: the run's finally block stops the cluster; a second Ctrl-C exits at once.
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error("nemesis: interrupted; stopping the cluster (Ctrl-C again to exit at once)");
});

let failed = 0;
for (let run = 0; run < runs && !interrupted; run++) {
  const runSeed = seed + run;
  console.error(`nemesis: seed ${runSeed}, ${seconds} s of faults, ${nodes} nodes, ${clients} clients`);
  const report = await runNemesis({
    seed: runSeed,
    seconds,
    nodes,
    clients,
    faults: faults as FaultKind[] | undefined,
    log: values.quiet ? undefined : (line) => console.error(`  ${line}`),
    stop: () => interrupted,
  });
  console.log(JSON.stringify(report, null, 2));
  if (!report.ok) {
    failed++;
    console.error(`nemesis: seed ${runSeed} FAILED; repeat its fault schedule with: bun scripts/nemesis.ts --seed ${runSeed} --seconds ${seconds} --nodes ${nodes} --clients ${clients}${values.faults ? ` --faults ${values.faults}` : ""}`);
  }
}
console.error(`nemesis: ${failed} of ${runs} runs found a problem`);
process.exit(failed > 0 ? 1 : 0);
