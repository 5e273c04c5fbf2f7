/**
 * @module s3-server script. Runs a local S3-compatible server (s3rver, with the Bun shims of
 * test/support/s3-server.ts) until SIGTERM or SIGINT.
 *
 *   bun scripts/s3-server.ts --port 9000 --dir ./s3data --bucket scribe
 *
 * Prints one line: `S3 endpoint=http://127.0.0.1:9000 bucket=scribe access_key_id=S3RVER ...`.
 */

import { parseArgs } from "node:util";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { startS3Server } from "../test/support/s3-server.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    port: { type: "string", default: "9000" },
    dir: { type: "string", default: "./s3data" },
    bucket: { type: "string", default: "scribe" },
    verbose: { type: "boolean", default: false },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be an integer in 0..65535, got ${values.port}`);
  process.exit(2);
}
const dir = resolve(values.dir!);
mkdirSync(dir, { recursive: true });
const server = await startS3Server({ port, dir, bucket: values.bucket!, silent: !values.verbose });
console.log(
  `S3 endpoint=${server.endpoint} bucket=${server.bucket} access_key_id=${server.accessKeyId} ` +
    `secret_access_key=${server.secretAccessKey} dir=${server.dir}`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`S3 server stopping on ${signal}`);
  await server.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
