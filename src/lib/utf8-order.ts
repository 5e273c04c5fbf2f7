/**
 * @module utf8-order. The order of keys: UTF-8 byte order, which is Unicode code point order and is
 * what SQLite's BINARY collation gives TEXT. JavaScript's `<` compares UTF-16 code units instead,
 * which puts U+10000..U+10FFFF (surrogate pairs, 0xD800..0xDFFF) before U+E000..U+FFFF; these
 * helpers do not. Inputs are well-formed strings (validated keys and prefixes).
 */

/** A UTF-16 code unit moved so that code unit order equals code point order on well-formed text. */
function orderUnit(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800; // U+E000..U+FFFF sort below the surrogates
  if (unit >= 0xd800) return unit + 0x2000; // surrogates (code points above U+FFFF) sort above
  return unit;
}

/** Compares two well-formed strings in UTF-8 byte order: negative, zero or positive. */
export function compareUtf8(a: string, b: string): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return orderUnit(x) - orderUnit(y);
  }
  return a.length - b.length;
}

const codePointMax = 0x10ffff;
const surrogateFirst = 0xd800;
const surrogateAfterLast = 0xe000;

/**
 * The smallest string above (in UTF-8 byte order) every string that starts with `prefix`, or
 * undefined when there is none (an empty prefix, or one made only of U+10FFFF). The strings that
 * start with `prefix` are exactly those in [prefix, bound).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0)!);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!;
    if (last === codePointMax) continue;
    const next = last + 1 === surrogateFirst ? surrogateAfterLast : last + 1;
    return String.fromCodePoint(...codePoints, next);
  }
  return undefined;
}

/** The smallest string above `text` in UTF-8 byte order: `text` followed by U+0000. */
export function utf8Successor(text: string): string {
  return `${text}\u0000`;
}
