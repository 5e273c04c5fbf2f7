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
 *
 * For a write answered over HTTP, `writeAnswerOf(status, code)` says which of the three it is, as
 * the API promises (README, "Errors"): `outcome_unknown` (504) and answers with no known code are
 * unknown; every other refusal means nothing was appended. Recording refusals as failed is what
 * lets the checker catch a node that refuses a write it then applies.
 */

import type { KvKind, Operation } from "./linearizability.ts";

/** What an answer to a write says about its effect. */
export type WriteAnswer = "ok" | "unknown" | "failed";

/**
 * A write's HTTP answer as a history event: 2xx ok; `outcome_unknown`, `internal` or no code at all
 * (not an answer the node vouches for) unknown; any other error code a refusal that changed
 * nothing. A network failure without an answer is unknown unless the request was never sent.
 */
export function writeAnswerOf(status: number, code: string | undefined): WriteAnswer {
  if (status >= 200 && status < 300) return "ok";
  if (code === undefined || code === "outcome_unknown" || code === "internal") return "unknown";
  return "failed";
}

/** Records a write's answer on `op` (see writeAnswerOf); returns it. */
export function recordWriteAnswer(op: PendingOperation, status: number, code: string | undefined): WriteAnswer {
  const answer = writeAnswerOf(status, code);
  if (answer === "ok") op.ok();
  else if (answer === "unknown") op.unknown();
  else op.failed();
  return answer;
}

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
