/**
 * Idempotency keys in the pure core (src/ledger/idempotency.ts) and the command format that
 * carries them (src/ledger/command.ts, version 2): version 1 commands are written and read exactly
 * as before; a record is live by its own expiries against the clock and count, which never go back.
 */
import { describe, expect, test } from "bun:test";
import {
  decodeCommand,
  emptyIdempotencyClock,
  encodeCommand,
  fingerprintBytes,
  idempotencyKeyProblem,
  isLiveRecord,
  judgeIdempotent,
  makeRecord,
  recordSequenceProblem,
  type Command,
  type IdempotencyClock,
  type IdempotencyRecord,
} from "../../src/ledger/index.ts";
import { toHex, utf8 } from "../../src/lib/index.ts";

function put(key: string, value: string, extra: Record<string, unknown> = {}) {
  const bytes = utf8(value);
  return { op: "put" as const, key, value: bytes, valueHash: Bun.SHA256.hash(bytes) as Uint8Array, contentType: "text/plain", ...extra };
}

const fp = (command: Command) => Bun.SHA256.hash(fingerprintBytes(command.ops)) as Uint8Array;

function keyed(key: string, timestampMs: number, ops: Command["ops"] = [put("a", "1")], windowSecs = 60, keysMax = 100): Command {
  return { timestampMs, ops, idempotency: { key, windowSecs, keysMax } };
}

