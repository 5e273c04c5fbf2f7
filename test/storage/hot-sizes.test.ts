/**
 * HotStore.variableBytes, which the archiver chooses a segment's range by (through
 * HotArchiveSource.variableBytes): for every entry, the record size it gives is the one the segment
 * encoder writes, for multi-byte keys and content types, deletes and empty values, on a real
 * SQLite file.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HotArchiveSource } from "../../src/cluster/hot-archive-source.ts";
import type { AppliedOp } from "../../src/ledger/index.ts";
import { SeededRandom } from "../../src/lib/index.ts";
import { encodeSegment, segmentHeaderBytes, segmentRecordBytes, segmentRecordBytesOf, segmentTrailerBytes } from "../../src/storage/cold/segment.ts";
import { HotStore } from "../../src/storage/index.ts";
import { tempDir } from "../support/node-process.ts";

const dir = tempDir("scribe-hot-sizes-");
afterAll(() => dir.remove());

test("each entry's variable bytes give the size of its segment record", () => {
  const store = HotStore.open(join(dir.path, "sizes.db"), { sync: "normal" });
  const random = new SeededRandom(11);
  const keys = ["a", "ключ/é", "日本語のキー", "emoji-😀", `long-${"x".repeat(900)}`];
  const types = ["", "text/plain", "application/vnd.ü+json", "image/😀"];
  const written: AppliedOp[] = [];
  store.transaction(() => {
    for (let i = 0; i < 1300; i++) {
      const op = i > 0 && random.int(5) === 0 ? "delete" : "put";
      const value = op === "put" ? new Uint8Array(random.int(300)).fill(i & 0xff) : new Uint8Array(0);
      const applied: AppliedOp = {
        entry: { index: i, op, key: `${keys[random.int(keys.length)]}-${i}`, valueHash: Bun.SHA256.hash(value) as Uint8Array, valueBytes: value.length, contentType: op === "put" ? types[random.int(types.length)]! : "", timestampMs: i, prevIndex: -1, version: 1 },
        wasLive: false,
        value,
      };
      store.append([applied]);
      written.push(applied);
    }
  });
  // Across page boundaries of the source (512 entries a query) and from an offset.
  const sizes = [...new HotArchiveSource(store).variableBytes(3, 1300)].map(segmentRecordBytesOf);
  expect(sizes).toEqual(written.slice(3).map((a) => segmentRecordBytes(a.entry)));
  // And the encoder writes exactly that many bytes for those records.
  const records = written.slice(3).map((a) => ({ entry: a.entry, value: a.value ?? new Uint8Array(0) }));
  const encoded = [...encodeSegment(3, records.length, records)].reduce((n, chunk) => n + chunk.length, 0);
  expect(encoded).toBe(segmentHeaderBytes + sizes.reduce((a, b) => a + b, 0) + segmentTrailerBytes);
  expect(() => [...new HotArchiveSource(store).variableBytes(1299, 1301)]).toThrow(/no entry at 1300/);
  store.close();
});
