/**
 * @module check/linearizability. A linearizability checker for key-value histories, after
 * Wing & Gong's search with Lowe's memoization, partitioned per key as porcupine does.
 *
 * Model: each key holds a value (string) or is absent (null). Operations:
 * - put(key, value): sets the value; its output is not checked.
 * - delete(key): makes the key absent; its output is not checked.
 * - get(key): must return the current value (`output`, null when absent).
 *
 * An operation whose outcome is unknown (`unknown: true`: the client timed out, the node
 * crashed) may or may not have taken effect: it is treated as returning at +infinity, so the
 * search may place it anywhere after its call, including after every other operation (which is
 * the same as never taking effect). An unknown get constrains nothing.
 *
 * Times are any comparable numbers (e.g. ms or simulator steps). Operation a precedes b in real
 * time iff a.returnMs < b.callMs; equal times count as concurrent.
 *
 * Keys are independent (a history is linearizable iff each key's sub-history is), so each key
 * is checked alone. The search is bounded by `stepsMax` (per key); when it is exhausted the
 * result is "timeout", reported distinctly from "violation" (which is a proof that no
 * linearization exists).
 *
 * Cost: the search is exponential in the number of operations concurrent on one key (every
 * subset of a concurrent window may be explored). Measured on this machine with 3000 operations:
 * 64 clients over 16 keys (about 4 concurrent per key) checks in ~15 ms; 64 clients over 8 keys
 * (~8 per key) in ~0.3 s; 32 clients over 2 keys (~16 per key) exhausts the default bound. Spread
 * clients over keys so that fewer than ~10 operations overlap on any one key.
 */

export type KvKind = "put" | "get" | "delete";

export interface Operation {
  clientId: number;
  key: string;
  kind: KvKind;
  /** put: the value written. */
  value?: string;
  /** get: the value read, null when absent. */
  output?: string | null;
  callMs: number;
  /** Ignored when `unknown` (taken as +infinity). */
  returnMs: number;
  unknown?: boolean;
}

export type CheckResult =
  | { ok: true; result: "ok"; keysChecked: number; steps: number }
  | { ok: false; result: "violation"; violatingKey: string; operations: Operation[]; keysChecked: number; steps: number }
  | { ok: false; result: "timeout"; timedOutKey: string; keysChecked: number; steps: number };

/** Default search bound per key: enough for thousands of mostly sequential operations. */
export const checkStepsMaxDefault = 5_000_000;

export interface CheckOptions {
  stepsMax?: number;
}

type KvState = string | null;

interface EventNode {
  isCall: boolean;
  op: number;
  /** For a call: its return event. */
  match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

/** Applies an operation to the model; returns undefined when the operation is impossible. */
function stepModel(state: KvState, op: Operation): { state: KvState } | undefined {
  switch (op.kind) {
    case "put":
      return { state: op.value ?? "" };
    case "delete":
      return { state: null };
    case "get":
      if (op.unknown) return { state };
      return (op.output ?? null) === state ? { state } : undefined;
  }
}

function returnTime(op: Operation): number {
  return op.unknown ? Number.POSITIVE_INFINITY : op.returnMs;
}

/** Builds the doubly linked event list (calls before returns at equal times); returns the head sentinel. */
function buildEvents(ops: readonly Operation[]): EventNode {
  const events: { time: number; isCall: boolean; op: number }[] = [];
  ops.forEach((op, i) => {
    events.push({ time: op.callMs, isCall: true, op: i });
    events.push({ time: returnTime(op), isCall: false, op: i });
  });
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: EventNode = { isCall: false, op: -1, match: null, prev: null, next: null };
  const calls = new Map<number, EventNode>();
  let tail = head;
  for (const e of events) {
    const node: EventNode = { isCall: e.isCall, op: e.op, match: null, prev: tail, next: null };
    tail.next = node;
    tail = node;
    if (e.isCall) calls.set(e.op, node);
    else calls.get(e.op)!.match = node;
  }
  return head;
}

function lift(call: EventNode): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: EventNode): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** Checks one key's operations. Returns "ok", "violation" or "timeout" and the steps used. */
export function checkKeyHistory(ops: readonly Operation[], stepsMax = checkStepsMaxDefault): { result: "ok" | "violation" | "timeout"; steps: number } {
  if (ops.length === 0) return { result: "ok", steps: 0 };
  const head = buildEvents(ops);
  const words = Math.ceil(ops.length / 32);
  const linearized = new Uint32Array(words);
  const cache = new Map<string, KvState[]>();
  const stack: { call: EventNode; state: KvState }[] = [];
  let state: KvState = null;
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > stepsMax) return { result: "timeout", steps };
    if (entry === null) return { result: "violation", steps }; // defensive: list exhausted
    if (entry.isCall) {
      const next = stepModel(state, ops[entry.op]!);
      if (next !== undefined) {
        const bit = entry.op;
        linearized[bit >>> 5]! |= 1 << (bit & 31);
        const key = linearized.join(",");
        const seen = cache.get(key);
        if (seen === undefined || !seen.includes(next.state)) {
          if (seen === undefined) cache.set(key, [next.state]);
          else seen.push(next.state);
          stack.push({ call: entry, state });
          state = next.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[bit >>> 5]! &= ~(1 << (bit & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: backtrack.
      const top = stack.pop();
      if (top === undefined) return { result: "violation", steps };
      state = top.state;
      const bit = top.call.op;
      linearized[bit >>> 5]! &= ~(1 << (bit & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { result: "ok", steps };
}

/** Checks a whole key-value history, key by key (keys in sorted order, for determinism). */
export function checkKvHistory(ops: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const stepsMax = options.stepsMax ?? checkStepsMaxDefault;
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    const list = byKey.get(op.key);
    if (list) list.push(op);
    else byKey.set(op.key, [op]);
  }
  let steps = 0;
  let keysChecked = 0;
  for (const key of [...byKey.keys()].sort()) {
    const keyOps = byKey.get(key)!;
    const r = checkKeyHistory(keyOps, stepsMax);
    steps += r.steps;
    keysChecked++;
    if (r.result === "violation") return { ok: false, result: "violation", violatingKey: key, operations: keyOps, keysChecked, steps };
    if (r.result === "timeout") return { ok: false, result: "timeout", timedOutKey: key, keysChecked, steps };
  }
  return { ok: true, result: "ok", keysChecked, steps };
}
