import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { toHex, SeededRandom } from "../../src/lib/index.ts";
import { sha256, type ChunkSource } from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { recordCommands, wireS3, type S3Wiring } from "./fixtures.ts";

const MiB = 1024 * 1024;

function randomBytes(length: number, seed: number): Uint8Array {
  const random = new SeededRandom(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = random.int(256);
  return out;
}

function* chunksOf(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield new Uint8Array(data.subarray(i, i + size));
}

let server: S3ServerHandle;
let s3: S3Wiring;

beforeAll(async () => {
  server = await startS3Server();
  s3 = wireS3(server);
});
afterAll(async () => {
  await server.stop();
});

describe("uploader", () => {
  test("small object: one PutObject, sha256 in metadata, verified by read-back", async () => {
    const data = randomBytes(100_000, 1);
    const before = { ...s3.uploader.stats };
    const result = await s3.uploader.writeOnce({
      key: "t/small",
      body: () => chunksOf(data, 10_000),
      metadata: { "raw-sha256": "abc" },
      identityField: "raw-sha256",
    });
    expect(result).toEqual({ bytes: data.length, sha256: toHex(sha256(data)), skipped: false });
    const head = await s3.uploader.head("t/small");
    expect(head?.metadata["sha256"]).toBe(toHex(sha256(data)));
    expect(s3.uploader.stats.uploads - before.uploads).toBe(1);
    expect(s3.uploader.stats.bytes - before.bytes).toBe(data.length);
    expect(Buffer.from(readFileSync(server.objectPath("t/small"))).equals(Buffer.from(data))).toBe(true);
  });

  test("large object: multipart in 5 MiB parts, streamed, byte-exact in the store", async () => {
    const data = randomBytes(12 * MiB + 12345, 2);
    const commands = recordCommands(s3.uploader.client);
    let produced = 0;
    const body = function* (): Generator<Uint8Array> {
      for (const chunk of chunksOf(data, 256 * 1024)) {
        produced += chunk.length;
        yield chunk;
      }
    };
    const result = await s3.uploader.writeOnce({ key: "t/large", body, metadata: { "raw-sha256": "big" }, identityField: "raw-sha256" });
    expect(result.bytes).toBe(data.length);
    expect(result.sha256).toBe(toHex(sha256(data)));
    expect(produced).toBe(data.length);
    const stored = readFileSync(server.objectPath("t/large"));
    expect(toHex(sha256(stored))).toBe(toHex(sha256(data)));
    const names = commands.map((c) => c.name);
    expect(names.filter((n) => n === "UploadPartCommand").length).toBe(3);
    expect(names.filter((n) => n === "PutObjectCommand").length).toBe(0);
    const partSizes = commands.filter((c) => c.name === "UploadPartCommand").map((c) => (c.input["Body"] as Uint8Array).length);
    expect(partSizes).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 12345]);
    expect(names).toContain("CompleteMultipartUploadCommand");
    expect(names.indexOf("HeadObjectCommand")).toBeLessThan(names.indexOf("CreateMultipartUploadCommand"));
    expect(names.at(-1)).toBe("GetObjectCommand"); // the read-back
  });

  test("a body of exactly two parts, and an empty body, upload intact", async () => {
    const commands = recordCommands(s3.uploader.client);
    const data = randomBytes(10 * MiB, 8);
    const result = await s3.uploader.writeOnce({ key: "t/two-parts", body: () => chunksOf(data, 3 * MiB), metadata: { "raw-sha256": "2" }, identityField: "raw-sha256" });
    expect(result.sha256).toBe(toHex(sha256(data)));
    const sizes = commands.filter((c) => c.name === "UploadPartCommand").map((c) => (c.input["Body"] as Uint8Array).length);
    expect(sizes).toEqual([5 * MiB, 5 * MiB]);
    const empty = await s3.uploader.writeOnce({ key: "t/empty", body: () => [], metadata: { "raw-sha256": "0" }, identityField: "raw-sha256" });
    expect(empty).toEqual({ bytes: 0, sha256: toHex(sha256(new Uint8Array(0))), skipped: false });
  });

  test("a body already in memory (an array of chunks) takes part buffers no larger than what is left of it", async () => {
    const commands = recordCommands(s3.uploader.client);
    const small = randomBytes(1_500_000, 9);
    const smallResult = await s3.uploader.writeOnce({ key: "t/in-memory-small", body: () => [...chunksOf(small, 64 * 1024)], metadata: { "raw-sha256": "s" }, identityField: "raw-sha256" });
    expect(smallResult.sha256).toBe(toHex(sha256(small)));
    const put = commands.find((c) => c.name === "PutObjectCommand")!.input["Body"] as Uint8Array;
    expect(put.length).toBe(small.length);
    expect(put.buffer.byteLength).toBe(small.length); // not a 5 MiB part buffer, zero-filled for nothing
    const large = randomBytes(12 * MiB + 12345, 10);
    const largeResult = await s3.uploader.writeOnce({ key: "t/in-memory-large", body: () => [...chunksOf(large, MiB)], metadata: { "raw-sha256": "l" }, identityField: "raw-sha256" });
    expect(largeResult.sha256).toBe(toHex(sha256(large)));
    const parts = commands.filter((c) => c.name === "UploadPartCommand").map((c) => c.input["Body"] as Uint8Array);
    expect(parts.map((p) => p.length)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 12345]);
    expect(parts.map((p) => p.buffer.byteLength)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 12345]);
    expect(toHex(sha256(readFileSync(server.objectPath("t/in-memory-large"))))).toBe(toHex(sha256(large)));
  });

  test("writing the same object again is skipped after verification; the stored file is untouched", async () => {
    const data = randomBytes(6 * MiB, 3);
    const request = { key: "t/again", body: () => chunksOf(data, MiB), metadata: { "raw-sha256": "same" }, identityField: "raw-sha256" };
    const first = await s3.uploader.writeOnce(request);
    const mtimeBefore = statSync(server.objectPath("t/again")).mtimeMs;
    await Bun.sleep(20);
    const uploadsBefore = s3.uploader.stats.uploads;
    let verifiedExisting = 0;
    const second = await s3.uploader.writeOnce({ ...request, verifyExisting: async () => void verifiedExisting++ });
    expect(second).toEqual({ ...first, skipped: true });
    expect(verifiedExisting).toBe(1);
    expect(s3.uploader.stats.uploads).toBe(uploadsBefore);
    expect(statSync(server.objectPath("t/again")).mtimeMs).toBe(mtimeBefore);
  });

  test("a different object for an existing key is a conflict and is never written", async () => {
    const data = randomBytes(1000, 4);
    await s3.uploader.writeOnce({ key: "t/conflict", body: () => [data], metadata: { "raw-sha256": "one" }, identityField: "raw-sha256" });
    const errors = s3.uploader.stats.errors;
    await expect(
      s3.uploader.writeOnce({ key: "t/conflict", body: () => [randomBytes(1000, 5)], metadata: { "raw-sha256": "two" }, identityField: "raw-sha256" }),
    ).rejects.toMatchObject({ code: "conflict" });
    expect(s3.uploader.stats.errors).toBe(errors + 1);
    expect(Buffer.from(readFileSync(server.objectPath("t/conflict"))).equals(Buffer.from(data))).toBe(true);
  });

  test("an existing object whose bytes were changed on disk is refused (stored sha256 disagrees)", async () => {
    const data = randomBytes(1000, 6);
    await s3.uploader.writeOnce({ key: "t/tampered", body: () => [data], metadata: { "raw-sha256": "x" }, identityField: "raw-sha256" });
    const path = server.objectPath("t/tampered");
    const bytes = readFileSync(path);
    bytes[10] ^= 1;
    writeFileSync(path, bytes);
    await expect(
      s3.uploader.writeOnce({ key: "t/tampered", body: () => [data], metadata: { "raw-sha256": "x" }, identityField: "raw-sha256" }),
    ).rejects.toMatchObject({ code: "conflict" });
  });

  test("a body that fails mid-stream is retried with the same bytes; failed multipart uploads are aborted", async () => {
    const data = randomBytes(11 * MiB, 7);
    let attempts = 0;
    const body = function* (): Generator<Uint8Array> {
      attempts += 1;
      let sent = 0;
      for (const chunk of chunksOf(data, MiB)) {
        if (attempts === 1 && sent >= 7 * MiB) throw new Error("producer died");
        sent += chunk.length;
        yield chunk;
      }
    };
    const before = { ...s3.uploader.stats };
    const commands = recordCommands(s3.uploader.client);
    const result = await s3.uploader.writeOnce({ key: "t/retry", body, metadata: { "raw-sha256": "r" }, identityField: "raw-sha256" });
    expect(attempts).toBe(2);
    expect(result.sha256).toBe(toHex(sha256(data)));
    expect(s3.uploader.stats.retries - before.retries).toBe(1);
    expect(s3.uploader.stats.aborts - before.aborts).toBe(1);
    // s3rver answers AbortMultipartUpload with 501 (not implemented); the request is still sent.
    expect(commands.filter((c) => c.name === "AbortMultipartUploadCommand").length).toBe(1);
    expect(toHex(sha256(readFileSync(server.objectPath("t/retry"))))).toBe(toHex(sha256(data)));
  });

  test("write-once small objects after one listing: unlisted keys are written with no HEAD, a listed one with other bytes is refused", async () => {
    const own = wireS3(server);
    const commands = recordCommands(own.uploader.client);
    const bytes = (n: number) => new Uint8Array([n, n + 1, n + 2]);
    for (const name of ["k/0", "k/2", "k/20", "l/1"]) await own.uploader.putOnce(name, bytes(0), "application/octet-stream");
    const listed = (await own.uploader.keysBetween("k/1", "k/3"))!;
    expect([...listed]).toEqual([["k/2", 3], ["k/20", 3]]);
    commands.length = 0;
    expect(await own.uploader.putOnce("k/1", bytes(1), "application/octet-stream", { listed })).toBe("written");
    // No HEAD, no read-back: the PUT itself (direct-put.ts, outside the client's commands) and its ETag.
    expect(commands.map((c) => c.name)).toEqual([]);
    expect(Buffer.from(readFileSync(server.objectPath("k/1"))).equals(Buffer.from(bytes(1)))).toBe(true);
    expect(await own.uploader.putOnce("k/2", bytes(0), "application/octet-stream", { listed })).toBe("existed");
    await expect(own.uploader.putOnce("k/20", bytes(9), "application/octet-stream", { listed })).rejects.toMatchObject({ code: "conflict" });
    expect(Buffer.from(readFileSync(server.objectPath("k/20"))).equals(Buffer.from(bytes(0)))).toBe(true);
  });

  test("when every attempt fails: an error value with a stable code, counted, nothing stored", async () => {
    const broken = wireS3(server, { uploader: { attemptsMax: 2 } });
    const body = (): ChunkSource => ({
      async *[Symbol.asyncIterator]() {
        yield new Uint8Array(6 * MiB);
        throw new Error("disk on fire");
      },
    });
    await expect(
      broken.uploader.writeOnce({ key: "t/never", body, metadata: { "raw-sha256": "n" }, identityField: "raw-sha256" }),
    ).rejects.toMatchObject({ code: "unavailable" });
    expect(broken.uploader.stats).toMatchObject({ errors: 1, retries: 1, aborts: 2, uploads: 0 });
    expect(await broken.uploader.head("t/never")).toBeUndefined();
  });
});

