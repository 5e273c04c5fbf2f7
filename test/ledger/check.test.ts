/** The checks of stored bytes against the ledger (src/ledger/check.ts), one definition for every reader. */
import { expect, test } from "bun:test";
import { encodeEntry, entryLeafMismatch, valueMismatch, versionMismatch, type Entry } from "../../src/ledger/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";

const hasher = createNativeHasher();
const utf8 = (text: string) => new TextEncoder().encode(text);
const value = utf8("hello");
const put: Entry = { index: 7, op: "put", key: "k", valueHash: hasher.digest(value), valueBytes: value.length, contentType: "text/plain", timestampMs: 1, prevIndex: 3 };

test("valueMismatch: the value must have the entry's size and SHA-256; a delete has none", () => {
  expect(valueMismatch(put, value, hasher)).toBeUndefined();
  expect(valueMismatch(put, utf8("hellO"), hasher)).toStartWith("value hashes to ");
  expect(valueMismatch(put, utf8("hello!"), hasher)).toBe("value is 6 bytes, entry 7 says 5");
  const tombstone: Entry = { ...put, op: "delete", valueHash: hasher.digest(new Uint8Array(0)), valueBytes: 0 };
  expect(valueMismatch(tombstone, new Uint8Array(0), hasher)).toBeUndefined();
  expect(valueMismatch(tombstone, utf8("x"), hasher)).toContain("is a delete");
});

test("entryLeafMismatch: any field in the encoding changes the leaf; a malformed entry is a mismatch, not a crash", () => {
  const leaf = hasher.hashLeaf(encodeEntry(put));
  expect(entryLeafMismatch(put, leaf, hasher)).toBeUndefined();
  for (const changed of [{ key: "K" }, { contentType: "text/html" }, { timestampMs: 2 }, { prevIndex: 2 }, { valueBytes: 6 }, { index: 8 }]) {
    expect(entryLeafMismatch({ ...put, ...changed }, leaf, hasher)).toContain("hashes to leaf");
  }
  expect(entryLeafMismatch(put, undefined, hasher)).toBe("the tree has no stored leaf for entry 7");
  expect(entryLeafMismatch({ ...put, prevIndex: 9 }, leaf, hasher)).toStartWith("entry 7 is malformed: ");
  expect(entryLeafMismatch({ ...put, valueHash: new Uint8Array(31) }, leaf, hasher)).toStartWith("entry 7 is malformed: ");
});

test("versionMismatch: a key's first entry is version 1, each next one the previous plus one, same key", () => {
  expect(versionMismatch({ ...put, prevIndex: -1, version: 1 }, undefined)).toBeUndefined();
  expect(versionMismatch({ ...put, prevIndex: -1, version: 2 }, undefined)).toContain("is the first of key");
  expect(versionMismatch({ ...put, version: 4 }, { key: "k", version: 3 })).toBeUndefined();
  expect(versionMismatch({ ...put, version: 5 }, { key: "k", version: 3 })).toContain("says version 5, but the previous entry 3 is version 3");
  expect(versionMismatch({ ...put, version: 4 }, { key: "other", version: 3 })).toContain('whose key is "other"');
  expect(versionMismatch({ ...put, version: 4 }, undefined)).toContain("which is missing");
});
