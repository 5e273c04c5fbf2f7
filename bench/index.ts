/**
 * @module bench/index. `bun run bench`: the ratio table of issue 12 — every Scribe figure beside a
 * baseline measured in the same run (single, archival, cluster) — then the micro benchmarks
 * (raft-core, merkle, transport, cold), each printing its own baseline; the table comes last and
 * is saved to bench/results.json (and bench/history/).
 *
 *   bun run bench                      everything (about 6-8 minutes on the 2-core machine)
 *   bun run bench summary              only the ratio table (about 3-4 minutes)
 *   bun run bench summary --quick      the same with 4 s loads (about 1.5-2 minutes; noisier)
 *   bun run bench summary --runs 3     three runs; figures and ratios are medians
 *   bun run bench cluster merkle       named sections only (a partial table is not saved)
 * Options: --seconds N (measured seconds per load, default 10), --warmup N (default 3),
 * --runs N (default 1), --quick (= --seconds 4 --warmup 1), --no-save.
 */

import { parseArgs } from "node:util";
import { benchArchival, type Backlog } from "./archival.ts";
import { benchCluster } from "./cluster.ts";
import type { RunFigures } from "./lib/figures.ts";
import { buildRows, cpuTicks, formatStolenShare, formatTable, gitInfo, machineInfo, saveResults, stolenShare, type Results } from "./lib/report.ts";
import { repoRoot } from "./lib/proc.ts";
import { benchSingle, type SectionOptions } from "./single.ts";

const tableSections = ["single", "archival", "cluster"] as const;
const microSections: Record<string, string> = {
  "raft-core": "bench/raft-core.ts",
  merkle: "bench/merkle.ts",
  transport: "bench/transport.ts",
  cold: "bench/cold.ts",
};

const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    seconds: { type: "string" },
    warmup: { type: "string" },
    runs: { type: "string", default: "1" },
    quick: { type: "boolean", default: false },
    "no-save": { type: "boolean", default: false },
  },
  allowPositionals: true,
});

const known = new Set<string>(["summary", ...tableSections, ...Object.keys(microSections)]);
for (const name of positionals) {
  if (!known.has(name)) {
    console.error(`unknown section "${name}"; known: ${[...known].join(", ")}`);
    process.exit(2);
  }
}
const wantsAll = positionals.length === 0;
const wanted = (name: string) => wantsAll || positionals.includes(name) || (positionals.includes("summary") && (tableSections as readonly string[]).includes(name));
const seconds = Number(values.seconds ?? (values.quick ? 4 : 10));
const warmupSeconds = Number(values.warmup ?? (values.quick ? 1 : 3));
const runs = Number(values.runs);
if (!(seconds > 0) || !(warmupSeconds >= 0) || !(Number.isInteger(runs) && runs >= 1)) {
  console.error("--seconds must be > 0, --warmup >= 0 and --runs an integer >= 1");
  process.exit(2);
}

const options: SectionOptions = { seconds, warmupSeconds, log: (line) => console.log(line) };
const date = new Date().toISOString();
const machine = machineInfo();
const git = gitInfo();
console.log(`scribe bench ${date}  commit ${git.commit.slice(0, 10)} (src/ at ${git.src_commit.slice(0, 10)})${git.dirty ? " (+uncommitted changes)" : ""}  bun ${machine.bun}`);
console.log(`${machine.cpus} x ${machine.model}, ${(machine.memory_bytes / 2 ** 30).toFixed(0)} GiB, kernel ${machine.kernel}, load ${machine.loadavg_at_start.toFixed(2)}`);

let failures = 0;
async function section<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    failures++;
    console.log(`${name}: FAILED: ${(error as Error).stack ?? error}`);
    return undefined;
  }
}

const runFigures: Results["runs"] = [];
const tableWanted = tableSections.filter(wanted);
const ticksAtStart = cpuTicks();
for (let run = 1; run <= runs && tableWanted.length > 0; run++) {
  if (runs > 1) console.log(`\n######## run ${run} of ${runs}`);
  const started = new Date().toISOString();
  const ticksAtRunStart = cpuTicks();
  const figures: RunFigures = {};
  let backlog: Backlog | undefined;
  if (wanted("single")) {
    const single = await section("single", () => benchSingle(options, wanted("archival")));
    if (single) {
      figures.single = single.figures;
      if (single.batchData && single.figures.batch) backlog = { dataDir: single.batchData, ingest: single.figures.batch.scribe };
    }
  }
  if (wanted("archival")) {
    const archival = await section("archival", () => benchArchival(options, backlog));
    if (archival) figures.archival = archival;
  }
  if (wanted("cluster")) {
    const cluster = await section("cluster", () => benchCluster(options));
    if (cluster) figures.cluster = cluster;
  }
  const stolen = stolenShare(ticksAtRunStart, cpuTicks());
  console.log(`CPU stolen by the hypervisor for other guests during this run: ${formatStolenShare(stolen)} of the machine's (steal, /proc/stat)`);
  runFigures.push({ started, figures, stolen_cpu_share: stolen });
}
const stolenOverall = stolenShare(ticksAtStart, cpuTicks());

for (const [name, file] of Object.entries(microSections)) {
  if (!wanted(name)) continue;
  console.log(`\n######## ${name} (${file})`);
  const proc = Bun.spawn(["bun", file], { cwd: repoRoot, stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) {
    failures++;
    console.log(`${name}: exited with ${proc.exitCode}`);
  }
}

if (runFigures.length > 0) {
  const rows = buildRows(runFigures.map((r) => r.figures));
  const stolenPerRun = runFigures.length > 1 ? ` (runs: ${runFigures.map((r) => formatStolenShare(r.stolen_cpu_share)).join(", ")})` : "";
  console.log(`\n######## ratio table: ${date}, ${runs > 1 ? `median of ${runs} runs` : "one run"}, ${warmupSeconds}s warm-up + ${seconds}s per load; CPU stolen by the hypervisor ${formatStolenShare(stolenOverall)}${stolenPerRun}`);
  console.log(formatTable(rows));
  const complete = tableSections.every(wanted) && failures === 0;
  if (complete && !values["no-save"]) {
    const results: Results = { format: 1, date, git, machine, options: { seconds, warmup_seconds: warmupSeconds, runs }, rows, stolen_cpu_share: stolenOverall, runs: runFigures };
    console.log(`saved: ${saveResults(results).map((p) => p.slice(repoRoot.length + 1)).join(", ")}`);
  } else {
    console.log(complete ? "not saved (--no-save)" : "partial table (a section was left out or failed): not saved; bench/results.json keeps the last complete run");
  }
}
process.exit(failures === 0 ? 0 : 1);
