/**
 * The minimal durable server of the ratio table (bench/baselines/durable-server.ts) and its
 * variant with the commit in a Worker (bench/worker-split.ts): both answer each PUT with the
 * receipt of the rows it committed, and the rows are in the database after the server stops.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packReceipts, packWrites, unpackReceipts, unpackWrites } from "../../bench/baselines/commit-worker.ts";
import { startBaseline } from "../../bench/lib/servers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const sha256Hex = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

describe("the minimal durable server", () => {
  for (const mode of [[], ["--commit-in-worker"]]) {
    test(`answers each PUT with its committed rows${mode.length ? " (commit in a Worker)" : ""}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "durable-baseline-"));
      dirs.push(dir);
      const server = await startBaseline("durable-server.ts", ["--dir", dir, ...mode]);
      try {
        const put = async (key: string, value: string) => (await fetch(`${server.url}/kv/${key}`, { method: "PUT", body: value })).json();
        // Two at once (one batch), then a second version of the first key.
        const [a, b] = await Promise.all([put("a", "first"), put("b%C3%A9", "second")]);
        const again = await put("a", "third");
        // The two of one batch take indexes 0 and 1 in either order.
        expect([a.index, b.index].sort()).toEqual([0, 1]);
        expect({ ...a, index: 0 }).toEqual({ key: "a", index: 0, version: 1, value_hash: sha256Hex("first") });
        expect({ ...b, index: 0 }).toEqual({ key: "bé", index: 0, version: 1, value_hash: sha256Hex("second") });
        expect(again).toEqual({ key: "a", index: 2, version: 2, value_hash: sha256Hex("third") });
        expect((await fetch(`${server.url}/kv/x`)).status).toBe(404);
      } finally {
        expect(await server.stop()).toBe(0);
      }
      const db = new Database(join(dir, "durable-baseline.db"), { readonly: true });
      try {
        expect(db.query("SELECT idx, key, value_bytes FROM entries ORDER BY idx").all().map((r) => (r as { key: string }).key).sort()).toEqual(["a", "a", "bé"]);
        expect(db.query("SELECT key, idx, version FROM heads ORDER BY key").all()).toEqual([
          { key: "a", idx: 2, version: 2 },
          { key: "bé", idx: expect.any(Number), version: 1 },
        ]);
        expect(new TextDecoder().decode((db.query("SELECT value FROM vals WHERE idx = 2").get() as { value: Uint8Array }).value)).toBe("third");
      } finally {
        db.close();
      }
    });
  }

  test("a packed batch and its receipts come back as they were", () => {
    const keys = ["a", "bé", "k".repeat(300)];
    const values = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)];
    const unpacked = unpackWrites(packWrites(keys, values));
    expect(unpacked.keys).toEqual(keys);
    expect(unpacked.values).toEqual(values);
    expect(() => unpackWrites(packWrites(keys, values).subarray(0, 20))).toThrow(/truncated/);
    const receipts = [
      { index: 0, version: 1, valueHash: new Uint8Array(32).fill(1) },
      { index: 2 ** 40, version: 7, valueHash: new Uint8Array(32).fill(255) },
    ];
    expect(unpackReceipts(packReceipts(receipts))).toEqual(receipts);
  });
});
