/**
 * `bun run build`: single executables with `bun build --compile`:
 *   dist/scribe-node  (src/main.ts)      dist/scribe  (src/cli/main.ts, when present)
 *
 *   bun run build [--outdir DIR] [--only scribe-node|scribe]
 *
 * The node's cold tier gzips in a Worker, which a single executable can only start when the worker
 * is compiled in as an extra entry point (src/storage/cold/compression.ts, compiledGzipWorkerPath).
 */

import { parseArgs } from "node:util";

const root = `${import.meta.dir}/..`;
const { values: flags } = parseArgs({ args: Bun.argv.slice(2), options: { outdir: { type: "string", default: "dist" }, only: { type: "string" } } });
const targets: [string, string, string[]][] = [
  ["src/main.ts", "dist/scribe-node", ["src/storage/cold/gzip-worker.ts"]],
  ["src/cli/main.ts", "dist/scribe", []],
];
for (const [entry, target, extraEntries] of targets) {
  const outfile = target.replace(/^dist\//, `${flags.outdir}/`);
  if (flags.only !== undefined && !target.endsWith(`/${flags.only}`)) continue;
  if (!(await Bun.file(`${root}/${entry}`).exists())) continue;
  const proc = Bun.spawn(["bun", "build", "--compile", "--minify", "--sourcemap", entry, ...extraEntries, "--outfile", outfile], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) process.exit(1);
  console.log(`built ${outfile}`);
}
