import { describe, expect, test } from "bun:test";
import { decodeEntry, emptyValueHash, encodeEntriesPacked, encodeEntry, type Entry } from "../../src/ledger/index.ts";
import { toHex } from "../../src/lib/index.ts";

const base: Entry = {
  index: 7,
  op: "put",
  key: "user:alice",
  valueHash: new Uint8Array(32).fill(0xab),
  valueBytes: 11,
  contentType: "text/plain",
  timestampMs: 1_700_000_000_123,
  prevIndex: 3,
};

describe("entry encoding", () => {
  test("round-trips every field", () => {
    const decoded = decodeEntry(encodeEntry(base));
    expect(decoded).toEqual(base);
    const del: Entry = { ...base, op: "delete", valueHash: emptyValueHash, valueBytes: 0, contentType: "", prevIndex: -1 };
    expect(decodeEntry(encodeEntry(del))).toEqual(del);
  });

  test("moving a separator between fields changes the bytes", () => {
    const a = encodeEntry({ ...base, key: "a:b", contentType: "c" });
    const b = encodeEntry({ ...base, key: "a", contentType: "b:c" });
    expect(toHex(a)).not.toBe(toHex(b));
  });

  test("the layout is the documented one", () => {
    const bytes = encodeEntry({ ...base, key: "k", contentType: "t", prevIndex: -1, index: 1, valueBytes: 2, timestampMs: 5 });
    // version, index u64, op, key len u32 + "k", hash, size u64, ct len u16 + "t", ts u64, prev i64
    expect(bytes.length).toBe(1 + 8 + 1 + 4 + 1 + 32 + 8 + 2 + 1 + 8 + 8);
    expect(bytes[0]).toBe(1);
    expect(toHex(bytes.subarray(1, 9))).toBe("0000000000000001");
    expect(toHex(bytes.subarray(bytes.length - 8))).toBe("ffffffffffffffff");
  });

  test("rejects truncated, trailing and unknown-version bytes", () => {
    const bytes = encodeEntry(base);
    expect(() => decodeEntry(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    expect(() => decodeEntry(new Uint8Array([...bytes, 0]))).toThrow(/trailing/);
    const wrong = bytes.slice();
    wrong[0] = 9;
    expect(() => decodeEntry(wrong)).toThrow(/version/);
  });

  test("the empty value hash is SHA-256 of nothing", () => {
    expect(toHex(emptyValueHash)).toBe(toHex(new Bun.CryptoHasher("sha256").digest() as unknown as Uint8Array));
  });
});

test("encodeEntriesPacked holds each entry's encodeEntry bytes behind one spare byte", () => {
  const entries: Entry[] = [base, { ...base, index: 8, key: "ключ", contentType: "" }, { ...base, index: 9, op: "delete", valueHash: emptyValueHash, valueBytes: 0 }];
  const { packed, ends } = encodeEntriesPacked(entries);
  let start = 0;
  entries.forEach((entry, i) => {
    expect(toHex(packed.subarray(start + 1, ends[i]))).toBe(toHex(encodeEntry(entry)));
    start = ends[i]!;
  });
  expect(packed.length).toBe(start);
});
