/**
 * What a node loads at start: the AWS SDK only once the cold tier makes a client or a command
 * (src/storage/cold/sdk.ts), pino-pretty only for a pretty log (src/cluster/logger.ts). Loading
 * them took about a quarter of a node's start and 9 MiB of memory (docs/PERFORMANCE.md section 13).
 * Each case runs in a fresh `bun` process, whose module registry starts empty; both packages
 * are CommonJS, so `require.cache` lists what of them was loaded.
 */

import { expect, test } from "bun:test";
import { join } from "node:path";

const repoRoot = join(import.meta.dir, "../..");

/** The packages of `packages` that a fresh process has loaded after running `script`. */
async function loadedAfter(script: string, packages: readonly string[]): Promise<string[]> {
  const report = `console.log(JSON.stringify(${JSON.stringify(packages)}.filter((p) => Object.keys(require.cache).some((k) => k.includes("/node_modules/" + p + "/")))));`;
  const child = Bun.spawn(["bun", "-e", `${script}\n${report}`], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(err).toBe("");
  expect(code).toBe(0);
  return JSON.parse(out.trim().split("\n").at(-1)!) as string[];
}

const packages = ["@aws-sdk/client-s3", "pino-pretty"];

test("the node's modules and a JSON logger load neither the AWS SDK nor pino-pretty", async () => {
  const script = `
    const { createLogger } = await import("./src/cluster/index.ts");
    await import("./src/cluster/server.ts");
    createLogger({ level: "info", format: "json", output: "stderr", audit_log: "" }).debug("x");`;
  expect(await loadedAfter(script, packages)).toEqual([]);
});

test("an S3 client loads the AWS SDK, a pretty logger pino-pretty", async () => {
  const script = `
    const { createLogger } = await import("./src/cluster/index.ts");
    const { createS3Client } = await import("./src/storage/cold/index.ts");
    createS3Client({ bucket: "b", region: "us-east-1", endpoint: "http://127.0.0.1:9", path_style: true, timeout_secs: 1, max_retries: 0 }).destroy();
    createLogger({ level: "silent", format: "pretty", output: "stderr", audit_log: "" });`;
  expect(await loadedAfter(script, packages)).toEqual(packages);
});
