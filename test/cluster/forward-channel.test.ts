/**
 * Forwarded groups over the Raft transport (src/cluster/forward-channel.ts): a follower's channel
 * and a leader's, joined by a link that delivers payloads the way the transport does (in order,
 * later). What a follower's writes end with must match the HTTP path (peer-client.test.ts): a group
 * that was not sent goes over HTTP, the leader's own refusals are refusals, and anything after
 * sending without a readable refusal is `outcome_unknown`.
 */
import { expect, test } from "bun:test";
import { ForwardChannel, type ForwardHandler, type ForwardLink } from "../../src/cluster/forward-channel.ts";
import { decodeForwardFrame, encodeForward, encodeForwardFrame, type ForwardedOutcome, type Operation, type Receipt } from "../../src/ledger/index.ts";
import { ScribeError, utf8 } from "../../src/lib/index.ts";

const quiet = { info() {}, warn() {}, error() {}, debug() {}, fatal() {} } as never;
const op: Operation = { op: "put", key: "k", value: utf8("v"), valueHash: new Uint8Array(32), contentType: "text/plain" };
const envelope = encodeForward({ from: 2, to: 1, commands: [{ ops: [op] }] });
const receipt = { key: "k", op: "put", index: 1, version: 1, leaf_hash: "0".repeat(64), tree_size: 1, timestamp_ms: 1 };

/** Node `self`'s side of the link: payloads reach `deliver` in a later task, unless the link is down or refuses. */
class FakeLink implements ForwardLink {
  up = true;
  takes = true;
  sent: Uint8Array[] = [];
  deliver: (from: number, payload: Uint8Array) => void = () => {};
  constructor(readonly self: number) {}
  connected(): boolean {
    return this.up;
  }
  sendPayload(_peer: number, payload: Uint8Array): boolean {
    if (!this.takes) return false;
    this.sent.push(payload);
    setTimeout(() => this.deliver(this.self, payload), 0);
    return true;
  }
}

/** A follower (node 2) and a leader (node 1) whose channels are linked; `understands: false` makes the leader an earlier version that drops forward frames. */
function pair(handler: ForwardHandler, options: { understands?: boolean; serving?: boolean; now?: () => number } = {}) {
  const follower = new ForwardChannel(quiet, options.now);
  const leader = new ForwardChannel(quiet);
  const toLeader = new FakeLink(2);
  const toFollower = new FakeLink(1);
  toLeader.deliver = (from, payload) => {
    if (options.understands !== false) leader.received(from, payload);
  };
  toFollower.deliver = (from, payload) => follower.received(from, payload);
  follower.attach(toLeader);
  leader.attach(toFollower);
  if (options.serving !== false) leader.serve(handler);
  return { follower, leader, toLeader };
}

/** Proposes until the follower sends over the transport (it probes first); fails the test if it never does. */
async function overTransport(follower: ForwardChannel, timeoutMs = 5000): Promise<{ sent: Promise<ForwardedOutcome[]> }> {
  for (let i = 0; i < 50; i++) {
    const sent = follower.propose(1, envelope, 1, timeoutMs);
    if (sent) return { sent };
    await Bun.sleep(2);
  }
  throw new Error("the follower never sent a group over the transport");
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => "answered", (error: ScribeError) => error.code);

test("groups go over HTTP until the leader answered a probe, then over the transport with one outcome per command", async () => {
  const seen: { from: number; bytes: number }[] = [];
  const { follower, toLeader } = pair(async (from, body) => {
    seen.push({ from, bytes: body.length });
    return { outcomes: [{ receipts: [receipt as Receipt] }] };
  });
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
  // The probe: an empty envelope with id 0.
  expect(toLeader.sent.map((p) => decodeForwardFrame(p))).toEqual([{ kind: 0xf0, id: 0, body: new Uint8Array(0) }]);
  expect(await (await overTransport(follower)).sent).toEqual([{ receipts: [receipt as never] }]);
  expect(seen).toEqual([{ from: 2, bytes: envelope.length }]);
  expect(follower.counters.transportGroups).toBe(1);
});

