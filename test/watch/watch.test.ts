/**
 * GET /watch against a real node process over TCP, read by the verifying client
 * (src/client/watch.ts) or a raw socket: entries in order with no gap under concurrent writers,
 * every checkpoint verified and chained to the one before; the prefix filter proved entry by
 * entry; bad requests refused; the bound on concurrent streams; a consumer that stops reading
 * while the ledger runs ahead gets a resumable slow_consumer line while the node's buffered bytes
 * stay bounded; and a node's shutdown ends a stream with a final checkpoint and a clean end line.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { readLines, WatchVerifier, loadHasher, type WatchEvent } from "../../src/client/index.ts";
import { watchPageBytesMax, watchQueueBytesMax } from "../../src/http/index.ts";
import { bytesEqual, toHex, utf8 } from "../../src/lib/index.ts";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { collectWatch, ndjsonLines, nodeVerifiers, writeConcurrently, type WrittenOp } from "./support.ts";

const backlogEntriesMax = 1500;
const streamsMax = 3;
const dir = tempDir("scribe-watch-");
let node: NodeProcess;
beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path, env: { SCRIBE_API_WATCH_STREAMS_MAX: String(streamsMax), SCRIBE_API_WATCH_BACKLOG_ENTRIES_MAX: String(backlogEntriesMax), SCRIBE_LOGGING_LEVEL: "warn" } });
});
afterAll(async () => {
  await node.kill("SIGKILL");
  dir.remove();
});

const size = async () => ((await (await fetch(`${node.url}/health`)).json()) as { ledger_size: number }).ledger_size;
const watchMetrics = async () => ((await (await fetch(`${node.url}/metrics`)).json()) as { watch: Record<string, number> & { ended: Record<string, number> } }).watch;

let written: WrittenOp[] = [];

test("concurrent writers: every entry once, in order, no gap; every checkpoint verified and chained to the one before", async () => {
  const writers = { writers: 4, batches: 25, opsPerBatch: 40 };
  const total = writers.writers * writers.batches * writers.opsPerBatch;
  const watching = collectWatch({ url: node.url, from: 0, values: true, until: total });
  written = await writeConcurrently(node.url, writers);
  const { entries, checkpoints, ends } = await watching;

  expect(entries.map((e) => e.entry.index)).toEqual(Array.from({ length: total }, (_, i) => i));
  for (const op of written) {
    const seen = entries[op.index]!;
    expect(seen.entry.key).toBe(op.key);
    expect(toHex(seen.leafHash)).toBe(op.leaf_hash);
    expect(bytesEqual(seen.value!, utf8(op.value))).toBe(true);
  }
  // Checkpoints came while the writes flowed, each proved consistent with the one before.
  expect(checkpoints.length).toBeGreaterThanOrEqual(2);
  expect(checkpoints[0]!.consistentWith).toBeNull();
  for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]!.consistentWith).toBe(checkpoints[i - 1]!.checkpoint.size);
  expect(checkpoints.at(-1)!.nextIndex).toBe(total);
  expect(ends.map((e) => [e.reason, e.resumeFrom])).toEqual([["until", total]]);
}, 120_000);

test("a prefix stream sends only the keys under it, each proved by an inclusion proof", async () => {
  const total = written.length;
  const { entries, checkpoints } = await collectWatch({ url: node.url, from: 0, prefix: "w2/", until: total });
  const expected = written.filter((op) => op.key.startsWith("w2/"));
  expect(expected.length).toBe(1000);
  expect(entries.map((e) => [e.entry.index, e.entry.key, toHex(e.leafHash)])).toEqual(expected.map((op) => [op.index, op.key, op.leaf_hash]));
  expect(checkpoints.at(-1)!.nextIndex).toBe(total);
  // A resumed prefix stream, chained to the last checkpoint the first one verified.
  const last = checkpoints[0]!;
  const resumed = await collectWatch({ url: node.url, from: last.nextIndex, prefix: "w2/", until: total, anchor: { size: last.checkpoint.size, rootHash: last.checkpoint.rootHash } });
  expect(resumed.checkpoints[0]!.consistentWith).toBe(last.checkpoint.size);
  expect(resumed.entries.map((e) => e.entry.index)).toEqual(expected.filter((op) => op.index >= last.nextIndex).map((op) => op.index));
}, 60_000);

test("bad requests are refused with {error, code} before any stream", async () => {
  const current = await size();
  const cases: [string, number, string][] = [
    ["/watch", 400, "invalid_range"],
    [`/watch?from=${current + 1}`, 400, "invalid_range"],
    ["/watch?from=-1", 400, "invalid_range"],
    [`/watch?from=0&checkpoint_size=${current + 1}`, 400, "invalid_range"],
    ["/watch?from=5&until=4", 400, "invalid_range"],
    ["/watch?from=0&values=yes", 400, "invalid_request"],
    ["/watch?from=0&prefix=%FF", 400, "invalid_request"],
  ];
  for (const [target, status, code] of cases) {
    const response = await fetch(`${node.url}${target}`);
    expect(response.status, target).toBe(status);
    expect(((await response.json()) as { code: string }).code, target).toBe(code);
  }
  // HEAD answers the headers without opening a stream.
  const head = await fetch(`${node.url}/watch?from=0`, { method: "HEAD" });
  expect([head.status, head.headers.get("content-type")]).toEqual([200, "application/x-ndjson"]);
});

test("a stream idle at the head repeats its checkpoint (a heartbeat) and still delivers the next entry", async () => {
  const from = await size();
  const response = await fetch(`${node.url}/watch?from=${from}`);
  const lines = readLines(response.body!, 1 << 20);
  const next = async () => JSON.parse((await lines.next()).value!.text) as Record<string, unknown>;
  const anchor = await next();
  expect(anchor).toMatchObject({ next_index: from, from_size: 0 });
  const beat = await next(); // nothing was written: the same checkpoint again, proved from itself
  const signedSize = Number((anchor.checkpoint as string).split("\n")[1]);
  expect(beat).toMatchObject({ checkpoint: anchor.checkpoint, from_size: signedSize, proof: [], next_index: from, position_proof: [] });
  expect((await fetch(`${node.url}/kv/after-a-beat`, { method: "PUT", body: "x" })).status).toBe(200);
  expect(await next()).toMatchObject({ index: from, key: "after-a-beat" });
  await lines.return(undefined);
}, 30_000);

test(`at most ${streamsMax} streams at once: one more gets 503 too_many_streams; a closed one frees its place`, async () => {
  const open = await Promise.all(Array.from({ length: streamsMax }, () => fetch(`${node.url}/watch?from=${written.length}`)));
  for (const response of open) expect(response.status).toBe(200);
  const refused = await fetch(`${node.url}/watch?from=0`);
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("1");
  expect(((await refused.json()) as { code: string }).code).toBe("too_many_streams");
  await open[0]!.body!.cancel();
  let again: Response | undefined;
  for (let attempt = 0; attempt < 100 && again?.status !== 200; attempt++) {
    await Bun.sleep(20);
    again = await fetch(`${node.url}/watch?from=0&until=1`);
  }
  expect(again!.status).toBe(200);
  expect((await again!.text()).trim().split("\n").at(-1)).toBe(`{"end":"until","resume_from":1}`);
  for (const response of open.slice(1)) await response.body!.cancel();
  const metrics = await watchMetrics();
  expect(metrics.refused).toBeGreaterThanOrEqual(1);
  expect(metrics.streams_max).toBe(streamsMax);
}, 30_000);

/** A raw socket whose reading the test controls: paused until asked to take a little, or everything. */
function slowReader(port: number, target: string) {
  const chunks: Buffer[] = [];
  let closed = false;
  const socket: Socket = connect(port, "127.0.0.1");
  socket.on("data", (data: Buffer) => {
    chunks.push(data);
    socket.pause();
  });
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  socket.on("connect", () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
  socket.pause();
  return {
    /** Takes one chunk off the socket. */
    sip: () => socket.resume(),
    /** Reads everything until the node closes the connection. */
    async drain(): Promise<Buffer> {
      socket.removeAllListeners("data");
      socket.on("data", (data: Buffer) => chunks.push(data));
      socket.resume();
      const deadline = Date.now() + 30_000;
      while (!closed && Date.now() < deadline) await Bun.sleep(20);
      socket.destroy();
      return Buffer.concat(chunks);
    },
  };
}

test("a consumer that reads too slowly gets a resumable slow_consumer line; the node's buffered bytes stay bounded", async () => {
  const from = await size();
  const reader = slowReader(node.port, `/watch?from=${from}&values=true`);
  // It takes a little now and then while the ledger grows, until the node ends the stream (the
  // kernel's socket buffers take a few MB first: how many entries that is depends on the machine).
  let writes = 0;
  const writesMax = 200_000;
  while ((await watchMetrics()).ended.slow_consumer === 0) {
    expect(writes).toBeLessThan(writesMax);
    const ops = Array.from({ length: 500 }, (_, i) => ({ op: "put", key: `slow/${i % 13}`, value: `${writes}-${i}-${"v".repeat(1000)}` }));
    const response = await fetch(`${node.url}/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ops }) });
    expect(response.status).toBe(200);
    writes += ops.length;
    reader.sip();
    await Bun.sleep(20);
  }
  const { status, lines } = ndjsonLines(await reader.drain());
  expect(status).toBe(200);
  const last = JSON.parse(lines.at(-1)!) as { error: string; code: string; resume_from: number };
  expect(last.code).toBe("slow_consumer");
  expect(last.resume_from).toBeGreaterThanOrEqual(from);
  expect(last.resume_from).toBeLessThan(from + writes);

  // What came before the final line verifies, and ends exactly where the node says to resume.
  const verifier = new WatchVerifier({ from, values: true, verifiers: await nodeVerifiers(node.url), hasher: await loadHasher() });
  const events: WatchEvent[] = [];
  for (const line of lines) {
    const event = await verifier.accept(JSON.parse(line), line.length);
    if (event) events.push(event);
  }
  expect(events.at(-1)).toMatchObject({ kind: "end", reason: "slow_consumer", resumeFrom: last.resume_from, unverified: 0 });
  expect(verifier.nextIndex).toBe(last.resume_from);

  // The node never held more than its queue bound plus one page for the stream.
  const metrics = await watchMetrics();
  expect(metrics.ended.slow_consumer).toBeGreaterThanOrEqual(1);
  expect(metrics.buffered_bytes_max).toBeGreaterThan(0);
  expect(metrics.buffered_bytes_max).toBeLessThanOrEqual(watchQueueBytesMax + watchPageBytesMax + 64 * 1024);
  const exposition = await (await fetch(`${node.url}/metrics/prometheus`)).text();
  expect(Number(/^scribe_ledger_watch_ended_total\{reason="slow_consumer"\} (\d+)$/m.exec(exposition)?.[1])).toBeGreaterThanOrEqual(1);

  // Resuming from resume_from gets the rest, chained to what was verified.
  const anchor = verifier.lastCheckpoint!;
  const rest = await collectWatch({ url: node.url, from: last.resume_from, until: from + writes, frontier: verifier.frontier(), anchor });
  expect(rest.entries.map((e) => e.entry.index)).toEqual(Array.from({ length: from + writes - last.resume_from }, (_, i) => last.resume_from + i));
  expect(rest.checkpoints[0]!.consistentWith).toBe(anchor.size);
}, 120_000);

test("a node's shutdown ends a stream with a checkpoint covering what was sent, then {end: shutting_down, resume_from}", async () => {
  const from = await size();
  const response = await fetch(`${node.url}/watch?from=${Math.max(0, from - 3)}`);
  const reader = response.body!.getReader();
  const first = await reader.read(); // the three entries and the checkpoint at the head
  expect(first.done).toBe(false);
  const put = await fetch(`${node.url}/kv/last-before-shutdown`, { method: "PUT", body: "x" });
  expect(put.status).toBe(200);
  await Bun.sleep(100);
  expect(await node.kill("SIGTERM")).toBe(0);
  let text = new TextDecoder().decode(first.value);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const lines = text.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines.at(-1)).toEqual({ end: "shutting_down", resume_from: from + 1 });
  const checkpoint = lines.at(-2)!;
  expect(checkpoint.next_index).toBe(from + 1);
  expect(lines.filter((line) => line.key === "last-before-shutdown").length).toBe(1);
}, 30_000);