describe("s3rver harness shims", () => {
  test("listing beyond MaxKeys pages with continuation tokens and comes back sorted", async () => {
    const keys = ["list/b", "list/a/x", "list/a-c", "list/z", "list/m", "list/c/d/e", "list/0"];
    for (const key of keys) await s3.uploader.putBytes(key, new Uint8Array([1]), "application/octet-stream");
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.uploader.client.send(
        new ListObjectsV2Command({ Bucket: server.bucket, Prefix: "list/", MaxKeys: 2, ContinuationToken: token }),
      );
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
      pages += 1;
    } while (token);
    expect(seen).toEqual([...keys].sort());
    expect(pages).toBe(4);
  });

  test("a listing honours Prefix, StartAfter and Delimiter across nested keys, with each object's size", async () => {
    const sizes: Record<string, number> = { "tree/a/1": 1, "tree/a/2": 2, "tree/a.p/1": 3, "tree/b": 4, "tree/b/c/d": 5, "treeless": 6 };
    for (const [key, size] of Object.entries(sizes)) await s3.uploader.putBytes(key, new Uint8Array(size), "application/octet-stream");
    const list = (input: { Prefix: string; StartAfter?: string; Delimiter?: string }) =>
      s3.uploader.client.send(new ListObjectsV2Command({ Bucket: server.bucket, ...input }));

    const after = await list({ Prefix: "tree/a", StartAfter: "tree/a.p/1" });
    expect((after.Contents ?? []).map((o) => [o.Key, o.Size])).toEqual([
      ["tree/a/1", 1],
      ["tree/a/2", 2],
    ]);
    const all = await list({ Prefix: "tree/" });
    expect((all.Contents ?? []).map((o) => o.Key)).toEqual(["tree/a.p/1", "tree/a/1", "tree/a/2", "tree/b", "tree/b/c/d"]);
    const top = await list({ Prefix: "tree/", Delimiter: "/" });
    expect((top.Contents ?? []).map((o) => o.Key)).toEqual(["tree/b"]);
    expect((top.CommonPrefixes ?? []).map((p) => p.Prefix)).toEqual(["tree/a.p/", "tree/a/", "tree/b/"]);
  });
});
