/**
 * @module history. Clients that drive a cluster over HTTP and record every operation for the
 * linearizability checker. A write's answer is recorded as the API promises (writeAnswerOf):
 * 200 ok; 504 outcome_unknown (or no answer) unknown; every other refusal as having changed
 * nothing, so a node that refuses a write and applies it anyway fails the check. A read that
 * failed constrains nothing and is left out.
 */

import { HistoryRecorder, recordWriteAnswer, type Operation } from "../../src/check/index.ts";

export interface Recorder {
  history: HistoryRecorder;
  /** Acknowledged puts with their receipts' index and leaf hash. */
  acked: { key: string; value: string; index: number; leafHash: string }[];
  /** Writes refused in a way that proves they did not happen (for diagnosing a failed check). */
  refused: { key: string; value: string; url: string; status: number; body: unknown }[];
  /** The recorded operations, for the checker. */
  readonly ops: Operation[];
}

export function newRecorder(): Recorder {
  const started = performance.now();
  const history = new HistoryRecorder(() => performance.now() - started);
  return {
    history,
    acked: [],
    refused: [],
    get ops() {
      return history.operations();
    },
  };
}

export async function recordedPut(recorder: Recorder, url: string, clientId: number, key: string, value: string, timeoutMs = 3000): Promise<boolean> {
  const op = recorder.history.begin({ clientId, key, kind: "put", value });
  try {
    // A fresh connection per write: then a refused connection proves the request was not sent
    // (on a pooled one, fetch may retry after the first attempt was already delivered).
    const response = await fetch(`${url}/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(timeoutMs), keepalive: false });
    const text = await response.text();
    let body: { index?: number; leaf_hash?: string; code?: string } = {};
    try {
      body = JSON.parse(text) as { index?: number; leaf_hash?: string; code?: string };
    } catch {
      // not JSON: no code, an unknown outcome
    }
    const answer = recordWriteAnswer(op, response.status, body.code);
    if (answer === "ok") recorder.acked.push({ key, value, index: body.index!, leafHash: body.leaf_hash! });
    else if (answer === "failed") recorder.refused.push({ key, value, url, status: response.status, body });
    return answer === "ok";
  } catch (error) {
    // A refused connect on a fresh connection never delivered the request: the write did not happen.
    if ((error as { code?: string }).code === "ECONNREFUSED") {
      recorder.refused.push({ key, value, url, status: 0, body: { code: "ECONNREFUSED" } });
      op.failed();
      return false;
    }
    // Otherwise it timed out or the connection died mid-request: the outcome is unknown.
  }
  op.unknown();
  return false;
}

export async function recordedGet(recorder: Recorder, url: string, clientId: number, key: string, timeoutMs = 3000): Promise<void> {
  const op = recorder.history.begin({ clientId, key, kind: "get" });
  try {
    const response = await fetch(`${url}/kv/${key}`, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status === 200) return op.ok(await response.text());
    if (response.status === 404) return op.ok(null);
  } catch {
    // a failed read constrains nothing
  }
  op.failed();
}

/**
 * Runs `clients` loops until `stop()` returns true: each picks a node from `urls()` and a key,
 * then puts a unique value or reads linearizably.
 */
export async function runClients(recorder: Recorder, clients: number, urls: () => string[], stop: () => boolean, keys = 24): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async (_, clientId) => {
      for (let seq = 0; !stop(); seq++) {
        const targets = urls();
        const url = targets[(clientId + seq) % targets.length]!;
        const key = `lin${(clientId * 7 + seq) % keys}`;
        if (seq % 2 === 0) await recordedPut(recorder, url, clientId, key, `c${clientId}-s${seq}`);
        else await recordedGet(recorder, url, clientId, key);
      }
    }),
  );
}