describe("the command format", () => {
  test("a command without a key is version 1, byte for byte as before idempotency keys existed", () => {
    const command: Command = { timestampMs: 1700000000123, ops: [put("k/é", "hello", { ifMatch: 3 }), { op: "delete", key: "gone" }] };
    // Encoded by the encoder of the commit before version 2 (main at 8c59c18).
    const v1 =
      "010000018bcfe5687b0000000200010000000000000003000000046b2fc3a9000a746578742f706c61696e2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240000000568656c6c6f010000000004676f6e65";
    expect(toHex(encodeCommand(command))).toBe(v1);
    const decoded = decodeCommand(encodeCommand(command));
    expect(decoded.idempotency).toBeUndefined();
    expect(decoded.ops.map((o) => o.key)).toEqual(["k/é", "gone"]);
  });

  test("a keyed command is version 2: the ops as in version 1, then the key and its window", () => {
    const command = keyed("retry-ß-1", 42, [put("a", "x"), { op: "delete", key: "b", ifMatch: 1 }], 86400, 1_000_000);
    const bytes = encodeCommand(command);
    expect(bytes[0]).toBe(2);
    const v1Length = encodeCommand({ timestampMs: 42, ops: command.ops }).length;
    expect(bytes.length).toBe(v1Length + 1 + 2 + utf8("retry-ß-1").length + 8);
    expect(decodeCommand(bytes)).toMatchObject({ timestampMs: 42, idempotency: { key: "retry-ß-1", windowSecs: 86400, keysMax: 1_000_000 } });
    const unknownExtension = bytes.slice();
    unknownExtension[v1Length] = 3;
    expect(() => decodeCommand(unknownExtension)).toThrow(/unknown command extensions 3/);
    expect(() => decodeCommand(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    expect(() => decodeCommand(Uint8Array.of(3, ...bytes.subarray(1)))).toThrow(/unknown command version 3/);
  });
});

describe("idempotency keys", () => {
  test("a key is 1..255 bytes of printable UTF-8", () => {
    expect(idempotencyKeyProblem("a")).toBeUndefined();
    expect(idempotencyKeyProblem("é".repeat(127))).toBeUndefined(); // 254 bytes
    expect(idempotencyKeyProblem("x".repeat(255))).toBeUndefined();
    expect(idempotencyKeyProblem("")).toMatch(/empty/);
    expect(idempotencyKeyProblem("x".repeat(256))).toMatch(/256 bytes; the most is 255/);
    expect(idempotencyKeyProblem("é".repeat(128))).toMatch(/256 bytes/);
    expect(idempotencyKeyProblem("a\tb")).toMatch(/control character/);
    expect(idempotencyKeyProblem("a\u0085b")).toMatch(/control character/);
    expect(idempotencyKeyProblem("a\uD800")).toMatch(/not valid UTF-8/);
  });

  test("the fingerprint covers op, key, content type, preconditions and value hash, never the value bytes", () => {
    const base = fingerprintBytes([put("a", "1")]);
    expect(toHex(fingerprintBytes([put("a", "1")]))).toBe(toHex(base));
    for (const other of [[put("b", "1")], [put("a", "2")], [put("a", "1", { contentType: "x/y" })], [put("a", "1", { ifMatch: 0 })], [put("a", "1", { ifNoneMatch: true })], [put("a", "1"), put("a", "1")], [{ op: "delete" as const, key: "a" }]]) {
      expect(toHex(fingerprintBytes(other))).not.toBe(toHex(base));
    }
    expect(fingerprintBytes([put("a", "x".repeat(10_000))]).length).toBe(base.length);
  });

  test("fresh, then a replay of the same request, and a refusal of another request under the same key", () => {
    const first = keyed("k1", 1000);
    expect(judgeIdempotent(undefined, fp(first), emptyIdempotencyClock, first)).toEqual({ kind: "fresh" });
    const { record, clock } = makeRecord(emptyIdempotencyClock, first, fp(first), 10, 10);
    expect(record).toMatchObject({ key: "k1", firstIndex: 10, lastIndex: 10, seq: 1, recordedMs: 1000, expiresMs: 61_000, expiresSeq: 101 });
    expect(clock).toEqual({ clockMs: 1000, seq: 1 });
    const retry = keyed("k1", 5000);
    expect(judgeIdempotent(record, fp(retry), clock, retry)).toEqual({ kind: "replay", record });
    const other = keyed("k1", 5000, [put("a", "2")]);
    expect(judgeIdempotent(record, fp(other), clock, other)).toEqual({ kind: "reused", record });
  });

  test("a record lives windowSecs of command time and keysMax records; the clock never goes back", () => {
    const first = keyed("k1", 1000, undefined, 60, 3);
    let { record, clock } = makeRecord(emptyIdempotencyClock, first, fp(first), 0, 0);
    // Judged at max(clock, timestamp): a leader whose clock is behind does not revive or extend anything.
    expect(judgeIdempotent(record, fp(first), clock, keyed("k1", 60_999)).kind).toBe("replay");
    expect(judgeIdempotent(record, fp(first), clock, keyed("k1", 61_000)).kind).toBe("fresh");
    const later = makeRecord(clock, keyed("k2", 70_000), fp(first), 1, 1);
    expect(judgeIdempotent(record, fp(first), later.clock, keyed("k1", 500)).kind).toBe("fresh"); // clock 70 000 > 61 000
    expect(later.record.recordedMs).toBe(70_000);
    const behind = makeRecord(later.clock, keyed("k3", 10), fp(first), 2, 2);
    expect(behind.record.recordedMs).toBe(70_000); // never back

    // By count: keysMax 3 keeps a record live while fewer than 3 records were made since it, itself included.
    clock = emptyIdempotencyClock;
    const records: IdempotencyRecord[] = [];
    for (let i = 0; i < 4; i++) {
      const made = makeRecord(clock, keyed(`c${i}`, 1000, undefined, 60, 3), fp(first), i, i);
      records.push(made.record);
      clock = made.clock;
      record = made.record;
    }
    expect(records.map((r) => isLiveRecord(r, clock.clockMs, clock.seq))).toEqual([false, true, true, true]);
  });

  test("records received from another node must continue this node's sequence", () => {
    const clock: IdempotencyClock = { clockMs: 5000, seq: 7 };
    const good: IdempotencyRecord = { key: "k", fingerprint: new Uint8Array(32), firstIndex: 3, lastIndex: 4, seq: 8, recordedMs: 5000, expiresMs: 6000, expiresSeq: 10 };
    expect(recordSequenceProblem(clock, good)).toBeUndefined();
    expect(recordSequenceProblem(clock, { ...good, seq: 9 })).toMatch(/does not follow record 7/);
    expect(recordSequenceProblem(clock, { ...good, recordedMs: 4999 })).toMatch(/clock back/);
    expect(recordSequenceProblem(clock, { ...good, expiresSeq: 8 })).toMatch(/bad expiries/);
    expect(recordSequenceProblem(clock, { ...good, lastIndex: 2 })).toMatch(/bad range/);
    expect(recordSequenceProblem(clock, { ...good, key: "" })).toMatch(/empty/);
  });
});
