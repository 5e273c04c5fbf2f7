/**
 * @module check/history. Records a client history for the linearizability checker. Time comes
 * from an injected clock (ms, steps, anything monotonic), so tests and simulators stay
 * deterministic.
 *
 *   const history = new HistoryRecorder(() => performance.now());
 *   const op = history.begin({ clientId: 1, key: "k", kind: "put", value: "v" });
 *   ... op.ok()            // acknowledged (a get passes its output: op.ok(valueOrNull))
 *   ... op.unknown()       // timed out / connection lost: may or may not have taken effect
 *   ... op.failed()        // definitely did not take effect (e.g. refused): dropped
 *   checkKvHistory(history.operations());
 */

import type { KvKind, Operation } from "./linearizability.ts";

export interface PendingOperation {
  /** The operation completed; for a get, `output` is the value read (null when absent). */
  ok(output?: string | null): void;
  /** The outcome is unknown: it may take effect at any time after its call, or never. */
  unknown(): void;
  /** The operation certainly had no effect: it is left out of the history. */
  failed(): void;
}

export class HistoryRecorder {
  private readonly done: Operation[] = [];
  private open = 0;

  constructor(private readonly now: () => number) {}

  begin(call: { clientId: number; key: string; kind: KvKind; value?: string }): PendingOperation {
    const op: Operation = { ...call, callMs: this.now(), returnMs: 0 };
    let settled = false;
    this.open++;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.open--;
      return true;
    };
    return {
      ok: (output) => {
        if (!settle()) return;
        op.returnMs = this.now();
        if (op.kind === "get") op.output = output ?? null;
        this.done.push(op);
      },
      unknown: () => {
        if (!settle()) return;
        if (op.kind === "get") return; // an unanswered read constrains nothing
        op.unknown = true;
        op.returnMs = Number.POSITIVE_INFINITY;
        this.done.push(op);
      },
      failed: () => {
        settle();
      },
    };
  }

  /** Operations still waiting for an outcome. */
  get pending(): number {
    return this.open;
  }

  /** The recorded history (a copy). */
  operations(): Operation[] {
    return this.done.map((op) => ({ ...op }));
  }
}
