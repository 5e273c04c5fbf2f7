/**
 * @module bench/gzip-pool. CPU of gzipping one 4 MiB segment (level 1, the default) in a Worker
 * of its own per segment (`gzipStream`) against a Worker kept across segments (`GzipPool`, what
 * the node's cold tier uses), alternated in rounds. CPU is the process's, all threads (the
 * worker's deflate included), so the figures hold on a loaded machine better than wall time.
 *
 *   bun bench/gzip-pool.ts [--rounds 3] [--segments 10]
 */

import { parseArgs } from "node:util";
import { collect, encodeSegment, GzipPool, gzipStream } from "../src/storage/cold/index.ts";
import { makeRecords } from "../test/cold/fixtures.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { rounds: { type: "string", default: "3" }, segments: { type: "string", default: "10" } } });
const rounds = Number(values.rounds);
const segments = Number(values.segments);
/** About 4 MiB of raw segment, the size bench/archival.ts seals. */
const records = makeRecords(20_000, 3, { maxValueBytes: 200 });
const raw = Buffer.concat([...encodeSegment(0, records.length, records)]);
const chunkBytes = 256 * 1024;
function* chunks(): Generator<Uint8Array> {
  for (let i = 0; i < raw.length; i += chunkBytes) yield raw.subarray(i, i + chunkBytes);
}
const cpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

console.log(`segment: ${(raw.length / 1024 / 1024).toFixed(2)} MiB raw, gzip level 1, ${segments} segments per round`);
const pool = new GzipPool();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const [name, gzip] of [["a Worker per segment", () => gzipStream(chunks(), 1)], ["a kept Worker (GzipPool)", () => pool.stream(chunks(), 1)]] as const) {
      const cpu = cpuMs();
      const wall = performance.now();
      for (let i = 0; i < segments; i++) await collect(gzip());
      console.log(`round ${round} ${name.padEnd(26)} ${((cpuMs() - cpu) / segments).toFixed(1).padStart(7)} ms CPU per segment, ${((performance.now() - wall) / segments).toFixed(1).padStart(7)} ms wall`);
    }
  }
} finally {
  pool.close();
}
