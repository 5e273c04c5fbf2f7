/**
 * @module cold test fixtures. A seeded in-memory ledger implementing ArchiveSource, S3 wiring
 * against the s3rver harness, and a naive RFC 9162 tree hash to cross-check the compact range.
 */

import { ScribeError, SeededRandom } from "../../src/lib/index.ts";
import type { Entry } from "../../src/ledger/entry.ts";
import { encodeEntry } from "../../src/ledger/entry.ts";
import {
  createLayout,
  createS3Client,
  leafHash,
  nodeHash,
  sha256,
  Uploader,
  type ArchiveSource,
  type Layout,
  type SegmentDescriptor,
  type UploaderOptions,
  type PutOnceOptions,
} from "../../src/storage/cold/index.ts";
import type { S3ServerHandle } from "../support/s3-server.ts";

export interface LedgerRecord {
  entry: Entry;
  value: Uint8Array;
}

/** Builds `count` entries from `seed`: puts of 0..maxValueBytes random bytes, ~10% deletes. */
export function makeRecords(count: number, seed = 1, options: { firstIndex?: number; maxValueBytes?: number; startMs?: number } = {}): LedgerRecord[] {
  const random = new SeededRandom(seed);
  const firstIndex = options.firstIndex ?? 0;
  const maxValueBytes = options.maxValueBytes ?? 300;
  const startMs = options.startMs ?? 1_700_000_000_000;
  const lastIndexOfKey = new Map<string, number>();
  const records: LedgerRecord[] = [];
  for (let i = 0; i < count; i++) {
    const index = firstIndex + i;
    const key = `key/${random.int(200)}:${random.chance(0.5) ? "a" : "b"}`;
    const isDelete = lastIndexOfKey.has(key) && random.chance(0.1);
    const value = new Uint8Array(isDelete ? 0 : random.int(maxValueBytes + 1));
    // Compressible-ish values: runs of a few symbols.
    for (let j = 0; j < value.length; j++) value[j] = random.chance(0.7) ? 97 + (j % 4) : random.int(256);
    const entry: Entry = {
      index,
      op: isDelete ? "delete" : "put",
      key,
      valueHash: sha256(value),
      valueBytes: value.length,
      contentType: isDelete ? "" : "application/octet-stream",
      timestampMs: startMs + index * 10,
      prevIndex: lastIndexOfKey.get(key) ?? -1,
    };
    lastIndexOfKey.set(key, index);
    records.push({ entry, value });
  }
  return records;
}

/** An append-only in-memory ledger acting as the hot tier. */
export class MemorySource implements ArchiveSource {
  archivedUpTo: number;
  readonly archived: SegmentDescriptor[] = [];
  readCalls = 0;

  constructor(
    public records: LedgerRecord[],
    private readonly firstIndex = 0,
  ) {
    this.archivedUpTo = firstIndex;
  }

  nextUnarchivedIndex(): number {
    return this.archivedUpTo;
  }

  committedIndexEnd(): number {
    return this.firstIndex + this.records.length;
  }

  *readRange(from: number, toExclusive: number): Iterable<LedgerRecord> {
    this.readCalls += 1;
    if (from < this.firstIndex || toExclusive > this.committedIndexEnd()) throw new RangeError(`range ${from}..${toExclusive} outside the ledger`);
    for (let i = from; i < toExclusive; i++) yield this.records[i - this.firstIndex]!;
  }

  entryTimestampMs(index: number): number {
    return this.records[index - this.firstIndex]!.entry.timestampMs;
  }

  /** The persisted progress callback. */
  onSegmentArchived = (descriptor: SegmentDescriptor): void => {
    if (descriptor.first_index !== this.archivedUpTo) {
      throw new Error(`callback out of order: got ${descriptor.first_index}, expected ${this.archivedUpTo}`);
    }
    this.archived.push(descriptor);
    this.archivedUpTo = descriptor.last_index + 1;
  };
}

export interface S3Wiring {
  uploader: Uploader;
  layout: Layout;
}

export function wireS3(
  server: Pick<S3ServerHandle, "endpoint" | "bucket" | "accessKeyId" | "secretAccessKey">,
  options: { prefix?: string; maxRetries?: number; timeoutSecs?: number; uploader?: Partial<UploaderOptions> } = {},
): S3Wiring {
  const client = createS3Client({
    bucket: server.bucket,
    region: "us-east-1",
    endpoint: server.endpoint,
    access_key_id: server.accessKeyId,
    secret_access_key: server.secretAccessKey,
    path_style: true,
    timeout_secs: options.timeoutSecs ?? 10,
    max_retries: options.maxRetries ?? 2,
  });
  const uploader = new Uploader(client, {
    bucket: server.bucket,
    partBytes: 5 * 1024 * 1024,
    attemptsMax: 3,
    backoffMsBase: 5,
    backoffMsMax: 20,
    requestTimeoutMs: (options.timeoutSecs ?? 10) * 1000,
    ...options.uploader,
  });
  return { uploader, layout: createLayout(options.prefix ?? "ledger") };
}

/** Naive recursive RFC 9162 Merkle tree hash: the reference the compact range is checked against. */
export function naiveTreeHash(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0]!;
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return nodeHash(naiveTreeHash(leaves.slice(0, split)), naiveTreeHash(leaves.slice(split)));
}

export function leavesOf(records: readonly LedgerRecord[]): Uint8Array[] {
  return records.map((r) => leafHash(encodeEntry(r.entry)));
}

export async function runGunzip(bytes: Uint8Array): Promise<{ output: Uint8Array; exitCode: number }> {
  const process = Bun.spawn(["gunzip", "-c"], { stdin: bytes, stdout: "pipe", stderr: "pipe" });
  const output = new Uint8Array(await new Response(process.stdout).arrayBuffer());
  return { output, exitCode: await process.exited };
}

/** Records the name and input of every command the client sends (for asserting on S3 traffic). */
export function recordCommands(client: Uploader["client"]): { name: string; input: Record<string, unknown> }[] {
  const log: { name: string; input: Record<string, unknown> }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      log.push({ name: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: "initialize", name: `recordCommands${Math.random()}` },
  );
  return log;
}

/** An uploader that fails chosen operations on chosen keys a given number of times. */
export class FaultyUploader extends Uploader {
  faults: { op: "writeOnce" | "putBytes" | "putOnce"; key: RegExp; remaining: number }[] = [];

  private trip(op: "writeOnce" | "putBytes" | "putOnce", key: string): void {
    const fault = this.faults.find((f) => f.op === op && f.key.test(key) && f.remaining > 0);
    if (!fault) return;
    fault.remaining -= 1;
    this.stats.errors += 1;
    throw new ScribeError("unavailable", `injected fault: ${op} ${key}`);
  }

  override async writeOnce(request: Parameters<Uploader["writeOnce"]>[0]) {
    this.trip("writeOnce", request.key);
    return super.writeOnce(request);
  }

  override async putBytes(key: string, bytes: Uint8Array, contentType: string) {
    this.trip("putBytes", key);
    return super.putBytes(key, bytes, contentType);
  }

  override async putOnce(key: string, bytes: Uint8Array, contentType: string, options?: PutOnceOptions) {
    this.trip("putOnce", key);
    return super.putOnce(key, bytes, contentType, options);
  }
}
