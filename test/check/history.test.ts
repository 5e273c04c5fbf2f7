import { expect, test } from "bun:test";
import { HistoryRecorder, checkKvHistory, recordWriteAnswer, writeAnswerOf } from "../../src/check/index.ts";

test("a recorded history feeds the checker: ok, unknown and failed outcomes", () => {
  let now = 0;
  const h = new HistoryRecorder(() => now);
  const put = h.begin({ clientId: 1, key: "k", kind: "put", value: "1" });
  now = 1;
  put.ok();
  const lost = h.begin({ clientId: 2, key: "k", kind: "put", value: "2" });
  const refused = h.begin({ clientId: 3, key: "k", kind: "put", value: "3" });
  now = 2;
  refused.failed();
  lost.unknown();
  const read = h.begin({ clientId: 1, key: "k", kind: "get" });
  const unanswered = h.begin({ clientId: 4, key: "k", kind: "get" });
  now = 3;
  read.ok("2"); // the unknown write took effect: allowed
  read.ok("9"); // a second settle is ignored
  unanswered.unknown();
  expect(h.pending).toBe(0);
  const ops = h.operations();
  expect(ops.map((o) => [o.kind, o.value ?? o.output, o.unknown ?? false])).toEqual([
    ["put", "1", false],
    ["put", "2", true],
    ["get", "2", false],
  ]);
  expect(checkKvHistory(ops).ok).toBe(true);
  const stale = h.begin({ clientId: 1, key: "k", kind: "get" });
  now = 4;
  stale.ok("3"); // value of a refused write: never written
  expect(checkKvHistory(h.operations())).toMatchObject({ ok: false, result: "violation" });
});

test("a write's HTTP answer as a history event: 200 ok, outcome_unknown or no known code unknown, any other refusal failed", () => {
  expect(writeAnswerOf(200, undefined)).toBe("ok");
  expect(writeAnswerOf(504, "outcome_unknown")).toBe("unknown");
  expect(writeAnswerOf(500, "internal")).toBe("unknown");
  expect(writeAnswerOf(502, undefined)).toBe("unknown"); // a proxy's page: not the node speaking
  for (const [status, code] of [[503, "unavailable"], [503, "no_leader"], [503, "not_leader"], [503, "timeout"], [507, "insufficient_storage"], [412, "precondition_failed"], [422, "idempotency_key_reused"], [429, "rate_limited"]] as const) {
    expect(writeAnswerOf(status, code)).toBe("failed");
  }
  const history = new HistoryRecorder(() => 1);
  expect(recordWriteAnswer(history.begin({ clientId: 1, key: "k", kind: "put", value: "a" }), 504, "outcome_unknown")).toBe("unknown");
  expect(recordWriteAnswer(history.begin({ clientId: 1, key: "k", kind: "put", value: "b" }), 503, "unavailable")).toBe("failed");
  expect(history.operations().map((o) => [o.value, o.unknown === true])).toEqual([["a", true]]); // the refused one is left out
  expect(history.pending).toBe(0);
});
