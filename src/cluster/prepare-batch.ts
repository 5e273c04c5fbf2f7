/**
 * @module prepare-batch. The first step of applying a batch of ledger commands (ledger-state.ts,
 * `LedgerState.prepare`): the commands run through the pure state machine (src/ledger/apply.ts) in
 * order, each accepted or refused on its own, later ones seeing the effects of earlier accepted
 * ones; keyed commands are first judged against their idempotency keys (idempotent-apply.ts); the
 * leaf hashes of the accepted entries are computed. Nothing is written: the result is written in
 * the caller's transaction and then committed (or rolled back).
 */

import { applyCommand, encodeEntriesPacked, type AppliedOp, type Command, type IdempotencyRecord, type KeyHead, type Receipt } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { Hasher } from "../merkle/index.ts";
import type { IdempotencyStore } from "../storage/index.ts";
import { IdempotencyOverlay, keyReusedError } from "./idempotent-apply.ts";

/**
 * The outcome of one command in a batch: its receipts, or the refusal to hand its proposer.
 * `replayed`: the command's idempotency key was live with the same request, so nothing was
 * appended and the receipts are the original command's.
 */
export type CommandOutcome = { ok: true; receipts: Receipt[]; replayed?: boolean } | { ok: false; error: ScribeError };

/** Commands run through the state machine, not yet written (LedgerState.prepare). */
export interface PreparedBatch {
  /** One per command; accepted ones get their receipts at commit. */
  outcomes: CommandOutcome[];
  accepted: { slot: number; applied: AppliedOp[] }[];
  all: AppliedOp[];
  leafHashes: Uint8Array;
  /** The ledger size once the batch is written. */
  sizeAfter: number;
  /** Idempotency records of accepted keyed commands (written with the entries). */
  records: IdempotencyRecord[];
  /** Keyed commands whose key was live with the same request: answered from the original's entries. */
  replays: { slot: number; record: IdempotencyRecord }[];
}

/** What a batch is prepared against: the ledger as it stands before the batch. */
export interface PrepareContext {
  /** The ledger's next index (its size). */
  nextIndex: number;
  /** A key's latest head in the ledger (undefined: no such key). */
  head: (key: string) => KeyHead | undefined;
  idempotency: IdempotencyStore;
  hasher: Hasher;
  /** `refusedCommands` counts the commands the state machine refused. */
  counters: { refusedCommands: number };
}

/** Runs `commands` through the pure state machine without writing anything (module comment). */
export function prepareBatch(commands: readonly Command[], context: PrepareContext): PreparedBatch {
  // Each key is looked up once per batch (null: known absent), then follows the batch's own ops.
  const overlay = new Map<string, KeyHead | null>();
  const head = (key: string): KeyHead | undefined => {
    let found = overlay.get(key);
    if (found === undefined) {
      found = context.head(key) ?? null;
      overlay.set(key, found);
    }
    return found ?? undefined;
  };
  const outcomes: CommandOutcome[] = [];
  const accepted: { slot: number; applied: AppliedOp[] }[] = [];
  const all: AppliedOp[] = [];
  const replays: PreparedBatch["replays"] = [];
  // Only a batch with a keyed command pays for idempotency (idempotent-apply.ts).
  const keyed = commands.some((c) => c.idempotency !== undefined) ? new IdempotencyOverlay(context.idempotency, context.hasher) : undefined;
  let nextIndex = context.nextIndex;
  for (const command of commands) {
    const verdict = command.idempotency ? keyed!.judge(command) : undefined;
    if (verdict && verdict.kind !== "fresh") {
      if (verdict.kind === "replay") replays.push({ slot: outcomes.length, record: verdict.record });
      outcomes.push(verdict.kind === "replay" ? { ok: true, receipts: [], replayed: true } : { ok: false, error: keyReusedError(verdict.record) });
      continue;
    }
    const result = applyCommand(command, { nextIndex, head });
    if (!result.ok) {
      context.counters.refusedCommands++;
      outcomes.push({ ok: false, error: new ScribeError(result.code, result.message, { key: result.key, op_index: result.opIndex }) });
      continue;
    }
    for (const a of result.applied) {
      overlay.set(a.entry.key, a.entry); // an entry is its key's head
      all.push(a);
    }
    if (command.idempotency) keyed!.accepted(command, nextIndex, nextIndex + result.applied.length - 1);
    nextIndex += result.applied.length;
    accepted.push({ slot: outcomes.length, applied: result.applied });
    outcomes.push({ ok: true, receipts: [] });
  }
  const leafHashes = all.length > 0 ? hashEntryLeaves(all, context.hasher) : new Uint8Array(0);
  return { outcomes, accepted, all, leafHashes, sizeAfter: nextIndex, records: keyed?.records ?? [], replays };
}

/** The leaf hashes of the applied ops' entries: encoded into one buffer, each behind its leaf prefix. */
function hashEntryLeaves(all: readonly AppliedOp[], hasher: Hasher): Uint8Array {
  const { packed, ends } = encodeEntriesPacked(all.map((a) => a.entry));
  return hasher.hashLeavesPacked(packed, ends);
}
