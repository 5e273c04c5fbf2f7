/**
 * Helpers for the GET /watch tests: concurrent writers that keep their receipts, a verified
 * watch collected into entries, checkpoints and ends (src/client/watch.ts), and the NDJSON lines
 * of a raw chunked HTTP answer.
 */

import { parseVerifierKey, ScribeHttpClient, watchLedger, type VerifiedCheckpoint, type WatchedEntry, type WatchEnd, type WatchOptions } from "../../src/client/index.ts";

export interface WrittenOp {
  key: string;
  index: number;
  leaf_hash: string;
  value: string;
}

/**
 * `writers` concurrent loops, each writing `batches` POST /batch requests of `opsPerBatch` puts
 * under the key prefix `w<writer>/`, values of about `valueBytes` bytes. Returns every receipt.
 */
export async function writeConcurrently(url: string, options: { writers: number; batches: number; opsPerBatch: number; valueBytes?: number }): Promise<WrittenOp[]> {
  const written: WrittenOp[] = [];
  const pad = "x".repeat(options.valueBytes ?? 20);
  await Promise.all(
    Array.from({ length: options.writers }, async (_, writer) => {
      for (let batch = 0; batch < options.batches; batch++) {
        const ops = Array.from({ length: options.opsPerBatch }, (_, i) => ({ op: "put", key: `w${writer}/k${(batch * options.opsPerBatch + i) % 7}`, value: `${writer}-${batch}-${i}-${pad}` }));
        const response = await fetch(`${url}/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ops }) });
        if (response.status !== 200) throw new Error(`batch failed: ${response.status} ${await response.text()}`);
        const { receipts } = (await response.json()) as { receipts: { key: string; index: number; leaf_hash: string }[] };
        receipts.forEach((r, i) => written.push({ key: r.key, index: r.index, leaf_hash: r.leaf_hash, value: ops[i]!.value }));
      }
    }),
  );
  return written.sort((a, b) => a.index - b.index);
}

export interface Collected {
  entries: WatchedEntry[];
  checkpoints: VerifiedCheckpoint[];
  ends: WatchEnd[];
}

/** The node's own verifier key (each node signs its checkpoints with its own key). */
export async function nodeVerifiers(url: string) {
  return [await parseVerifierKey((await (await fetch(`${url}/checkpoint/key`)).text()).trim())];
}

/**
 * A cluster's member keys (`/checkpoint/keys`): a cluster's checkpoint is signed by a majority of
 * its members, not always by the node that serves it.
 */
export async function clusterVerifiers(url: string) {
  const lines = (await (await fetch(`${url}/checkpoint/keys`)).text()).split("\n").filter((line) => line.trim() !== "");
  return Promise.all(lines.map((line) => parseVerifierKey(line.trim())));
}

/** Runs a verified watch to its end and keeps everything it handed out (trusting the node's own key unless `verifiers` is given). */
export async function collectWatch(options: Omit<WatchOptions, "http" | "verifiers"> & { url: string; stopAt?: (c: Collected) => boolean; verifiers?: WatchOptions["verifiers"] }): Promise<Collected> {
  const http = new ScribeHttpClient({ endpoints: [options.url] });
  const collected: Collected = { entries: [], checkpoints: [], ends: [] };
  const stop = new AbortController();
  const verifiers = options.verifiers ?? (await nodeVerifiers(options.url));
  for await (const event of watchLedger({ ...options, http, verifiers, signal: options.signal ?? stop.signal })) {
    if (event.kind === "end") collected.ends.push(event);
    else {
      collected.entries.push(...event.entries);
      collected.checkpoints.push(event.checkpoint);
    }
    if (options.stopAt?.(collected)) break;
  }
  return collected;
}

/** The NDJSON lines of a chunked HTTP/1.1 answer read off a raw socket (head, then chunks). */
export function ndjsonLines(raw: Buffer): { status: number; lines: string[] } {
  const end = raw.indexOf("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw.subarray(0, end).toString("latin1"))?.[1]);
  const body: Buffer[] = [];
  let at = end + 4;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    if (lineEnd === -1) break;
    const size = parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16);
    if (!(size > 0)) break;
    body.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return { status, lines: Buffer.concat(body).toString("utf8").split("\n").filter((line) => line !== "") };
}
