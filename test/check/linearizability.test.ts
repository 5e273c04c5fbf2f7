import { describe, expect, test } from "bun:test";
import { SeededRandom } from "../../src/lib/index.ts";
import { checkKvHistory, type Operation } from "../../src/check/index.ts";

let client = 0;
function op(kind: Operation["kind"], key: string, callMs: number, returnMs: number, extra: Partial<Operation> = {}): Operation {
  return { clientId: client++, key, kind, callMs, returnMs, ...extra };
}
const put = (key: string, value: string, call: number, ret: number, extra: Partial<Operation> = {}) =>
  op("put", key, call, ret, { value, ...extra });
const get = (key: string, output: string | null, call: number, ret: number) => op("get", key, call, ret, { output });
const del = (key: string, call: number, ret: number, extra: Partial<Operation> = {}) => op("delete", key, call, ret, extra);

describe("accepts linearizable histories", () => {
  test("empty history and reads of an absent key", () => {
    expect(checkKvHistory([]).ok).toBe(true);
    expect(checkKvHistory([get("a", null, 0, 1)]).ok).toBe(true);
  });

  test("sequential put, get, delete, get", () => {
    const h = [put("a", "1", 0, 1), get("a", "1", 2, 3), del("a", 4, 5), get("a", null, 6, 7)];
    expect(checkKvHistory(h)).toMatchObject({ ok: true, result: "ok", keysChecked: 1 });
  });

  test("a read concurrent with a write may see either value", () => {
    const base = [put("a", "1", 0, 1), put("a", "2", 2, 10)];
    expect(checkKvHistory([...base, get("a", "1", 3, 4)]).ok).toBe(true);
    expect(checkKvHistory([...base, get("a", "2", 3, 4)]).ok).toBe(true);
  });

  test("concurrent writes: reads must agree on one order", () => {
    const h = [put("a", "x", 0, 10), put("a", "y", 0, 10), get("a", "y", 11, 12), get("a", "y", 13, 14)];
    expect(checkKvHistory(h).ok).toBe(true);
  });

  test("an unknown write may take effect late or never", () => {
    const late = [put("a", "1", 0, 1), put("a", "2", 2, 0, { unknown: true }), get("a", "1", 5, 6), get("a", "2", 7, 8)];
    expect(checkKvHistory(late).ok).toBe(true);
    const never = [put("a", "1", 0, 1), put("a", "2", 2, 0, { unknown: true }), get("a", "1", 5, 6)];
    expect(checkKvHistory(never).ok).toBe(true);
  });

  test("independent keys are checked separately", () => {
    const h = [put("a", "1", 0, 1), put("b", "2", 0, 1), get("a", "1", 2, 3), get("b", "2", 2, 3)];
    expect(checkKvHistory(h)).toMatchObject({ ok: true, keysChecked: 2 });
  });

  test("a long random sequential history from a real map is accepted", () => {
    const random = new SeededRandom(7);
    const model = new Map<string, string>();
    const h: Operation[] = [];
    for (let t = 0; t < 2000; t++) {
      const key = `k${random.int(3)}`;
      const r = random.int(3);
      if (r === 0) {
        model.set(key, `v${t}`);
        h.push(put(key, `v${t}`, t * 2, t * 2 + 1));
      } else if (r === 1) {
        model.delete(key);
        h.push(del(key, t * 2, t * 2 + 1));
      } else h.push(get(key, model.get(key) ?? null, t * 2, t * 2 + 1));
    }
    expect(checkKvHistory(h).ok).toBe(true);
  });

  test("overlapping concurrent clients over a shared register", () => {
    // Three clients, each op overlaps its neighbours; the real order is put1, put2, put3.
    const h = [put("a", "1", 0, 3), get("a", "1", 1, 4), put("a", "2", 2, 6), get("a", "2", 5, 8), put("a", "3", 7, 9), get("a", "3", 10, 11)];
    expect(checkKvHistory(h).ok).toBe(true);
  });
});

