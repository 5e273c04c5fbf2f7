/**
 * @module ledger/check. Whether stored bytes are what the ledger committed to, defined once for
 * every reader: a value against its entry (size and SHA-256 = valueHash), an entry against its
 * Merkle leaf (SHA-256(0x00 || canonical encoding)), and an entry's version against its key's
 * previous entry (the version is not in the leaf). The node's read path, the cold tier's
 * read-through, catch-up, `scribe-node check` and the client's verifier all use these.
 *
 * Pure: hashing is done by the Hasher given. Each function returns why the bytes are wrong, or
 * undefined when they are right; callers choose the error.
 */

import { bytesEqual, toHex } from "../lib/index.ts";
import type { Hasher } from "../merkle/index.ts";
import { encodeEntry, type Entry } from "./entry.ts";

/** Why `value` is not the value `entry` commits to (empty for a delete), or undefined when it is. */
export function valueMismatch(entry: Entry, value: Uint8Array, hasher: Pick<Hasher, "digest">): string | undefined {
  if (entry.op === "delete" && value.length !== 0) return `entry ${entry.index} is a delete, but a ${value.length}-byte value was given`;
  if (value.length !== entry.valueBytes) return `value is ${value.length} bytes, entry ${entry.index} says ${entry.valueBytes}`;
  const hash = hasher.digest(value);
  if (!bytesEqual(hash, entry.valueHash)) return `value hashes to ${toHex(hash)}, entry ${entry.index} says ${toHex(entry.valueHash)}`;
  return undefined;
}

/**
 * Why `entry` is not the entry whose leaf hash is `leafHash` (undefined when it is). An entry too
 * malformed to encode (a row edited out of shape) is a mismatch too, not a crash.
 */
export function entryLeafMismatch(entry: Entry, leafHash: Uint8Array | undefined, hasher: Pick<Hasher, "hashLeaf">): string | undefined {
  if (leafHash === undefined) return `the tree has no stored leaf for entry ${entry.index}`;
  let encoded: Uint8Array;
  try {
    encoded = encodeEntry(entry);
  } catch (error) {
    return `entry ${entry.index} is malformed: ${(error as Error).message}`;
  }
  const computed = hasher.hashLeaf(encoded);
  if (!bytesEqual(computed, leafHash)) return `entry ${entry.index} hashes to leaf ${toHex(computed)}, the tree's leaf is ${toHex(leafHash)}`;
  return undefined;
}

/** The fields of a key's previous entry that its next entry's version follows from. */
export interface VersionLink {
  key: string;
  version: number;
}

/**
 * Why `entry`'s version does not follow from its key's previous entry `previous` (the entry at
 * entry.prevIndex; undefined for a key's first entry, or when absent), or undefined when it does:
 * a key's first entry is version 1 and each next one is the previous version plus one.
 */
export function versionMismatch(entry: Entry & { version: number }, previous: VersionLink | undefined): string | undefined {
  if (entry.prevIndex === -1) return entry.version === 1 ? undefined : `entry ${entry.index} is the first of key ${JSON.stringify(entry.key)} but says version ${entry.version}`;
  if (previous === undefined) return `entry ${entry.index} links to entry ${entry.prevIndex}, which is missing`;
  if (previous.key !== entry.key) return `entry ${entry.index} (key ${JSON.stringify(entry.key)}) links to entry ${entry.prevIndex}, whose key is ${JSON.stringify(previous.key)}`;
  if (entry.version !== previous.version + 1) return `entry ${entry.index} says version ${entry.version}, but the previous entry ${entry.prevIndex} is version ${previous.version}`;
  return undefined;
}
