/**
 * Key order is UTF-8 byte order. compareUtf8 and prefixUpperBound are checked against a naive
 * reference (encode both strings, compare the bytes) on seeded random strings drawn from the
 * ranges where UTF-16 order and UTF-8 order disagree.
 */
import { expect, test } from "bun:test";
import { compareUtf8, prefixUpperBound, SeededRandom, utf8, utf8Successor } from "../../src/lib/index.ts";

/** The reference: memcmp of the UTF-8 encodings, as SQLite's BINARY collation does. */
function byteOrder(a: string, b: string): number {
  const x = utf8(a);
  const y = utf8(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Code points from the ranges that matter: ASCII and NUL, Latin, just below and above the surrogates, astral, U+10FFFF. */
const pools = [
  [0x00, 0x7f],
  [0x80, 0x7ff],
  [0xd7fe, 0xd7ff],
  [0xe000, 0xe001],
  [0xfffe, 0xffff],
  [0x10000, 0x10001],
  [0x10fffe, 0x10ffff],
] as const;

function randomString(random: SeededRandom, lengthMax: number): string {
  const length = random.int(lengthMax + 1);
  const codePoints: number[] = [];
  for (let i = 0; i < length; i++) {
    const [low, high] = pools[random.int(pools.length)]!;
    codePoints.push(low + random.int(high - low + 1));
  }
  return String.fromCodePoint(...codePoints);
}

test("compareUtf8 agrees with byte order where JavaScript's < does not", () => {
  expect("\u{10000}" < "\uffff").toBe(true); // UTF-16 order
  expect(compareUtf8("\u{10000}", "\uffff")).toBeGreaterThan(0); // UTF-8 order: F0 90 80 80 > EF BF BF
  const random = new SeededRandom(15);
  for (let i = 0; i < 20_000; i++) {
    const a = randomString(random, 4);
    const b = random.int(4) === 0 ? a + randomString(random, 2) : randomString(random, 4);
    expect(Math.sign(compareUtf8(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Math.sign(byteOrder(a, b)));
  }
});

test("prefixUpperBound: a string starts with the prefix exactly when prefix <= it < bound", () => {
  expect(prefixUpperBound("")).toBeUndefined();
  expect(prefixUpperBound("\u{10ffff}\u{10ffff}")).toBeUndefined();
  expect(prefixUpperBound("ab")).toBe("ac");
  expect(prefixUpperBound("a\u{10ffff}")).toBe("b");
  expect(prefixUpperBound("\ud7ff")).toBe("\ue000");
  const random = new SeededRandom(16);
  for (let i = 0; i < 20_000; i++) {
    const prefix = randomString(random, 2) || "a";
    const text = random.int(3) === 0 ? prefix + randomString(random, 2) : randomString(random, 3);
    const bound = prefixUpperBound(prefix);
    const inRange = byteOrder(prefix, text) <= 0 && (bound === undefined || byteOrder(text, bound) < 0);
    expect(inRange, `${JSON.stringify(prefix)} / ${JSON.stringify(text)}`).toBe(text.startsWith(prefix));
  }
});

test("utf8Successor is the next string: nothing lies strictly between", () => {
  const random = new SeededRandom(17);
  for (let i = 0; i < 5_000; i++) {
    const text = randomString(random, 3);
    const other = randomString(random, 4);
    expect(byteOrder(utf8Successor(text), text)).toBeGreaterThan(0);
    const between = byteOrder(text, other) < 0 && byteOrder(other, utf8Successor(text)) < 0;
    expect(between).toBe(false);
  }
});
