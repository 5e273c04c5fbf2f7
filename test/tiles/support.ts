/**
 * @module tiles test support. Fills an in-process node fast (one Raft proposal per 1,000 ops, no
 * HTTP), routes the client's fetch into an app without a port, and copies a bucket prefix out of
 * s3rver's directory into a plain directory (what `aws s3 sync` would make).
 */

import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ClusterNode } from "../../src/cluster/cluster-node.ts";
import type { Operation } from "../../src/ledger/index.ts";
import { listStored } from "../cold-node/support.ts";
import type { S3ServerHandle } from "../support/s3-server.ts";

/** Ops per proposal: the server's own batch limit. */
const opsPerProposal = 1000;

/** Keys cycle through this many names, so chains are long and every key has many versions. */
const keyCount = 500;

/**
 * Appends `count` entries: puts of small text values with two content types, and every 97th
 * entry (from 500 on) a delete of a key that is live then (its previous op, 500 entries earlier,
 * was a put, since 500 mod 97 = 15).
 */
export async function fillLedger(node: ClusterNode, count: number, from = 0): Promise<void> {
  const encoder = new TextEncoder();
  for (let start = from; start < from + count; start += opsPerProposal) {
    const ops: Operation[] = [];
    for (let i = start; i < Math.min(from + count, start + opsPerProposal); i++) {
      const key = `k/${i % keyCount}`;
      if (i % 97 === 5 && i >= keyCount) {
        ops.push({ op: "delete", key });
        continue;
      }
      const value = encoder.encode(`value ${i} ${"x".repeat(i % 40)}`);
      ops.push({ op: "put", key, value, valueHash: Bun.SHA256.hash(value) as Uint8Array, contentType: i % 3 === 0 ? "application/json" : "text/plain" });
    }
    await node.propose(ops);
  }
}

/** The value `fillLedger` put at index `i` (undefined for a delete). */
export function filledValue(i: number): Uint8Array | undefined {
  if (i % 97 === 5 && i >= keyCount) return undefined;
  return new TextEncoder().encode(`value ${i} ${"x".repeat(i % 40)}`);
}

/** A fetch that hands the request to an Elysia app (no port). */
export function appFetch(app: { handle(request: Request): Promise<Response> | Response }) {
  return async (url: string, init?: { headers?: Record<string, string> }): Promise<Response> => app.handle(new Request(url, init));
}

/** Copies every object under `prefix/` into `dir` by its path below the prefix. */
export function copyBucketPrefix(s3: S3ServerHandle, prefix: string, dir: string): number {
  const keys = listStored(s3, prefix);
  for (const key of keys) {
    const target = join(dir, key.slice(prefix.length + 1));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(s3.objectPath(key), target);
  }
  return keys.length;
}
