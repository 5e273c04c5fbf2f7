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
 * The options of bench/worker-split.ts's experiment (none of them is the baseline): `--busy-http-us
 * U` and `--busy-commit-us U` add U µs of busy waiting per write in the request handler and in
 * the commit (standing in for work of a known cost); `--commit-in-worker` runs the commit in a
 * Worker (bench/baselines/commit-worker.ts, each batch one transferred buffer, at most
 * `--inflight` batches, default 2, sent before the first answer comes back).
 *
 * Prints `listening <port>` once it serves. Stops on SIGTERM/SIGINT.
 */

import { join } from "node:path";
import { flagValue } from "../lib/proc.ts";
import { packWrites, unpackReceipts } from "./commit-worker.ts";
import { batchWriter, busyWait, openBaselineRows, type RowReceipt } from "./rows.ts";

/** Writes waiting for the next commit; past it PUTs get 503, like any bounded server. */
const queuedWritesMax = 65_536;
/** Largest value accepted: the bench sends 100 bytes; this only bounds a stray client. */
const valueBytesMax = 4 * 1024 * 1024;

const port = Number(flagValue(Bun.argv, "port") ?? 0);
const dir = flagValue(Bun.argv, "dir");
if (!dir) {
  console.error("usage: bun bench/baselines/durable-server.ts --port N --dir DIR [--busy-http-us U] [--busy-commit-us U] [--commit-in-worker [--inflight N]]");
  process.exit(2);
}
const busyHttpUs = Number(flagValue(Bun.argv, "busy-http-us") ?? 0);
const busyCommitUs = Number(flagValue(Bun.argv, "busy-commit-us") ?? 0);
const inflightMax = Number(flagValue(Bun.argv, "inflight") ?? 2);
const path = join(dir, "durable-baseline.db");

interface Write {
  key: string;
  value: Uint8Array;
  resolve: (response: Response) => void;
}

let queue: Write[] = [];
let scheduled = false;

function answer(batch: readonly Write[], receipts: readonly RowReceipt[]): void {
  batch.forEach((w, i) => {
    const { index, version, valueHash } = receipts[i]!;
    w.resolve(Response.json({ key: w.key, index, version, value_hash: valueHash.toHex() }));
  });
}

function fail(batch: readonly Write[], error: unknown): void {
  for (const w of batch) w.resolve(Response.json({ error: String(error), code: "internal" }, { status: 500 }));
}

/** Takes the queue and commits it, or (in a Worker) sends it; answers each write after its commit. */
let commit: () => void;
/** Closes the database (or ends the Worker that holds it). */
let close: () => void;
if (!Bun.argv.includes("--commit-in-worker")) {
  const rows = openBaselineRows(path);
  const write = batchWriter(rows, busyCommitUs);
  close = () => rows.db.close();
  commit = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    let receipts: RowReceipt[];
    try {
      receipts = write(
        batch.map((w) => w.key),
        batch.map((w) => w.value),
      );
    } catch (error) {
      fail(batch, error);
      return;
    }
    answer(batch, receipts);
  };
} else {
  const worker = new Worker(new URL("./commit-worker.ts", import.meta.url).href);
  close = () => void worker.terminate();
  // A Worker that fails ends the server: the writes it held would otherwise never be answered.
  worker.addEventListener("error", (event) => {
    console.error(`commit worker failed: ${event.message}`);
    process.exit(1);
  });
  await new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
    worker.postMessage({ init: { path, busyUs: busyCommitUs } });
  });
  const sent = new Map<number, Write[]>();
  let nextId = 0;
  worker.onmessage = (event: MessageEvent) => {
    const { id, receipts, error } = event.data as { id: number; receipts?: Uint8Array; error?: string };
    const batch = sent.get(id)!;
    sent.delete(id);
    if (receipts) answer(batch, unpackReceipts(receipts));
    else fail(batch, error);
    if (queue.length > 0 && !scheduled) {
      scheduled = true;
      setImmediate(commit);
    }
  };
  commit = () => {
    scheduled = false;
    if (queue.length === 0 || sent.size >= inflightMax) return;
    const batch = queue;
    queue = [];
    const id = nextId++;
    sent.set(id, batch);
    const packed = packWrites(
      batch.map((w) => w.key),
      batch.map((w) => w.value),
    );
    worker.postMessage({ id, batch: packed }, [packed.buffer]);
  };
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
    busyWait(busyHttpUs);
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
  close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
