/**
 * @module bench/baselines/durable-server. Baseline (a) of issue 12: the smallest durable
 * group-commit HTTP server we can write on this machine, to measure what the hardware allows.
 *
 * Bun.serve; each `PUT /kv/<key>` reads its body and is pushed onto a queue. Once per event-loop
 * turn (setImmediate) ONE bun:sqlite transaction (WAL, synchronous=FULL: the commit fsyncs)
 * inserts, per queued write, an entry row (index, key, SHA-256 of the value, size, timestamp), a
 * value row and a head row (key -> latest index and version, the version counted by the upsert);
 * after the commit each request is answered with a small JSON receipt. Nothing else: no Raft, no
 * Merkle tree, no routing framework, no metrics. Scribe's durable PUT is compared with this.
 *
 *   bun bench/baselines/durable-server.ts --port N --dir DIR
 *
 * Prints `listening <port>` once it serves. Stops on SIGTERM/SIGINT.
 */

import { join } from "node:path";
import { flagValue } from "../lib/proc.ts";
import { openBaselineRows } from "./rows.ts";

/** Writes waiting for the next commit; past it PUTs get 503, like any bounded server. */
const queuedWritesMax = 65_536;
/** Largest value accepted: the bench sends 100 bytes; this only bounds a stray client. */
const valueBytesMax = 4 * 1024 * 1024;

const port = Number(flagValue(Bun.argv, "port") ?? 0);
const dir = flagValue(Bun.argv, "dir");
if (!dir) {
  console.error("usage: bun bench/baselines/durable-server.ts --port N --dir DIR");
  process.exit(2);
}

const { db, insertEntry, insertValue, upsertHeadSql, nextIndex: firstFree } = openBaselineRows(join(dir, "durable-baseline.db"));
const upsertHead = db.prepare<{ version: number }, [string, number]>(upsertHeadSql + " RETURNING version");
let nextIndex = firstFree;

interface Write {
  key: string;
  value: Uint8Array;
  resolve: (response: Response) => void;
}

let queue: Write[] = [];
let scheduled = false;

interface Receipt {
  key: string;
  index: number;
  version: number;
  value_hash: string;
}

function commit(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  const receipts: Receipt[] = [];
  const now = Date.now();
  const write = db.transaction(() => {
    for (const w of batch) {
      const hash = Bun.SHA256.hash(w.value) as Uint8Array;
      const index = nextIndex++;
      insertEntry.run(index, w.key, hash, w.value.length, now);
      insertValue.run(index, w.value);
      const { version } = upsertHead.get(w.key, index)!;
      receipts.push({ key: w.key, index, version, value_hash: hash.toHex() });
    }
  });
  try {
    write();
  } catch (error) {
    nextIndex -= batch.length;
    for (const w of batch) w.resolve(Response.json({ error: String(error), code: "internal" }, { status: 500 }));
    return;
  }
  batch.forEach((w, i) => w.resolve(Response.json(receipts[i])));
}

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  maxRequestBodySize: valueBytesMax,
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method !== "PUT" || !url.pathname.startsWith("/kv/")) return Response.json({ error: "PUT /kv/<key> only", code: "no_route" }, { status: 404 });
    if (queue.length >= queuedWritesMax) return Response.json({ error: "queue full", code: "unavailable" }, { status: 503 });
    const key = decodeURIComponent(url.pathname.slice(4));
    const value = new Uint8Array(await request.arrayBuffer());
    return new Promise<Response>((resolve) => {
      queue.push({ key, value, resolve });
      if (!scheduled) {
        scheduled = true;
        setImmediate(commit);
      }
    });
  },
});
console.log(`listening ${server.port}`);

const stop = () => {
  server.stop(true);
  db.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