describe("rejects known violations", () => {
  test("stale read: a read after a completed write returns the old value", () => {
    const h = [put("a", "1", 0, 1), put("a", "2", 2, 3), get("a", "1", 4, 5)];
    expect(checkKvHistory(h)).toMatchObject({ ok: false, result: "violation", violatingKey: "a" });
  });

  test("lost write: an acknowledged write never becomes visible", () => {
    const h = [put("a", "1", 0, 1), get("a", null, 2, 3)];
    expect(checkKvHistory(h)).toMatchObject({ ok: false, result: "violation" });
  });

  test("read of a value never written", () => {
    const h = [put("a", "1", 0, 1), get("a", "ghost", 2, 3)];
    expect(checkKvHistory(h)).toMatchObject({ ok: false, result: "violation" });
  });

  test("read of a deleted value after the delete returned", () => {
    const h = [put("a", "1", 0, 1), del("a", 2, 3), get("a", "1", 4, 5)];
    expect(checkKvHistory(h).ok).toBe(false);
  });

  test("two readers disagree on the order of two concurrent writes", () => {
    const h = [
      put("a", "x", 0, 10),
      put("a", "y", 0, 10),
      get("a", "x", 11, 12),
      get("a", "y", 13, 14),
      get("a", "x", 15, 16),
    ];
    expect(checkKvHistory(h).ok).toBe(false);
  });

  test("a value read, then an older value read (non-monotonic) by another client", () => {
    const h = [put("a", "1", 0, 1), put("a", "2", 2, 20), get("a", "2", 3, 4), get("a", "1", 5, 6)];
    expect(checkKvHistory(h).ok).toBe(false);
  });

  test("an unknown write does not excuse a read of a value never written", () => {
    const h = [put("a", "1", 0, 0, { unknown: true }), get("a", "2", 5, 6)];
    expect(checkKvHistory(h).ok).toBe(false);
  });

  test("only the violating key is reported", () => {
    const h = [put("a", "1", 0, 1), get("a", "1", 2, 3), put("b", "1", 0, 1), get("b", "0", 2, 3)];
    expect(checkKvHistory(h)).toMatchObject({ ok: false, violatingKey: "b" });
  });
});

describe("bounded search", () => {
  test("a step limit reports timeout, not violation", () => {
    const h: Operation[] = [];
    for (let i = 0; i < 24; i++) h.push(put("a", `${i}`, 0, 100));
    h.push(get("a", "nothing", 101, 102)); // forces a full search before failing
    const r = checkKvHistory(h, { stepsMax: 1000 });
    expect(r).toMatchObject({ ok: false, result: "timeout", timedOutKey: "a" });
  });
});

/** Naive reference: tries every permutation that respects real-time order. */
function bruteForce(ops: Operation[]): boolean {
  const n = ops.length;
  const used = new Array<boolean>(n).fill(false);
  const ret = (o: Operation) => (o.unknown ? Infinity : o.returnMs);
  const search = (depth: number, state: string | null): boolean => {
    if (depth === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      // i may go next only if no unused op returned strictly before i was called.
      if (ops.some((o, j) => !used[j] && j !== i && ret(o) < ops[i]!.callMs)) continue;
      const o = ops[i]!;
      let next = state;
      if (o.kind === "put") next = o.value!;
      else if (o.kind === "delete") next = null;
      else if (!o.unknown && (o.output ?? null) !== state) continue;
      used[i] = true;
      if (search(depth + 1, next)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(0, null);
}

test("agrees with a brute-force reference on 3000 random small histories", () => {
  const random = new SeededRandom(42);
  let violations = 0;
  for (let round = 0; round < 3000; round++) {
    const ops: Operation[] = [];
    const n = 1 + random.int(6);
    for (let i = 0; i < n; i++) {
      const call = random.int(20);
      const ret = call + random.int(8);
      const r = random.int(4);
      const unknown = random.int(8) === 0;
      if (r === 0) ops.push(put("k", `${random.int(3)}`, call, ret, { unknown }));
      else if (r === 1) ops.push(del("k", call, ret, { unknown }));
      else ops.push(get("k", random.int(4) === 0 ? null : `${random.int(3)}`, call, ret));
    }
    const expected = bruteForce(ops);
    if (!expected) violations++;
    expect({ round, ok: checkKvHistory(ops).ok }).toEqual({ round, ok: expected });
  }
  expect(violations).toBeGreaterThan(100); // the generator does produce violations
});

test("a concurrent linearizable history (64 clients over 16 keys) checks well within the bound", () => {
  // Linearizable by construction: each operation takes effect at an instant inside its interval.
  const random = new SeededRandom(64);
  const ops: (Operation & { at: number })[] = [];
  const nextFree = new Array<number>(64).fill(0);
  for (let i = 0; i < 3000; i++) {
    const c = random.int(64);
    const callMs = nextFree[c]! + random.int(5);
    const at = callMs + 1 + random.int(20);
    const returnMs = at + 1 + random.int(20);
    nextFree[c] = returnMs + 1;
    const k = random.int(3);
    ops.push({ clientId: c, key: `k${random.int(16)}`, kind: k === 0 ? "put" : k === 1 ? "delete" : "get", value: `v${i}`, callMs, returnMs, at });
  }
  const state = new Map<string, string>();
  for (const o of [...ops].sort((a, b) => a.at - b.at)) {
    if (o.kind === "put") state.set(o.key, o.value!);
    else if (o.kind === "delete") state.delete(o.key);
    else o.output = state.get(o.key) ?? null;
  }
  expect(checkKvHistory(ops)).toMatchObject({ ok: true, keysChecked: 16 });
  // Corrupt one read: the same history must now be rejected.
  const victim = ops.find((o) => o.kind === "get" && o.output !== null)!;
  victim.output = "never written";
  expect(checkKvHistory(ops)).toMatchObject({ ok: false, result: "violation", violatingKey: victim.key });
});
