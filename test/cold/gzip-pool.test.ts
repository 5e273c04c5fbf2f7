import { describe, expect, test } from "bun:test";
import { toHex } from "../../src/lib/index.ts";
import { collect, encodeSegment, gunzipStream, gzipStream, GzipPool, sha256 } from "../../src/storage/cold/index.ts";
import { makeRecords } from "./fixtures.ts";

const crashWorker = new URL("./gzip-crash-worker.ts", import.meta.url).href;

function* chunksOf(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
}

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
