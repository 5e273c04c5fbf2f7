/**
 * `bun run bench`: every benchmark of the project, one after another, each printing its own
 * baseline measured in the same run. Pass names to run a subset: `bun run bench http merkle`.
 */

const all: Record<string, string> = {
  http: "bench/http.ts",
  "raft-core": "bench/raft-core.ts",
  merkle: "bench/merkle.ts",
  transport: "bench/transport.ts",
  cold: "bench/cold.ts",
  cluster: "bench/cluster.ts",
};

const wanted = Bun.argv.slice(2).filter((a) => !a.startsWith("-"));
const root = `${import.meta.dir}/..`;
let failed = 0;
for (const [name, file] of Object.entries(all)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  if (!(await Bun.file(`${root}/${file}`).exists())) continue;
  console.log(`\n######## ${name} (${file})`);
  const proc = Bun.spawn(["bun", file], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) {
    failed++;
    console.log(`${name}: exited with ${proc.exitCode}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
