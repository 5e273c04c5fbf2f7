/**
 * @module bytes. Byte helpers shared by every layer: hex and base64 codecs, concatenation,
 * comparison, and a growable big-endian writer / bounds-checked reader for binary layouts.
 */

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

/** Decodes UTF-8, throwing a TypeError on invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

/** The two hex digits of every byte value: one lookup per byte in the fallback encoder. */
const hexPairs = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * The runtime's own codecs (Uint8Array.prototype.toHex / toBase64, Uint8Array.fromHex; Bun, and
 * recent browsers and Node): about 4x faster than a JavaScript loop on a 32-byte hash and 13x on
 * 1 MiB. The loops below remain for runtimes without them (the client runs in browsers too).
 */
interface NativeCodecs {
  toHex?: (this: Uint8Array) => string;
  toBase64?: (this: Uint8Array) => string;
}
const native = Uint8Array.prototype as unknown as NativeCodecs;
const nativeToHex = typeof native.toHex === "function" ? native.toHex : undefined;
const nativeToBase64 = typeof native.toBase64 === "function" ? native.toBase64 : undefined;
const nativeFromHex = (Uint8Array as unknown as { fromHex?: (hex: string) => Uint8Array }).fromHex;

export function toHex(bytes: Uint8Array): string {
  return nativeToHex ? nativeToHex.call(bytes) : toHexFallback(bytes);
}

/** toHex without the runtime's codec (exported for the test that cross-checks the two). */
export function toHexFallback(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += hexPairs[bytes[i]!]!;
  return out;
}

/** Parses lowercase or uppercase hex; returns undefined for odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  if (typeof nativeFromHex === "function") return nativeFromHex(hex);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  return nativeToBase64 ? nativeToBase64.call(bytes) : toBase64Fallback(bytes);
}

/** toBase64 without the runtime's codec (exported for the test that cross-checks the two). */
export function toBase64Fallback(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Parses standard base64; returns undefined when the text is not valid base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A growable big-endian binary writer. Integers are written byte by byte into the Uint8Array:
 * no DataView, whose construction makes JavaScriptCore materialize the array's ArrayBuffer
 * (about 0.3 µs per writer, a few % of every write path: docs/PERFORMANCE.md section 11).
 */
export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(initialBytes = 256) {
    this.buffer = new Uint8Array(initialBytes);
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let size = Math.max(this.buffer.length * 2, 16);
    while (size < needed) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  u8(value: number): this {
    this.reserve(1);
    this.buffer[this.length++] = value;
    return this;
  }

  u16(value: number): this {
    this.reserve(2);
    const b = this.buffer;
    const at = this.length;
    b[at] = value >>> 8;
    b[at + 1] = value;
    this.length = at + 2;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.put32(value);
    return this;
  }

  /** Writes the low 32 bits of `value` at the end (space reserved by the caller). */
  private put32(value: number): void {
    const b = this.buffer;
    const at = this.length;
    b[at] = value >>> 24;
    b[at + 1] = value >>> 16;
    b[at + 2] = value >>> 8;
    b[at + 3] = value;
    this.length = at + 4;
  }

  /** Writes a non-negative safe integer as an unsigned 64-bit big-endian value (two u32, no BigInt). */
  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 field must be a non-negative safe integer, got ${value}`);
    this.reserve(8);
    this.put32(Math.floor(value / 0x1_0000_0000));
    this.put32(value >>> 0);
    return this;
  }

  /** Writes a safe integer as a signed 64-bit (two's complement) big-endian value (no BigInt). */
  i64(value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`i64 field must be a safe integer, got ${value}`);
    this.reserve(8);
    this.put32(Math.floor(value / 0x1_0000_0000) | 0);
    this.put32(value >>> 0);
    return this;
  }

  bytes(data: Uint8Array): this {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
    return this;
  }

  /** Writes a u32 length prefix followed by the bytes. */
  lengthPrefixed(data: Uint8Array): this {
    return this.u32(data.length).bytes(data);
  }

  /**
   * Writes `text` as UTF-8 after its byte length (big-endian, `prefixBytes` = 2 or 4) and returns
   * that length. ASCII text is copied character by character (no encoder call, no temporary
   * array); other text goes through TextEncoder. The same bytes as `utf8(text)` either way.
   */
  text(text: string, prefixBytes: 2 | 4): number {
    const n = text.length;
    this.reserve(prefixBytes + n);
    const b = this.buffer;
    const start = this.length + prefixBytes;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        const encoded = utf8(text);
        if (prefixBytes === 2) this.u16(encoded.length);
        else this.u32(encoded.length);
        this.bytes(encoded);
        return encoded.length;
      }
      b[start + i] = c;
    }
    if (prefixBytes === 2) this.u16(n);
    else this.put32(n);
    this.length = start + n;
    return n;
  }

  get size(): number {
    return this.length;
  }

  /**
   * Hands over the written bytes: the buffer itself when it was sized exactly (no copy), else a
   * copy. Write nothing after finish().
   */
  finish(): Uint8Array {
    return this.length === this.buffer.length ? this.buffer : this.buffer.slice(0, this.length);
  }
}

/** A bounds-checked big-endian reader; every read past the end throws a RangeError. */
export class ByteReader {
  offset = 0;

  constructor(private readonly data: Uint8Array) {}

  private need(bytes: number): void {
    if (this.offset + bytes > this.data.length) {
      throw new RangeError(`read of ${bytes} bytes at offset ${this.offset} passes the end (${this.data.length})`);
    }
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const d = this.data;
    const at = this.offset;
    this.offset = at + 2;
    return (d[at]! << 8) | d[at + 1]!;
  }

  /** The u32 at `at` (bounds checked by the caller). */
  private get32(at: number): number {
    const d = this.data;
    return d[at]! * 0x100_0000 + ((d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!);
  }

  u32(): number {
    this.need(4);
    const v = this.get32(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const hi = this.get32(this.offset);
    const lo = this.get32(this.offset + 4);
    this.offset += 8;
    if (hi > 0x1f_ffff) throw new RangeError("u64 exceeds the safe integer range");
    return hi * 0x1_0000_0000 + lo;
  }

  i64(): number {
    this.need(8);
    const hi = this.get32(this.offset) | 0;
    const lo = this.get32(this.offset + 4);
    this.offset += 8;
    const value = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(value)) throw new RangeError("i64 exceeds the safe integer range");
    return value;
  }

  bytes(length: number): Uint8Array {
    this.need(length);
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  lengthPrefixed(): Uint8Array {
    return this.bytes(this.u32());
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }
}
