/**
 * @module validate. What a key and a content type may be, checked on untrusted input (HTTP
 * requests, forwarded writes, the embedded library's calls) before an operation is built; a
 * ScribeError with a stable code otherwise. Pure.
 */

import { ScribeError, utf8 } from "../lib/index.ts";
import { contentTypeBytesMax, keyBytesMax } from "./entry.ts";

/** The longest key (in UTF-16 units) that fits keyBytesMax whatever its characters: its bytes need no count. */
const keyUnitsAlwaysFitting = Math.floor(keyBytesMax / 3);

/** Validates a key given as text: 1..1024 bytes of UTF-8. */
export function validateKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new ScribeError("invalid_key", "the key is empty; keys are 1..1024 bytes of UTF-8");
  }
  // At most 3 UTF-8 bytes per UTF-16 unit (a lone surrogate encodes as U+FFFD): only a long key is counted.
  if (key.length > keyUnitsAlwaysFitting) {
    const bytes = utf8(key).length;
    if (bytes > keyBytesMax) throw new ScribeError("key_too_large", `the key is ${bytes} bytes; the most is ${keyBytesMax}`);
  }
  if (key.isWellFormed && !key.isWellFormed()) throw new ScribeError("invalid_key", "the key is not valid UTF-8");
  return key;
}

/** A content type to store: printable ASCII, at most 255 bytes; `fallback` when absent. */
export function validateContentType(value: string | null | undefined, fallback: string): string {
  if (value === null || value === undefined || value === "") return fallback;
  if (value.length > contentTypeBytesMax || !/^[\x20-\x7e]+$/.test(value)) {
    throw new ScribeError("invalid_request", `content type must be 1..${contentTypeBytesMax} printable ASCII characters`);
  }
  return value;
}
