/**
 * The idempotency window is a function of the commands alone, whatever the apply batches: the same
 * keyed commands (replays, reuse, refusals, a leader clock going back, expiry by time and by
 * count) applied one per batch, all in one batch, or in other groupings on real SQLite ledgers
 * give the same outcomes, the same log and the same live records — and a ledger rebuilt from the
 * entries and the log, as a follower catching up by ledger range does (replay.ts), ends the same.
 */
import { expect, test } from "bun:test";
import type { LedgerState } from "../../src/cluster/ledger-state.ts";
import type { CommandOutcome } from "../../src/cluster/prepare-batch.ts";
import { replayEntries, type ReplayRecord } from "../../src/cluster/replay.ts";
import { isLiveRecord, type Command } from "../../src/ledger/index.ts";
import { toHex, utf8 } from "../../src/lib/index.ts";
import { tempLedgers } from "./ledger-support.ts";

const openLedger = tempLedgers();

function put(key: string, value: string, ifMatch?: number) {
  const bytes = utf8(value);
  return { op: "put" as const, key, value: bytes, valueHash: Bun.SHA256.hash(bytes) as Uint8Array, contentType: "text/plain", ...(ifMatch === undefined ? {} : { ifMatch }) };
}

function keyed(key: string, timestampMs: number, ops: Command["ops"], keysMax = 3): Command {
  return { timestampMs, ops, idempotency: { key, windowSecs: 10, keysMax } };
}

/** Replays, reuse, a refusal, a clock going back, expiry by time (10 s) and by count (3). */
const commands: Command[] = [
  keyed("a", 1_000, [put("x", "1")]),
  keyed("a", 2_000, [put("x", "1")]), // replay
  { timestampMs: 2_500, ops: [put("y", "plain")] },
  keyed("a", 3_000, [put("x", "2")]), // reused
  keyed("b", 500, [put("x", "2"), put("z", "3")]), // a leader clock behind: recorded at the clock, 1 000
  keyed("c", 4_000, [put("x", "9", 7)]), // refused (412): no record
  keyed("c", 4_100, [put("x", "9")]),
  keyed("d", 4_200, [put("w", "1")]), // the fourth record: "a" is no longer live
  keyed("a", 4_300, [put("x", "1")]), // fresh again
  keyed("b", 14_000, [put("x", "2"), put("z", "3")]), // past "b"'s expiry (1 000 + 10 s): fresh again
  keyed("e", 14_001, [put("x", "2"), put("z", "3")]), // the same ops under a new key: appended
  keyed("e", 14_002, [put("x", "2"), put("z", "3")]), // replay of the two-op batch
];

function apply(ledger: LedgerState, groups: number[]): CommandOutcome[] {
  const outcomes: CommandOutcome[] = [];
  let at = 0;
  for (const count of groups) {
    const batch = ledger.prepare(commands.slice(at, at + count));
    ledger.store.transaction(() => ledger.write(batch));
    outcomes.push(...ledger.commit(batch));
    at += count;
  }
  expect(at).toBe(commands.length);
  return outcomes;
}

const describeOutcome = (o: CommandOutcome) => (o.ok ? { receipts: o.receipts, replayed: o.replayed === true } : { code: o.error.code });

function tables(ledger: LedgerState) {
  const db = ledger.store.db;
  const clock = ledger.idempotency.clock();
  const window = db
    .query<{ idem_key: string; seq: number; first_idx: number; last_idx: number; expires_ms: number; expires_seq: number; fingerprint: Uint8Array; recorded_ms: number }, []>("SELECT * FROM idempotency ORDER BY seq")
    .all()
    .filter((r) => isLiveRecord({ key: r.idem_key, fingerprint: r.fingerprint, firstIndex: r.first_idx, lastIndex: r.last_idx, seq: r.seq, recordedMs: r.recorded_ms, expiresMs: r.expires_ms, expiresSeq: r.expires_seq }, clock.clockMs, clock.seq))
    .map((r) => ({ ...r, fingerprint: toHex(r.fingerprint) }));
  const log = db.query<Record<string, unknown>, []>("SELECT * FROM idempotency_log ORDER BY first_idx").all().map((r) => ({ ...r, fingerprint: toHex(r.fingerprint as Uint8Array) }));
  return { clock, window, log, size: ledger.size };
}

test("the same keyed commands in any apply batches give the same outcomes and the same window", async () => {
  const groupings = [commands.map(() => 1), [commands.length], [2, 3, 1, 4, 2], [5, 5, 2]];
  const results = [];
  for (const groups of groupings) {
    const ledger = await openLedger();
    results.push({ outcomes: apply(ledger, groups).map(describeOutcome), tables: tables(ledger) });
  }
  const [reference] = results;
  expect(reference!.outcomes.map((o) => ("code" in o ? o.code : o.replayed ? "replay" : "ok"))).toEqual([
    "ok",
    "replay",
    "ok",
    "idempotency_key_reused",
    "ok",
    "precondition_failed",
    "ok",
    "ok",
    "ok",
    "ok",
    "ok",
    "replay",
  ]);
  // A replay answers the original receipts exactly, tree_size included.
  const outcomes = reference!.outcomes as Record<string, unknown>[];
  expect(outcomes[1]).toEqual({ ...outcomes[0]!, replayed: true });
  expect(outcomes[11]).toEqual({ ...outcomes[10]!, replayed: true });
  expect(reference!.tables.log).toHaveLength(7);
  // Live at the end (clock 14 001, 7 records, keysMax 3): the records 5, 6 and 7.
  expect(reference!.tables.window.map((r) => [r.idem_key, r.seq])).toEqual([
    ["a", 5],
    ["b", 6],
    ["e", 7],
  ]);
  for (const other of results.slice(1)) expect(other).toEqual(reference!);
});

test("a ledger rebuilt from the entries and the log (catch-up by ledger range) ends with the same window", async () => {
  const source = await openLedger();
  apply(source, [3, 3, 3, 3]);
  const follower = await openLedger();
  // In pages, as catch-up fetches them: each page with the records of the commands starting in it.
  for (let from = 0; from < source.size; from += 4) {
    const page: ReplayRecord[] = [];
    for (const entry of source.entries(from, 4)) page.push({ entry, value: await source.valueAt(entry), leafHash: toHex(source.tree.leafHash(entry.index)) });
    replayEntries(follower, page, "test source", source.idempotency.range(from, from + page.length));
  }
  expect(tables(follower)).toEqual(tables(source));
  // A record out of sequence is refused with nothing kept.
  const extra = await openLedger();
  const first: ReplayRecord[] = [];
  for (const entry of source.entries(0, 1)) first.push({ entry, value: await source.valueAt(entry), leafHash: toHex(source.tree.leafHash(entry.index)) });
  const record = source.idempotency.range(0, 1)[0]!;
  expect(() => replayEntries(extra, first, "test source", [{ ...record, seq: 2 }])).toThrow(/does not follow record 0/);
  expect(extra.size).toBe(0);
});
