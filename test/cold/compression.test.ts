import { describe, expect, test } from "bun:test";
import { toHex } from "../../src/lib/index.ts";
import { collect, encodeSegment, gunzipStream, gzipStream, GzipPool, sha256 } from "../../src/storage/cold/index.ts";
import { makeRecords, runGunzip } from "./fixtures.ts";

/** The real gzip worker, except that it exits when a pushed chunk starts with 0xFF. */
const crashWorker = new URL("./gzip-crash-worker.ts", import.meta.url).href;

function* chunksOf(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
}

describe("gzip in a worker", () => {
  const records = makeRecords(3000, 11, { maxValueBytes: 1000 });
  const raw = Buffer.concat([...encodeSegment(0, records.length, records)]);

  test("output is readable by the system gunzip and by the native decompressor", async () => {
    const gz = await collect(gzipStream(encodeSegment(0, records.length, records), 6));
    expect(gz.length).toBeLessThan(raw.length);
    const { output, exitCode } = await runGunzip(gz);
    expect(exitCode).toBe(0);
    expect(toHex(sha256(output))).toBe(toHex(sha256(raw)));
    const native = await collect(gunzipStream(chunksOf(gz, 1000)));
    expect(toHex(sha256(native))).toBe(toHex(sha256(raw)));
  });

  test("is deterministic across runs for the same input chunking (mtime 0, no name)", async () => {
    const a = await collect(gzipStream(chunksOf(raw, 256 * 1024), 6));
    const b = await collect(gzipStream(chunksOf(raw, 256 * 1024), 6));
    expect(toHex(sha256(a))).toBe(toHex(sha256(b)));
    expect(Array.from(a.subarray(4, 8))).toEqual([0, 0, 0, 0]);
  });

  test("levels trade size for speed; level 0 still gunzips", async () => {
    const sizes: number[] = [];
    for (const level of [0, 1, 9]) {
      const gz = await collect(gzipStream(chunksOf(raw, 100_000), level));
      const { output, exitCode } = await runGunzip(gz);
      expect(exitCode).toBe(0);
      expect(output.length).toBe(raw.length);
      sizes.push(gz.length);
    }
    expect(sizes[0]!).toBeGreaterThan(raw.length);
    expect(sizes[2]!).toBeLessThan(sizes[1]!);
  });

  test("empty input gives a valid empty gzip member", async () => {
    const gz = await collect(gzipStream([], 6));
    const { output, exitCode } = await runGunzip(gz);
    expect(exitCode).toBe(0);
    expect(output.length).toBe(0);
  });

  test("a corrupt gzip stream is refused by the reader", async () => {
    const gz = await collect(gzipStream(chunksOf(raw, 65536), 6));
    const corrupt = gz.slice();
    corrupt[corrupt.length - 5] ^= 0xff; // inside the CRC32 trailer
    await expect(collect(gunzipStream([corrupt]))).rejects.toThrow();
  });

  test("rejects a bad level", async () => {
    await expect(collect(gzipStream([new Uint8Array(1)], 12))).rejects.toThrow(/level/);
  });
});

describe("GzipPool: gzip Workers kept across streams", () => {
  const records = makeRecords(2000, 5, { maxValueBytes: 500 });
  const raw = Buffer.concat([...encodeSegment(0, records.length, records)]);

  test("streams one after another in one kept worker give the same bytes as a worker each", async () => {
    const pool = new GzipPool(1);
    try {
      const expected = toHex(sha256(await collect(gzipStream(chunksOf(raw, 64 * 1024), 1))));
      for (let i = 0; i < 3; i++) {
        const gz = await collect(pool.stream(chunksOf(raw, 64 * 1024), 1));
        expect(toHex(sha256(gz))).toBe(expected);
        expect(pool.workers).toBe(1);
      }
      expect(toHex(sha256(await collect(gunzipStream([await collect(pool.stream([raw], 1))]))))).toBe(toHex(sha256(raw)));
    } finally {
      pool.close();
    }
    expect(pool.workers).toBe(0);
  });

  test("streams beyond the limit wait for a free worker, and all complete", async () => {
    const pool = new GzipPool(1);
    try {
      const outputs = await Promise.all([0, 1, 2].map(() => collect(pool.stream(chunksOf(raw, 32 * 1024), 1))));
      expect(pool.workers).toBe(1);
      for (const gz of outputs) expect(toHex(sha256(await collect(gunzipStream([gz]))))).toBe(toHex(sha256(raw)));
    } finally {
      pool.close();
    }
  });

  test("a worker that exits mid-stream fails that stream as unavailable; the next stream gets a new worker", async () => {
    const pool = new GzipPool(1, crashWorker);
    try {
      const poisoned = new Uint8Array(1000).fill(0xff);
      await expect(collect(pool.stream([raw.subarray(0, 1000), poisoned], 1))).rejects.toMatchObject({ code: "unavailable" });
      expect(pool.workers).toBe(0);
      const gz = await collect(pool.stream(chunksOf(raw, 64 * 1024), 1));
      expect(toHex(sha256(await collect(gunzipStream([gz]))))).toBe(toHex(sha256(raw)));
    } finally {
      pool.close();
    }
  });

  test("a closed pool refuses new streams", async () => {
    const pool = new GzipPool(1);
    pool.close();
    await expect(collect(pool.stream([raw], 1))).rejects.toMatchObject({ code: "unavailable" });
  });
});
