/**
 * @module entry-json. An entry as the API shows it, shared by GET /entries and GET /watch: the
 * entry's fields, its version and the leaf hash stored in the tree and, when asked, its value as
 * base64 — or, for a value the node cannot hand out, `value_base64: null` and `value_error`.
 */

import { entryToJson, type LedgerService, type StoredEntry } from "../ledger/index.ts";
import { ScribeError, toBase64, toHex } from "../lib/index.ts";

/** The JSON view of a stored entry, with its version and the leaf hash stored in the tree. */
export function entryJson(entry: StoredEntry, leafHash: Uint8Array): Record<string, unknown> {
  return { ...entryToJson(entry), version: entry.version, leaf_hash: toHex(leafHash) };
}

/** entryJson with the entry's leaf from the tree and, when `withValue`, its value (read through the cold tier). */
export async function entryWithValue(service: LedgerService, entry: StoredEntry, withValue: boolean): Promise<Record<string, unknown>> {
  const body = entryJson(entry, service.tree.leafHash(entry.index));
  if (!withValue) return body;
  try {
    return { ...body, value_base64: toBase64(await service.valueAt(entry)) };
  } catch (error) {
    // Never the bytes of a value that fails its check: null, and why (corrupt_value,
    // corrupt_entry, or unavailable when evicted and S3 is unreachable). Auditors report it.
    if (!(error instanceof ScribeError)) throw error;
    return { ...body, value_base64: null, value_error: error.code };
  }
}
