/**
 * Keys at the byte limit (src/ledger/validate.ts): 1..1024 bytes of UTF-8, whatever mix of 1-, 2-,
 * 3- and 4-byte characters makes them up, and only well-formed text. Short keys are not counted
 * byte by byte (at most 3 bytes per UTF-16 unit), so the limit is checked on both sides of that
 * shortcut's bound (341 units).
 */
import { describe, expect, test } from "bun:test";
import { validateKey } from "../../src/ledger/index.ts";
import { isScribeError } from "../../src/lib/index.ts";

function codeOf(key: unknown): string {
  try {
    validateKey(key);
    return "ok";
  } catch (error) {
    return isScribeError(error) ? error.code : "thrown";
  }
}

describe("validateKey", () => {
  test.each([
    ["1024 ASCII bytes", "k".repeat(1024), "ok"],
    ["1025 ASCII bytes", "k".repeat(1025), "key_too_large"],
    ["341 three-byte characters (1023 bytes)", "€".repeat(341), "ok"],
    ["342 three-byte characters (1026 bytes)", "€".repeat(342), "key_too_large"],
    ["341 three-byte characters and one ASCII (1024 bytes)", `${"€".repeat(341)}k`, "ok"],
    ["341 three-byte characters and two ASCII (1025 bytes)", `${"€".repeat(341)}kk`, "key_too_large"],
    ["512 two-byte characters (1024 bytes)", "é".repeat(512), "ok"],
    ["513 two-byte characters (1026 bytes)", "é".repeat(513), "key_too_large"],
    ["256 four-byte characters (1024 bytes)", "😀".repeat(256), "ok"],
    ["257 four-byte characters (1028 bytes)", "😀".repeat(257), "key_too_large"],
    ["a lone surrogate", "k\udc80", "invalid_key"],
    ["the empty key", "", "invalid_key"],
    ["not a string", 7, "invalid_key"],
  ])("%s", (_name, key, code) => {
    expect(codeOf(key)).toBe(code);
  });
});
