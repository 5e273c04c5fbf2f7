import { describe, expect, test } from "bun:test";
import { SeededRandom, concatBytes } from "../../src/lib/index.ts";
import { FrameDecoder, FrameType, encodeFrame, encodeMessageBatch, frameHeaderBytes } from "../../src/transport/frame.ts";

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]) {
  const frames: { type: number; payload: Uint8Array }[] = [];
  let error;
  for (const chunk of chunks) {
    error = decoder.feed(chunk, (type, payload) => {
      frames.push({ type, payload });
      return true;
    });
    if (error) break;
  }
  return { frames, error };
}

function payloadOf(i: number): Uint8Array {
  return Uint8Array.from({ length: i % 37 }, (_, j) => (i * 7 + j) & 0xff);
}

describe("frame encoding", () => {
  test("header is u32 big-endian length then type byte", () => {
    const frame = encodeFrame(FrameType.message, Uint8Array.of(9, 8, 7));
    expect([...frame]).toEqual([0, 0, 0, 3, 3, 9, 8, 7]);
  });

  test("a batch is the concatenation of single frames", () => {
    const payloads = Array.from({ length: 50 }, (_, i) => payloadOf(i));
    const total = payloads.reduce((n, p) => n + p.length, 0);
    const batch = encodeMessageBatch(payloads, total);
    expect(batch).toEqual(concatBytes(payloads.map((p) => encodeFrame(FrameType.message, p))));
  });
});

describe("FrameDecoder", () => {
  const payloads = Array.from({ length: 200 }, (_, i) => payloadOf(i));
  const stream = encodeMessageBatch(payloads, payloads.reduce((n, p) => n + p.length, 0));

  test("decodes a stream split at every possible chunk size", () => {
    for (const chunkBytes of [1, 2, 3, 4, 5, 6, 7, 13, 64, 1000, stream.length]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += chunkBytes) chunks.push(stream.slice(i, i + chunkBytes));
      const decoder = new FrameDecoder(1024);
      const { frames, error } = decodeAll(decoder, chunks);
      expect(error).toBeUndefined();
      expect(frames.map((f) => f.payload)).toEqual(payloads);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  test("payloads are copies that later input does not overwrite", () => {
    const decoder = new FrameDecoder(1024);
    const chunk = encodeFrame(FrameType.message, Uint8Array.of(1, 2, 3));
    const { frames } = decodeAll(decoder, [chunk]);
    chunk.fill(0);
    expect([...frames[0]!.payload]).toEqual([1, 2, 3]);
  });

  test("a large frame arriving in small pieces is reassembled intact", () => {
    const big = Uint8Array.from({ length: 3_000_000 }, (_, i) => (i * 31) & 0xff);
    const frame = encodeFrame(FrameType.message, big);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < frame.length; i += 65_536) chunks.push(frame.slice(i, i + 65_536));
    const { frames, error } = decodeAll(new FrameDecoder(4_000_000), chunks);
    expect(error).toBeUndefined();
    expect(frames.length).toBe(1);
    expect(frames[0]!.payload).toEqual(big);
  });

  test("an oversized length is refused from the header alone", () => {
    const decoder = new FrameDecoder(100);
    const header = Uint8Array.of(0, 0, 0, 101, FrameType.message);
    const { frames, error } = decodeAll(decoder, [header]);
    expect(frames.length).toBe(0);
    expect(error).toEqual({ kind: "oversized", payloadBytes: 101, limitBytes: 100 });
  });

  test("a payload of exactly the limit is accepted", () => {
    const { frames, error } = decodeAll(new FrameDecoder(100), [encodeFrame(FrameType.message, new Uint8Array(100))]);
    expect(error).toBeUndefined();
    expect(frames.length).toBe(1);
  });

  test("an unknown type byte is refused, after the good frames before it", () => {
    const good = encodeFrame(FrameType.message, Uint8Array.of(1));
    const bad = Uint8Array.of(0, 0, 0, 1, 99, 0);
    const { frames, error } = decodeAll(new FrameDecoder(100), [concatBytes([good, bad])]);
    expect(frames.length).toBe(1);
    expect(error).toEqual({ kind: "bad_type", type: 99 });
  });

  test("ASCII garbage is refused at its first header", () => {
    const { frames, error } = decodeAll(new FrameDecoder(128), [new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")]);
    expect(frames.length).toBe(0);
    expect(error).toEqual({ kind: "bad_type", type: 0x2f }); // "/" where the type byte goes
  });

  test("onFrame returning false stops decoding", () => {
    const decoder = new FrameDecoder(100);
    let calls = 0;
    decoder.feed(stream.slice(0, 100), () => {
      calls++;
      return false;
    });
    expect(calls).toBe(1);
    expect(() => decoder.feed(stream, () => true)).toThrow();
  });

  test("random frames split at random points decode exactly (seeded)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = new SeededRandom(seed);
      const payloads = Array.from({ length: 1 + random.int(300) }, () =>
        Uint8Array.from({ length: random.int(random.chance(0.05) ? 200_000 : 300) }, () => random.int(256)),
      );
      const stream = encodeMessageBatch(payloads, payloads.reduce((n, p) => n + p.length, 0));
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < stream.length; ) {
        const size = 1 + random.int(random.chance(0.5) ? 16 : 100_000);
        chunks.push(stream.slice(i, i + size));
        i += size;
      }
      const { frames, error } = decodeAll(new FrameDecoder(1 << 20), chunks);
      expect(error).toBeUndefined();
      expect(frames.length).toBe(payloads.length);
      for (let i = 0; i < payloads.length; i++) if (!Bun.deepEquals(frames[i]!.payload, payloads[i])) expect(frames[i]!.payload).toEqual(payloads[i]!);
    }
  });

  test("random garbage never throws: it yields frames and then at most one error (seeded)", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = new SeededRandom(seed);
      const garbage = Uint8Array.from({ length: random.int(2_000) }, () => random.int(256));
      const decoder = new FrameDecoder(128);
      const { error } = decodeAll(decoder, [garbage.subarray(0, 700), garbage.subarray(700)]);
      if (error) expect(["oversized", "bad_type"]).toContain(error.kind);
      else expect(decoder.bufferedBytes).toBeLessThan(128 + 5);
    }
  });
});