test("a leader of an earlier version (it drops forward frames) never gets a group, and is probed at most once per 10 s", async () => {
  let nowMs = 0;
  const { follower, toLeader } = pair(async () => ({ outcomes: [] }), { understands: false, now: () => nowMs });
  for (let i = 0; i < 5; i++) {
    expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
    await Bun.sleep(2);
  }
  expect(toLeader.sent.length).toBe(1);
  nowMs += 10_000;
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
  expect(toLeader.sent.length).toBe(2);
});

test("a leader that does not serve forwards yet (its HTTP app is not built) leaves probes unanswered, so groups go over HTTP until it does", async () => {
  let nowMs = 0;
  const handler: ForwardHandler = async () => ({ outcomes: [{ receipts: [receipt as Receipt] }] });
  const { follower, leader, toLeader } = pair(handler, { serving: false, now: () => nowMs });
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
  await Bun.sleep(5);
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
  expect(toLeader.sent.length).toBe(1);
  leader.serve(handler);
  nowMs += 10_000;
  expect(await (await overTransport(follower)).sent).toEqual([{ receipts: [receipt as never] }]);
});

test("nothing sent: no connection or a full queue leaves the group to HTTP", async () => {
  const { follower, toLeader } = pair(async () => ({ outcomes: [{ receipts: [receipt as Receipt] }] }));
  await (await overTransport(follower)).sent;
  toLeader.takes = false;
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
  toLeader.takes = true;
  toLeader.up = false;
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
});

test("the leader's refusals are refusals; an internal error, a wrong count, silence or a lost connection leave the outcome unknown", async () => {
  let answer: () => Promise<{ outcomes: ForwardedOutcome[] }> = async () => ({ outcomes: [{ receipts: [receipt as Receipt] }] });
  const { follower } = pair(() => answer());
  await (await overTransport(follower)).sent;
  answer = () => Promise.reject(new ScribeError("not_leader", "node 3 leads now"));
  expect(await codeOf(follower.propose(1, envelope, 1, 5000)!)).toBe("not_leader");
  answer = () => Promise.reject(new ScribeError("value_too_large", "too big"));
  expect(await codeOf(follower.propose(1, envelope, 1, 5000)!)).toBe("value_too_large");
  answer = () => Promise.reject(new Error("boom"));
  expect(await codeOf(follower.propose(1, envelope, 1, 5000)!)).toBe("outcome_unknown");
  answer = async () => ({ outcomes: [] });
  expect(await codeOf(follower.propose(1, envelope, 1, 5000)!)).toBe("outcome_unknown");
  answer = () => new Promise(() => {});
  expect(await codeOf(follower.propose(1, envelope, 1, 50)!)).toBe("outcome_unknown");
  const inFlight = follower.propose(1, envelope, 1, 5000)!;
  follower.peerLost(1);
  expect(await codeOf(inFlight)).toBe("outcome_unknown");
  // After the loss, the leader is probed again before the next group goes this way.
  expect(follower.propose(1, envelope, 1, 5000)).toBeUndefined();
});

test("a closing node ends its groups in flight as unknown; an answer from another peer does not settle a group", async () => {
  const { follower } = pair(() => new Promise(() => {}));
  const inFlight = (await overTransport(follower)).sent;
  // Node 3 answering with the same id (1, the first group's) is not the leader's answer.
  follower.received(3, encodeForwardFrame({ kind: 0xf1, id: 1, body: utf8(JSON.stringify({ outcomes: [{ receipts: [receipt] }] })) }));
  follower.close();
  expect(await codeOf(inFlight)).toBe("outcome_unknown");
});

test("an answer the follower cannot read leaves the outcome unknown", async () => {
  const { follower, leader } = pair(async () => ({ outcomes: [{ receipts: [receipt as Receipt] }] }));
  await (await overTransport(follower)).sent;
  // The leader's channel answers garbage for group 2 (as a corrupted or foreign peer would).
  leader.serve(() => new Promise(() => {}));
  const inFlight = follower.propose(1, envelope, 1, 5000)!;
  follower.received(1, encodeForwardFrame({ kind: 0xf1, id: 2, body: utf8("{not json") }));
  expect(await codeOf(inFlight)).toBe("outcome_unknown");
});
