/**
 * `bun run build`: single executables with `bun build --compile`:
 *   dist/scribe-node  (src/main.ts)      dist/scribe  (src/cli/main.ts, when present)
 *
 *   bun run build [--outdir DIR] [--only scribe-node|scribe]
 *
 * The node's cold tier gzips in a Worker, which a single executable can only start when the worker
 * is compiled in as an extra entry point (src/storage/cold/compression.ts, compiledGzipWorkerPath).
 *
 * `--sourcemap` embeds the source map in the executable (stack traces name src/ files and lines),
 * and bun also writes `.map` files beside it: each target is built in a staging directory inside
 * the output directory, only the executable is moved out, and the staging directory is removed,
 * so the output directory holds executables only.
 */

import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = `${import.meta.dir}/..`;
const { values: flags } = parseArgs({ args: Bun.argv.slice(2), options: { outdir: { type: "string", default: "dist" }, only: { type: "string" } } });
const targets: [string, string, string[]][] = [
  ["src/main.ts", "scribe-node", ["src/storage/cold/gzip-worker.ts"]],
  ["src/cli/main.ts", "scribe", []],
];
const outdir = resolve(root, flags.outdir!);
mkdirSync(outdir, { recursive: true });
for (const [entry, name, extraEntries] of targets) {
  if (flags.only !== undefined && name !== flags.only) continue;
  if (!(await Bun.file(`${root}/${entry}`).exists())) continue;
  const staging = join(outdir, `.build-${name}-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  let code: number;
  try {
    const proc = Bun.spawn(["bun", "build", "--compile", "--minify", "--sourcemap", entry, ...extraEntries, "--outfile", join(staging, name)], { cwd: root, stdout: "inherit", stderr: "inherit" });
    code = await proc.exited;
    if (code === 0) renameSync(join(staging, name), join(outdir, name));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (code !== 0) process.exit(1);
  console.log(`built ${join(flags.outdir!, name)}`);
}
