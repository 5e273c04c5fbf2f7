import { describe, expect, test } from "bun:test";
import { applyCommand, decodeCommand, decodeCommandList, encodeCommand, encodeCommandList, type Command, type KeyHead, type LedgerView } from "../../src/ledger/index.ts";
import { utf8 } from "../../src/lib/index.ts";

function put(key: string, value: string, extra: Record<string, unknown> = {}) {
  const bytes = utf8(value);
  return { op: "put" as const, key, value: bytes, valueHash: Bun.SHA256.hash(bytes) as Uint8Array, contentType: "text/plain", ...extra };
}

function view(nextIndex: number, heads: Record<string, KeyHead> = {}): LedgerView {
  return { nextIndex, head: (key) => heads[key] };
}

describe("applyCommand", () => {
  test("assigns consecutive indexes, versions and prevIndex links within a batch", () => {
    const result = applyCommand({ timestampMs: 10, ops: [put("a", "1"), put("b", "2"), put("a", "3"), { op: "delete", key: "b" }] }, view(5));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.applied.map((a) => [a.entry.index, a.entry.key, a.entry.version, a.entry.prevIndex, a.entry.op])).toEqual([
      [5, "a", 1, -1, "put"],
      [6, "b", 1, -1, "put"],
      [7, "a", 2, 5, "put"],
      [8, "b", 2, 6, "delete"],
    ]);
    expect(result.applied.every((a) => a.entry.timestampMs === 10)).toBe(true);
  });

  test("continues a key's chain from its head", () => {
    const result = applyCommand({ timestampMs: 1, ops: [put("a", "x")] }, view(10, { a: { index: 4, version: 3, op: "delete" } }));
    expect(result.ok && result.applied[0]!.entry.version).toBe(4);
    expect(result.ok && result.applied[0]!.entry.prevIndex).toBe(4);
  });

  test("refuses the whole batch when one precondition fails", () => {
    const heads = { a: { index: 0, version: 1, op: "put" as const } };
    const r1 = applyCommand({ timestampMs: 1, ops: [put("b", "1"), put("a", "2", { ifMatch: 2 })] }, view(1, heads));
    expect(r1).toMatchObject({ ok: false, code: "precondition_failed", opIndex: 1, key: "a" });
    const r2 = applyCommand({ timestampMs: 1, ops: [put("a", "2", { ifNoneMatch: true })] }, view(1, heads));
    expect(r2).toMatchObject({ ok: false, code: "precondition_failed" });
    const r3 = applyCommand({ timestampMs: 1, ops: [{ op: "delete", key: "zzz" }] }, view(1, heads));
    expect(r3).toMatchObject({ ok: false, code: "not_found" });
    const r4 = applyCommand({ timestampMs: 1, ops: [put("a", "2", { ifMatch: 1 }), put("new", "x", { ifMatch: 0 })] }, view(1, heads));
    expect(r4.ok).toBe(true);
  });

  test("a deleted key counts as absent for If-None-Match and delete", () => {
    const heads = { a: { index: 3, version: 2, op: "delete" as const } };
    expect(applyCommand({ timestampMs: 1, ops: [put("a", "x", { ifNoneMatch: true })] }, view(4, heads)).ok).toBe(true);
    expect(applyCommand({ timestampMs: 1, ops: [{ op: "delete", key: "a" }] }, view(4, heads)).ok).toBe(false);
  });

  test("commands round-trip through their binary codec", () => {
    const command: Command = { timestampMs: 42, ops: [put("k", "v", { ifMatch: 3 }), put("n", "", { ifNoneMatch: true }), { op: "delete", key: "d", ifMatch: 1 }] };
    const decoded = decodeCommand(encodeCommand(command));
    expect(decoded.timestampMs).toBe(42);
    expect(decoded.ops.map((o) => ({ ...o }))).toEqual(command.ops.map((o) => ({ ...o })));
    expect(() => decodeCommand(encodeCommand(command).subarray(0, 20))).toThrow(RangeError);
  });

  test("command lists round-trip, each command encoded as on its own", () => {
    const commands: Command[] = [0, 1, 2].map((i) => ({ timestampMs: 40 + i, ops: [put(`k${i}`, "v", { ifMatch: i }), { op: "delete", key: "d" }] }));
    const decoded = decodeCommandList(encodeCommandList(commands));
    expect(decoded.map((c) => encodeCommand(c))).toEqual(commands.map((c) => encodeCommand(c)));
  });
});
