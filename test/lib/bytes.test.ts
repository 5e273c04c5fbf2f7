import { expect, test } from "bun:test";
import { ByteReader, ByteWriter, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from "../../src/lib/index.ts";
import { SeededRandom } from "../../src/lib/index.ts";

test("u64 and i64 match the BigInt big-endian encoding across the safe range", () => {
  const random = new SeededRandom(7);
  const samples = [0, 1, -1, -2, 2 ** 31, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor((random.next() - 0.5) * 2 * Number.MAX_SAFE_INTEGER));
  for (const v of samples) {
    const i64 = new ByteWriter(8).i64(v).finish();
    expect(new DataView(i64.buffer, i64.byteOffset).getBigInt64(0)).toBe(BigInt(v));
    expect(new ByteReader(i64).i64()).toBe(v);
    if (v < 0) continue;
    const u64 = new ByteWriter(8).u64(v).finish();
    expect(new DataView(u64.buffer, u64.byteOffset).getBigUint64(0)).toBe(BigInt(v));
    expect(new ByteReader(u64).u64()).toBe(v);
  }
});

test("u16 and u32 match DataView's big-endian encoding, written and read at any offset", () => {
  const random = new SeededRandom(11);
  for (let i = 0; i < 2000; i++) {
    const a = Math.floor(random.next() * 0x1_0000);
    const b = Math.floor(random.next() * 0x1_0000_0000);
    const bytes = new ByteWriter(1).u8(0xab).u16(a).u32(b).finish();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    expect([view.getUint8(0), view.getUint16(1), view.getUint32(3)]).toEqual([0xab, a, b]);
    const reader = new ByteReader(Uint8Array.of(9, ...bytes).subarray(1));
    expect([reader.u8(), reader.u16(), reader.u32(), reader.remaining]).toEqual([0xab, a, b, 0]);
  }
});

test("text() writes the UTF-8 of any string after its byte length, as utf8() encodes it", () => {
  for (const text of ["", "a", "key/0001", "k/é", "retry-ß-1", "emoji 😀 and 中文", "\u0000\u007f\u0080", "\ud800 lone"]) {
    const bytes = utf8(text);
    const four = new ByteWriter(2);
    expect(four.u8(7).text(text, 4)).toBe(bytes.length);
    expect(four.finish()).toEqual(new ByteWriter().u8(7).lengthPrefixed(bytes).finish());
    const two = new ByteWriter(0);
    expect(two.text(text, 2)).toBe(bytes.length);
    expect(two.finish()).toEqual(new ByteWriter().u16(bytes.length).bytes(bytes).finish());
  }
});

test("values outside the safe range are refused on both sides", () => {
  expect(() => new ByteWriter().u64(-1)).toThrow(RangeError);
  expect(() => new ByteWriter().u64(2 ** 53)).toThrow(RangeError);
  expect(() => new ByteWriter().i64(0.5)).toThrow(RangeError);
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigUint64(0, 2n ** 53n);
  expect(() => new ByteReader(big).u64()).toThrow(/safe integer/);
  new DataView(big.buffer).setBigInt64(0, -(2n ** 53n));
  expect(() => new ByteReader(big).i64()).toThrow(/safe integer/);
  expect(() => new ByteReader(new Uint8Array(7)).u64()).toThrow(/passes the end/);
});

test("hex, base64 and concatenation round-trip; malformed text is refused", () => {
  const bytes = new Uint8Array(300).map((_, i) => (i * 37) & 255);
  expect(fromHex(toHex(bytes))).toEqual(bytes);
  expect(fromBase64(toBase64(bytes))).toEqual(bytes);
  expect(fromHex("abc")).toBeUndefined();
  expect(fromHex("zz")).toBeUndefined();
  expect(fromBase64("!!!!")).toBeUndefined();
  expect(concatBytes([bytes.subarray(0, 10), bytes.subarray(10)])).toEqual(bytes);
});

test("the runtime's hex and base64 codecs and the portable loops agree, and round-trip", async () => {
  const { toHexFallback, toBase64Fallback } = await import("../../src/lib/bytes.ts");
  const random = new SeededRandom(11);
  for (const length of [0, 1, 2, 3, 31, 32, 33, 255, 4096, 70_000]) {
    const bytes = new Uint8Array(length).map(() => Math.floor(random.next() * 256));
    const hex = toHex(bytes);
    expect(hex).toBe(toHexFallback(bytes));
    expect(hex).toBe(Buffer.from(bytes).toString("hex"));
    expect(fromHex(hex)).toEqual(bytes);
    expect(fromHex(hex.toUpperCase())).toEqual(bytes);
    const b64 = toBase64(bytes);
    expect(b64).toBe(toBase64Fallback(bytes));
    expect(b64).toBe(Buffer.from(bytes).toString("base64"));
    expect(fromBase64(b64)).toEqual(bytes);
  }
  expect(fromHex("abc")).toBeUndefined();
  expect(fromHex("zz")).toBeUndefined();
  // A view into a larger buffer encodes only its own bytes.
  const whole = new Uint8Array([1, 2, 3, 4, 5]);
  expect(toHex(whole.subarray(1, 3))).toBe("0203");
  expect(toBase64(whole.subarray(1, 3))).toBe(toBase64Fallback(whole.subarray(1, 3)));
});
