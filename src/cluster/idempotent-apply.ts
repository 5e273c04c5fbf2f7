/**
 * @module idempotent-apply. The idempotency keys of one batch of commands as LedgerState.prepare
 * runs them through the state machine: each keyed command is judged (src/ledger/idempotency.ts)
 * against the records of earlier commands of the same batch first, then against the stored
 * window (storage/idempotency.ts, one indexed lookup), and an accepted keyed command makes the
 * record that `write` keeps in the batch's transaction. Commands without a key never get here,
 * so they cost nothing more.
 */

import { fingerprintBytes, judgeIdempotent, makeRecord, type Command, type IdempotencyClock, type IdempotencyRecord, type IdempotencyVerdict } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { Hasher } from "../merkle/index.ts";
import type { IdempotencyStore } from "../storage/index.ts";

export class IdempotencyOverlay {
  /** Records made by this batch's accepted commands, in order: `write` keeps them. */
  readonly records: IdempotencyRecord[] = [];
  private readonly made = new Map<string, IdempotencyRecord>();
  private clock: IdempotencyClock;
  private readonly fingerprints = new Map<Command, Uint8Array>();

  constructor(
    private readonly store: IdempotencyStore,
    private readonly hasher: Pick<Hasher, "digest">,
  ) {
    this.clock = store.clock();
  }

  /** The verdict on a keyed command, seeing the records of earlier commands of this batch. */
  judge(command: Command): IdempotencyVerdict {
    const key = command.idempotency!.key;
    const fingerprint = this.hasher.digest(fingerprintBytes(command.ops));
    this.fingerprints.set(command, fingerprint);
    return judgeIdempotent(this.made.get(key) ?? this.store.lookup(key), fingerprint, this.clock, command);
  }

  /** A judged keyed command was accepted and appended [firstIndex, lastIndex]: its record. */
  accepted(command: Command, firstIndex: number, lastIndex: number): void {
    const fingerprint = this.fingerprints.get(command)!;
    const { record, clock } = makeRecord(this.clock, command, fingerprint, firstIndex, lastIndex);
    this.clock = clock;
    this.made.set(record.key, record);
    this.records.push(record);
  }
}

/** The refusal of a key used before, within its window, by another request. */
export function keyReusedError(record: IdempotencyRecord): ScribeError {
  return new ScribeError(
    "idempotency_key_reused",
    `the idempotency key ${JSON.stringify(record.key)} was used for a different request (entries ${record.firstIndex}..${record.lastIndex}); use a new key for a new request`,
    { first_index: record.firstIndex, last_index: record.lastIndex },
  );
}
