/**
 * `bun run build`: single executables with `bun build --compile`:
 *   dist/scribe-node  (src/main.ts)      dist/scribe  (src/cli/main.ts, when present)
 */

const root = `${import.meta.dir}/..`;
const targets: [string, string][] = [
  ["src/main.ts", "dist/scribe-node"],
  ["src/cli/main.ts", "dist/scribe"],
];
for (const [entry, outfile] of targets) {
  if (!(await Bun.file(`${root}/${entry}`).exists())) continue;
  const proc = Bun.spawn(["bun", "build", "--compile", "--minify", "--sourcemap", entry, "--outfile", outfile], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) process.exit(1);
  console.log(`built ${outfile}`);
}
