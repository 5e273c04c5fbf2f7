/**
 * @module bench/key-spread. What a cached GET costs for reaching many keys rather than one: one
 * node, `--keys` keys preloaded (100 B values), wrk GETs (the bench's `get.lua`, default
 * consistency, 64 connections) of the first key only and of all `--keys` keys, in alternating
 * slices. The code path is the same; what differs is whether the objects a read reaches (the
 * caches' slots, the entry, its response headers, its value) are still in the core's caches.
 * docs/PERFORMANCE.md section 12 quotes it.
 *
 *   bun bench/key-spread.ts [--keys 1000] [--rounds 6] [--slice 3] [--env KEY=VALUE ...]
 *
 * --env (repeatable): the node's environment, for a temporary switch in the code under test.
 */

import { parseArgs } from "node:util";
import { alternate, combine, wrkSlice } from "./lib/alternate.ts";
import { benchEnv, envPairs, tempDir } from "./lib/proc.ts";
import { preload, startNode } from "./lib/scribe.ts";
import { getScript, haveWrk, runWrk } from "./lib/wrk.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { keys: { type: "string", default: "1000" }, rounds: { type: "string", default: "6" }, slice: { type: "string", default: "3" }, env: { type: "string", multiple: true, default: [] } } });
if (!haveWrk()) {
  console.error("bench/key-spread needs wrk (apt-get install -y wrk); not run");
  process.exit(2);
}
const keys = Number(values.keys);
const rounds = Number(values.rounds);
const sliceSeconds = Number(values.slice);
for (const [name, n] of [["keys", keys], ["rounds", rounds], ["slice", sliceSeconds]] as const) {
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number of at least 1, got ${values[name]}`);
    process.exit(2);
  }
}
const connections = 64;
const prefix = "spread/";
const extraEnv = envPairs(values.env as string[]);

const dir = tempDir("scribe-key-spread-");
const node = await startNode({ dataDir: dir.path, env: { ...benchEnv, ...extraEnv } });
try {
  await preload(node.url, prefix, keys, 100);
  await runWrk({ url: node.url, script: getScript(keys, prefix), connections, seconds: 3 });
  const slices = await alternate(rounds, {
    one: () => wrkSlice(node.url, [node.pid], getScript(1, prefix), connections, sliceSeconds),
    all: () => wrkSlice(node.url, [node.pid], getScript(keys, prefix), connections, sliceSeconds),
  });
  const one = combine(slices.one);
  const all = combine(slices.all);
  const load = (await Bun.file("/proc/loadavg").text()).split(" ")[0];
  console.log(`cached GET, ${rounds} alternating rounds of ${sliceSeconds} s, load average ${load}`);
  console.log(`one key      ${one.ops_per_sec.toFixed(0).padStart(7)} reads/s   cpu ${one.cpu_us_per_op!.toFixed(2)} us/read   errors ${one.errors}`);
  console.log(`${String(keys).padEnd(5)} keys   ${all.ops_per_sec.toFixed(0).padStart(7)} reads/s   cpu ${all.cpu_us_per_op!.toFixed(2)} us/read   errors ${all.errors}`);
  console.log(`${keys} keys / one key: rate ${(all.ops_per_sec / one.ops_per_sec).toFixed(2)}x, cpu per read ${(all.cpu_us_per_op! / one.cpu_us_per_op!).toFixed(2)}x`);
} finally {
  await node.stop();
  dir.remove();
}
