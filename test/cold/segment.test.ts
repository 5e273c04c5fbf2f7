import { describe, expect, test } from "bun:test";
import { encodeEntry } from "../../src/ledger/entry.ts";
import { ScribeError, toHex } from "../../src/lib/index.ts";
import {
  CompactRange,
  createLayout,
  decodeSegmentBytes,
  decodeSegmentStream,
  encodeSegment,
  encodeSegmentBytes,
  leafHash,
  parseSegmentKey,
  segmentRawBytes,
  segmentRecordBytes,
  sha256,
} from "../../src/storage/cold/index.ts";
import { leavesOf, makeRecords, naiveTreeHash } from "./fixtures.ts";

function expectVerificationError(run: () => unknown, messagePart: RegExp, index?: number): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ScribeError);
  const error = caught as ScribeError;
  expect(error.code).toBe("verification_failed");
  expect(error.message).toMatch(messagePart);
  if (index !== undefined) {
    expect(error.details?.index).toBe(index);
    expect(error.message).toContain(`index ${index}`);
  }
}

describe("segment encoding", () => {
  const records = makeRecords(500, 7, { firstIndex: 1000 });

  test("is deterministic: same entries, same bytes, whatever the chunk size", () => {
    const a = encodeSegmentBytes(1000, records);
    const b = encodeSegmentBytes(1000, makeRecords(500, 7, { firstIndex: 1000 }));
    expect(toHex(sha256(a))).toBe(toHex(sha256(b)));
    const chunked = [...encodeSegment(1000, records.length, records, 1000)];
    expect(chunked.length).toBeGreaterThan(10);
    expect(Buffer.concat(chunked).equals(Buffer.from(a))).toBe(true);
  });

  test("different entries give different bytes", () => {
    const other = makeRecords(500, 8, { firstIndex: 1000 });
    expect(toHex(sha256(encodeSegmentBytes(1000, other)))).not.toBe(toHex(sha256(encodeSegmentBytes(1000, records))));
  });

  test("raw size is predicted from the entries alone", () => {
    const recordBytes = records.reduce((n, r) => n + segmentRecordBytes(r.entry), 0);
    expect(encodeSegmentBytes(1000, records).length).toBe(segmentRawBytes(recordBytes));
  });

  test("round-trips, whole and in 1..7-byte chunks", async () => {
    const bytes = encodeSegmentBytes(1000, records);
    const { records: decoded, summary } = decodeSegmentBytes(bytes, { expectFirstIndex: 1000, expectCount: 500 });
    expect(decoded.length).toBe(500);
    expect(summary).toMatchObject({ firstIndex: 1000, count: 500, rawBytes: bytes.length });
    expect(toHex(summary.rawSha256)).toBe(toHex(sha256(bytes)));
    for (let i = 0; i < decoded.length; i++) {
      expect(toHex(encodeEntry(decoded[i]!.entry))).toBe(toHex(encodeEntry(records[i]!.entry)));
      expect(Buffer.from(decoded[i]!.value).equals(Buffer.from(records[i]!.value))).toBe(true);
    }
    const smallSegment = encodeSegmentBytes(1000, records.slice(0, 20));
    const pieces: Uint8Array[] = [];
    for (let offset = 0, step = 1; offset < smallSegment.length; offset += step, step = (step % 7) + 1) {
      pieces.push(smallSegment.slice(offset, offset + step));
    }
    const streamed = [];
    for await (const record of decodeSegmentStream(pieces)) streamed.push(record);
    expect(streamed.map((r) => r.entry.index)).toEqual(records.slice(0, 20).map((r) => r.entry.index));
  });

  test("a changed value byte is caught and its index named", () => {
    const bytes = encodeSegmentBytes(1000, records);
    // Find record 37's value: walk the layout.
    let offset = 22;
    for (let i = 0; i < 37; i++) offset += 8 + encodeEntry(records[i]!.entry).length + records[i]!.value.length;
    const target = records.findIndex((r, i) => i >= 37 && r.value.length > 0);
    for (let i = 37; i < target; i++) offset += 8 + encodeEntry(records[i]!.entry).length + records[i]!.value.length;
    const valueOffset = offset + 4 + encodeEntry(records[target]!.entry).length + 4;
    const tampered = bytes.slice();
    tampered[valueOffset] ^= 0x01;
    expectVerificationError(() => decodeSegmentBytes(tampered), /valueHash/, 1000 + target);
  });

  test("truncation anywhere is caught", () => {
    const bytes = encodeSegmentBytes(1000, records.slice(0, 50));
    for (const cut of [0, 10, 22, 23, 100, Math.floor(bytes.length / 2), bytes.length - 44, bytes.length - 1]) {
      expectVerificationError(() => decodeSegmentBytes(bytes.subarray(0, cut), { objectKey: "k" }), /truncated/);
    }
    // Cut in the middle of record 0: names index 1000.
    expectVerificationError(() => decodeSegmentBytes(bytes.subarray(0, 30)), /truncated at record 0 of 50/, 1000);
  });

  test("trailing bytes, bad magic, wrong header expectations and a broken trailer are caught", () => {
    const bytes = encodeSegmentBytes(1000, records.slice(0, 10));
    expectVerificationError(() => decodeSegmentBytes(Buffer.concat([bytes, new Uint8Array([0])])), /after the trailer/);
    const badMagic = bytes.slice();
    badMagic[0] = 0;
    expectVerificationError(() => decodeSegmentBytes(badMagic), /bad magic/);
    expectVerificationError(() => decodeSegmentBytes(bytes, { expectFirstIndex: 999 }), /expected 999/);
    expectVerificationError(() => decodeSegmentBytes(bytes, { expectCount: 11 }), /expected 11/);
    const badTrailer = bytes.slice();
    badTrailer[badTrailer.length - 1] ^= 0xff;
    expectVerificationError(() => decodeSegmentBytes(badTrailer), /trailer SHA-256/, 1009);
  });

  test("records out of sequence are caught naming the expected index", () => {
    // Encode a valid segment of one record, then splice in a record for another index.
    const one = encodeSegmentBytes(1000, [records[0]!]);
    const two = encodeSegmentBytes(1002, [records[2]!]);
    const body = Buffer.concat([one.subarray(0, one.length - 44), two.subarray(22, two.length - 44)]);
    body.writeUInt32BE(2, 18);
    const trailer = Buffer.alloc(44);
    Buffer.from("SCRBEND\n").copy(trailer, 0);
    trailer.writeUInt32BE(2, 8);
    Buffer.from(sha256(body)).copy(trailer, 12);
    expectVerificationError(() => decodeSegmentBytes(Buffer.concat([body, trailer])), /holds index 1002, expected 1001/, 1001);
  });

  test("the encoder refuses a value that does not match its entry (asserts before writing)", () => {
    const bad = [{ entry: records[0]!.entry, value: new Uint8Array(records[0]!.value.length + 1) }];
    expect(() => encodeSegmentBytes(1000, bad)).toThrow(/has .* bytes, entry says|does not match/);
    expect(() => encodeSegmentBytes(1001, [records[0]!])).toThrow(/expected index 1001/);
  });
});

