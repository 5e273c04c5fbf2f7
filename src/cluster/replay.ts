/**
 * @module replay. Re-applies a ledger range that came from elsewhere — a peer's `GET /entries`
 * during catch-up (catchup.ts), the bucket's segments during restore (restore.ts) — through this
 * node's own state machine. The state machine is deterministic, so re-applying each entry's
 * operation at its index must give back the very same entry: every value is checked against its
 * hash, every resulting leaf against the one the source gave (or, without one, the leaf of the
 * entry as received). Nothing of a range that fails a check is kept (one transaction).
 *
 * Idempotency records (src/ledger/idempotency.ts) cannot be re-derived from entries: catch-up
 * passes those the source made for the range's commands, kept in the range's transaction after
 * checking they continue this node's sequence and lie within the range. Restore from S3 has none
 * (the bucket holds entries only): a restored ledger remembers no idempotency key.
 */

import { encodeEntry, putOperation, valueMismatch, type Command, type Entry, type IdempotencyRecord } from "../ledger/index.ts";
import { bytesEqual, ScribeError, toHex } from "../lib/index.ts";
import { hashSize } from "../merkle/index.ts";
import type { LedgerState } from "./ledger-state.ts";

export interface ReplayRecord {
  entry: Entry;
  /** The value of a put (empty for a delete). */
  value: Uint8Array;
  /** The leaf hash the source reports (hex); without it, the leaf of `entry` as received. */
  leafHash?: string;
}

/**
 * Re-applies `records`, which must start at the ledger's next index, with the idempotency records
 * made for commands starting in that range. `source` names them in errors.
 */
export function replayEntries(ledger: LedgerState, records: readonly ReplayRecord[], source: string, idempotency: readonly IdempotencyRecord[] = []): void {
  if (records.length === 0) return;
  const hasher = ledger.hasher;
  const first = ledger.size;
  const commands: Command[] = records.map(({ entry, value }, i) => {
    if (entry.index !== first + i) throw new ScribeError("verification_failed", `${source}: expected index ${first + i}, got ${entry.index}`, { index: entry.index });
    if (entry.op === "delete") return { timestampMs: entry.timestampMs, ops: [{ op: "delete", key: entry.key }] };
    const put = putOperation({ key: entry.key, value, contentType: entry.contentType }, hasher);
    // The op's hash is the value's: check the value against the entry without hashing it twice.
    const mismatch = valueMismatch(entry, value, { digest: () => put.valueHash });
    if (mismatch) throw new ScribeError("verification_failed", `${source}: the value of entry ${entry.index} does not match its entry: ${mismatch}`, { index: entry.index });
    return { timestampMs: entry.timestampMs, ops: [put] };
  });
  const computed = records.some((r) => r.leafHash === undefined) ? hasher.hashLeaves(records.map((r) => encodeEntry(r.entry))) : undefined;
  const batch = ledger.prepare(commands);
  batch.outcomes.forEach((outcome, i) => {
    const index = records[i]!.entry.index;
    if (!outcome.ok) throw new ScribeError("verification_failed", `${source}: the entry at index ${index} does not apply: ${outcome.error.message}`, { index });
  });
  // Every command was accepted with exactly one op, so batch leaf i is record i's.
  for (let i = 0; i < records.length; i++) {
    const mine = batch.leafHashes.subarray(i * hashSize, (i + 1) * hashSize);
    const leafHash = records[i]!.leafHash;
    const theirs = leafHash === undefined ? computed!.subarray(i * hashSize, (i + 1) * hashSize) : leafHash;
    const same = typeof theirs === "string" ? toHex(mine) === theirs : bytesEqual(mine, theirs);
    if (!same) throw new ScribeError("verification_failed", `${source}: re-applying index ${records[i]!.entry.index} gives a different entry than the source's`, { index: records[i]!.entry.index });
  }
  const end = first + records.length;
  for (const r of idempotency) {
    // A batch may go on past the page; its record comes with the page holding its first entry.
    if (r.firstIndex < first || r.firstIndex >= end) throw new ScribeError("verification_failed", `${source}: idempotency record ${r.seq} starts at ${r.firstIndex}, outside [${first}, ${end})`);
  }
  ledger.writeAlone(batch, idempotency, source);
}
