/**
 * @module bench/table. Prints the ratio table of a saved run, or compares two runs row by row
 * (the "before" and "after" of a change): each row's ratio in both, and the servers' CPU per
 * operation in both, which moves less than throughput between runs on a shared machine.
 *
 *   bun bench/table.ts [bench/results.json]                         one run's table
 *   bun bench/table.ts bench/history/BEFORE.json bench/results.json  before / after
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildRows, formatStolenShare, formatTable, type Results, type Row } from "./lib/report.ts";
import { repoRoot } from "./lib/proc.ts";

function load(path: string): Results {
  const results = JSON.parse(readFileSync(path, "utf8")) as Results;
  // Rows are rebuilt from the stored figures, so older files get the current columns.
  results.rows = buildRows(results.runs.map((r) => r.figures));
  return results;
}

function describe(path: string, r: Results): string {
  return `${path}: ${r.date}, src/ at ${(r.git.src_commit ?? r.git.commit).slice(0, 10)}, ${r.options.runs} run(s), ${r.machine.cpus} x ${r.machine.model}, load ${r.machine.loadavg_at_start.toFixed(1)} at start${typeof r.stolen_cpu_share === "number" ? `, ${formatStolenShare(r.stolen_cpu_share)} of the CPU stolen by the hypervisor` : ""}`;
}

function cpu(row: Row): string {
  return row.scribe_cpu_us_per_op === null ? "-" : `${row.scribe_cpu_us_per_op.toFixed(0)} µs`;
}

const files = Bun.argv.slice(2);
if (files.length > 2) {
  console.error("usage: bun bench/table.ts [RESULTS.json [AFTER.json]]");
  process.exit(2);
}
if (files.length <= 1) {
  const path = files[0] ?? join(repoRoot, "bench", "results.json");
  const results = load(path);
  console.log(describe(path, results));
  console.log(formatTable(results.rows));
} else {
  const [before, after] = files.map(load) as [Results, Results];
  console.log(`before: ${describe(files[0]!, before)}`);
  console.log(`after:  ${describe(files[1]!, after)}`);
  console.log("| # | path | baseline | target | ratio before | ratio after | change | Scribe CPU/op before | after |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  before.rows.forEach((b, i) => {
    const a = after.rows[i]!;
    const ratio = (r: Row) => (r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x${r.met === false ? " (missed)" : ""}`);
    const change = a.ratio !== null && b.ratio !== null ? `${(a.ratio / b.ratio).toFixed(2)}x` : "-";
    console.log(`| ${i + 1} | ${b.path} | ${b.baseline_name} | ${b.target ?? "-"} | ${ratio(b)} | ${ratio(a)} | ${change} | ${cpu(b)} | ${cpu(a)} |`);
  });
}