describe("compact range", () => {
  test("matches a naive RFC 9162 tree hash at every size up to 70", () => {
    const leaves = leavesOf(makeRecords(70, 3));
    const range = CompactRange.empty();
    expect(toHex(range.root())).toBe(toHex(naiveTreeHash([])));
    for (let n = 1; n <= leaves.length; n++) {
      range.append(leaves[n - 1]!);
      expect(toHex(range.root())).toBe(toHex(naiveTreeHash(leaves.slice(0, n))));
    }
    const resumed = CompactRange.from(range.size, [...range.frontier]);
    const extra = leafHash(new Uint8Array([1, 2, 3]));
    resumed.append(extra);
    expect(toHex(resumed.root())).toBe(toHex(naiveTreeHash([...leaves, extra])));
  });

  test("known vector: empty tree hash is SHA-256 of the empty string", () => {
    expect(toHex(CompactRange.empty().root())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});

describe("layout", () => {
  test("segment keys are zero-padded and sort in index order", () => {
    const layout = createLayout("ledger");
    const key = layout.segmentKey(5, 1234, true);
    expect(key).toBe("ledger/segments/00000000000000000005-00000000000000001234.seg.gz");
    expect(parseSegmentKey(layout, key)).toEqual({ firstIndex: 5, lastIndex: 1234, compressed: true });
    expect(layout.segmentKey(9, 99, false) < layout.segmentKey(100, 100, false)).toBe(true);
    expect(layout.manifestKey()).toBe("ledger/manifest.json");
    expect(layout.checkpointKey()).toBe("ledger/checkpoint");
    expect(createLayout("").manifestKey()).toBe("manifest.json");
    expect(() => createLayout("/x")).toThrow();
    expect(() => layout.segmentKey(5, 4, true)).toThrow();
  });
});
