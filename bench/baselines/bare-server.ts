/**
 * @module bench/baselines/bare-server. The ceiling for reads: bare Bun.serve answering every GET
 * with the same 100-byte value (and a content type), with no routing framework, no lookup and
 * no consistency check. Scribe's cached GET is compared with this.
 *
 *   bun bench/baselines/bare-server.ts --port N [--value-bytes 100]
 *
 * Prints `listening <port>` once it serves. Stops on SIGTERM/SIGINT.
 */

import { flagValue } from "../lib/proc.ts";

const port = Number(flagValue(Bun.argv, "port") ?? 0);
const value = new Uint8Array(Number(flagValue(Bun.argv, "value-bytes") ?? 100)).fill(118);

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(request) {
    if (request.method !== "GET") return new Response("GET only", { status: 405 });
    return new Response(value, { headers: { "content-type": "application/octet-stream" } });
  },
});
console.log(`listening ${server.port}`);

const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
