import { afterEach, beforeEach, expect, test } from "bun:test";
import { encodeForward } from "../../src/http/index.ts";
import { decodeCommandList, encodeCommandList, type Operation } from "../../src/ledger/index.ts";
import { utf8 } from "../../src/lib/index.ts";
import { makeApp } from "../support/app.ts";

let t: Awaited<ReturnType<typeof makeApp>>;
beforeEach(async () => {
  t = await makeApp({ "storage.max_value_size": 1024 });
});
afterEach(() => t.close());

const put = (key: string, value: string, extra: Partial<Operation> = {}): Operation => ({ op: "put", key, value: utf8(value), valueHash: new Uint8Array(32), contentType: "text/plain", ...extra }) as Operation;
const post = (body: Uint8Array) => t.call("POST", "/cluster/propose", { body: body as Uint8Array<ArrayBuffer> });
/** A forward envelope from node 2 to this node (1), one command per op list. */
const forward = (...commands: Operation[][]) => encodeForward({ from: 2, to: 1, commands: commands.map((ops) => ({ ops })) });

test("the command list codec round-trips and rejects trailing or truncated bytes", () => {
  const list = encodeCommandList([{ timestampMs: 0, ops: [put("a", "1")] }, { timestampMs: 0, ops: [{ op: "delete", key: "b" }] }]);
  expect(decodeCommandList(list).map((c) => c.ops.map((o) => o.key))).toEqual([["a"], ["b"]]);
  expect(() => decodeCommandList(new Uint8Array([...list, 0]))).toThrow(/trailing/);
  expect(() => decodeCommandList(list.subarray(0, list.length - 2))).toThrow(RangeError);
});

test("forwarded commands are applied each on its own, with values re-hashed by the leader", async () => {
  await t.call("PUT", "/taken", { body: "x" });
  const body = forward([put("a", "one")], [put("taken", "y", { ifNoneMatch: true })], [put("b", "two")]);
  const response = await post(body);
  expect(response.status).toBe(200);
  const { outcomes } = (await response.json()) as { outcomes: ({ receipts: { key: string }[] } | { code: string })[] };
  expect(outcomes.map((o) => ("receipts" in o ? o.receipts[0]!.key : o.code))).toEqual(["a", "precondition_failed", "b"]);
  // The zero hash sent by the caller was replaced by the value's real hash.
  const verify = (await (await t.call("GET", "/verify/a")).json()) as { verified: boolean };
  expect(verify.verified).toBe(true);
});

test("a malformed or oversize command list is refused whole and changes nothing", async () => {
  const before = t.node.size;
  expect((await post(new Uint8Array([0, 0, 0, 1, 9, 9]))).status).toBe(400);
  expect((await post(encodeCommandList([{ timestampMs: 0, ops: [put("a", "x")] }]))).status).toBe(400);
  const truncated = forward([put("a", "x")]);
  expect((await post(truncated.subarray(0, truncated.length - 3))).status).toBe(400);
  expect((await post(forward([put("", "x")]))).status).toBe(400);
  expect((await post(forward([put("big", "v".repeat(1025))]))).status).toBe(413);
  // A forward meant for another node (a captured one, replayed here) is refused before anything is proposed.
  const elsewhere = await post(encodeForward({ from: 2, to: 3, commands: [{ ops: [put("a", "x")] }] }));
  expect(elsewhere.status).toBe(503);
  expect(await elsewhere.json()).toMatchObject({ code: "not_leader" });
  expect(t.node.size).toBe(before);
});

test("a forwarded write carries its idempotency key: the leader replays it, refuses another request under it, and refuses a malformed key", async () => {
  const keyed = (ops: Operation[], idempotencyKey: string) => encodeForward({ from: 2, to: 1, commands: [{ ops, idempotencyKey }] });
  const outcomes = async (body: Uint8Array) => ((await (await post(body)).json()) as { outcomes: Record<string, unknown>[] }).outcomes;
  const [first] = await outcomes(keyed([put("k", "v")], "fw-1"));
  expect(first).toMatchObject({ receipts: [{ key: "k", version: 1 }] });
  expect(first!.replayed).toBeUndefined();
  const [again] = await outcomes(keyed([put("k", "v")], "fw-1"));
  expect(again).toEqual({ ...first, replayed: true });
  const [other] = await outcomes(keyed([put("k", "w")], "fw-1"));
  expect(other).toMatchObject({ code: "idempotency_key_reused" });
  expect((await post(keyed([put("k", "v")], "a\u0007b"))).status).toBe(400);
  expect(t.node.size).toBe(1);
});

test("a group over the Raft transport (ScribeApp.forwarded) is proposed as POST /cluster/propose, and must name the peer it came from", async () => {
  const codeOf = (from: number, body: Uint8Array) => t.app.forwarded(from, body).then(() => "answered", (error: { code: string }) => error.code);
  const { outcomes } = await t.app.forwarded(2, forward([put("a", "one")], [put("b", "two")]));
  expect(outcomes.map((o) => ("receipts" in o ? o.receipts[0]!.key : o.code))).toEqual(["a", "b"]);
  expect(((await (await t.call("GET", "/verify/b")).json()) as { verified: boolean }).verified).toBe(true);
  const before = t.node.size;
  // The envelope says node 2 sent it; the transport authenticated node 3: refused, nothing proposed.
  expect(await codeOf(3, forward([put("c", "x")]))).toBe("invalid_request");
  expect(await codeOf(2, forward([put("big", "v".repeat(1025))]))).toBe("value_too_large");
  expect(await codeOf(2, encodeForward({ from: 2, to: 3, commands: [{ ops: [put("c", "x")] }] }))).toBe("not_leader");
  expect(t.node.size).toBe(before);
});
