import { describe, expect, test } from "bun:test";
import { SeededRandom } from "../../src/lib/index.ts";
import {
  MemoryStorage,
  RawNode,
  decodeEntry,
  decodeMembership,
  decodeMessage,
  encodeEntry,
  encodeMembership,
  encodeMessage,
  emptyMessage,
  type Message,
  type MessageType,
} from "../../src/raft/index.ts";

const types: MessageType[] = [
  "vote",
  "voteResponse",
  "preVote",
  "preVoteResponse",
  "append",
  "appendResponse",
  "heartbeat",
  "heartbeatResponse",
  "catchup",
  "timeoutNow",
];

function randomMessage(random: SeededRandom): Message {
  const type = types[random.int(types.length)]!;
  const m = emptyMessage(type, 1 + random.int(1000), 1 + random.int(1000), 1 + random.int(1 << 30));
  m.logTerm = random.int(1 << 20);
  m.index = random.int(2 ** 40);
  m.commit = random.int(2 ** 40);
  m.reject = random.chance(0.5);
  m.rejectHint = random.int(1000);
  m.transfer = random.chance(0.5);
  m.readSeq = random.int(1000);
  const count = type === "append" ? random.int(5) : 0;
  let entryTerm = 1;
  for (let i = 0; i < count; i++) {
    entryTerm = Math.min(m.term, entryTerm + random.int(3));
    const data = new Uint8Array(random.int(50));
    for (let j = 0; j < data.length; j++) data[j] = random.int(256);
    m.entries.push({ term: entryTerm, index: m.index + 1 + i, type: random.chance(0.2) ? "config" : "normal", data });
  }
  if (type === "catchup") m.catchup = { index: random.int(1e6), term: random.int(100), membership: { voters: [1, 2, 3], learners: [9], index: 4 } };
  return m;
}

describe("message codec", () => {
  test("every message type round-trips exactly (1000 random messages)", () => {
    const random = new SeededRandom(3);
    for (let i = 0; i < 1000; i++) {
      const m = randomMessage(random);
      expect(decodeMessage(encodeMessage(m))).toEqual(m);
    }
  });

  test("decoded entry data does not alias the frame buffer", () => {
    const m = emptyMessage("append", 1, 2, 3);
    m.entries.push({ term: 3, index: 1, type: "normal", data: new Uint8Array([1, 2, 3]) });
    const bytes = encodeMessage(m);
    const decoded = decodeMessage(bytes);
    bytes.fill(0);
    expect([...decoded.entries[0]!.data]).toEqual([1, 2, 3]);
  });

  test("every truncation of a valid message is rejected", () => {
    const random = new SeededRandom(5);
    for (let i = 0; i < 30; i++) {
      const bytes = encodeMessage(randomMessage(random));
      for (let cut = 0; cut < bytes.length; cut++) expect(() => decodeMessage(bytes.subarray(0, cut))).toThrow();
    }
  });

  test("trailing bytes, bad version, bad type, zero ids, unknown flags and huge counts are rejected", () => {
    const good = encodeMessage(emptyMessage("heartbeat", 1, 2, 3));
    expect(() => decodeMessage(new Uint8Array([...good, 0]))).toThrow(/trailing/);
    const mutate = (offset: number, value: number) => {
      const copy = good.slice();
      copy[offset] = value;
      return copy;
    };
    expect(() => decodeMessage(mutate(0, 2))).toThrow(/version/);
    expect(() => decodeMessage(mutate(1, 0))).toThrow(/type/);
    expect(() => decodeMessage(mutate(1, 99))).toThrow(/type/);
    const zeroFrom = good.slice();
    zeroFrom.fill(0, 2, 10);
    expect(() => decodeMessage(zeroFrom)).toThrow(/positive/);
    expect(() => decodeMessage(mutate(66, 0x80))).toThrow(/flags/);
    const hugeCount = good.slice();
    hugeCount.set([0xff, 0xff, 0xff, 0xff], 67);
    expect(() => decodeMessage(hugeCount)).toThrow(/cannot fit/);
    const catchupFlagOnly = emptyMessage("catchup", 1, 2, 3);
    catchupFlagOnly.catchup = null;
    expect(() => decodeMessage(encodeMessage(catchupFlagOnly))).toThrow(/catchup/);
  });

  test("random garbage never decodes silently into something with trailing junk", () => {
    const random = new SeededRandom(11);
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(random.int(120));
      for (let j = 0; j < bytes.length; j++) bytes[j] = random.int(256);
      try {
        const m = decodeMessage(bytes);
        expect(encodeMessage(m)).toEqual(bytes); // anything accepted must be canonical
      } catch (error) {
        expect(error).toBeInstanceOf(RangeError);
      }
    }
  });

  test("append entries must be contiguous after index, with rising terms up to the message term", () => {
    const append = (entries: [number, number][], term = 5, index = 10) => {
      const m = emptyMessage("append", 1, 2, term);
      m.index = index;
      m.entries = entries.map(([i, t]) => ({ index: i, term: t, type: "normal" as const, data: new Uint8Array(0) }));
      return encodeMessage(m);
    };
    expect(decodeMessage(append([[11, 3], [12, 5]])).entries.length).toBe(2);
    expect(() => decodeMessage(append([[12, 3]]))).toThrow(/index/); // gap
    expect(() => decodeMessage(append([[11, 4], [12, 3]]))).toThrow(/term/); // falling term
    expect(() => decodeMessage(append([[11, 6]]))).toThrow(/term/); // beyond the message term
    const heartbeat = emptyMessage("heartbeat", 1, 2, 5);
    heartbeat.entries = [{ index: 1, term: 1, type: "normal", data: new Uint8Array(0) }];
    expect(() => decodeMessage(encodeMessage(heartbeat))).toThrow(/cannot carry/);
  });

  test("a core ignores messages not addressed to it instead of failing", () => {
    const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [], index: 0 });
    const node = new RawNode({ id: 1, storage, random: new SeededRandom(1) });
    node.step({ ...emptyMessage("vote", 2, 3, 9) });
    node.step({ ...emptyMessage("catchup", 2, 1, 9) }); // catchup without its payload
    expect(node.raft.term).toBe(0);
  });

  test("entries and memberships have their own codecs", () => {
    const e = { term: 4, index: 99, type: "config" as const, data: new Uint8Array([7, 8]) };
    expect(decodeEntry(encodeEntry(e))).toEqual(e);
    expect(() => decodeEntry(encodeEntry(e).subarray(0, 10))).toThrow();
    const m = { voters: [1, 2, 3], learners: [4], index: 12 };
    expect(decodeMembership(encodeMembership(m))).toEqual(m);
    expect(() => decodeMembership(new Uint8Array([...encodeMembership(m), 1]))).toThrow();
  });
});
