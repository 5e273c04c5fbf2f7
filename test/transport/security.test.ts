import { afterEach, describe, expect, test } from "bun:test";
import { concatBytes, utf8 } from "../../src/lib/index.ts";
import { FrameDecoder, FrameType, encodeFrame } from "../../src/transport/frame.ts";
import { Role, computeProof, decodeHello, encodeHello, newNonce, verifyProof } from "../../src/transport/handshake.ts";
import { numbered, rawConnect, secret, sequenceOf, startNode, waitFor, type RawClient, type TestNode } from "./helpers.ts";

const nodes: TestNode[] = [];
const raws: RawClient[] = [];
async function node(id: number, overrides: Parameters<typeof startNode>[1] = {}): Promise<TestNode> {
  const started = await startNode(id, overrides);
  nodes.push(started);
  return started;
}
async function raw(port: number): Promise<RawClient> {
  const client = await rawConnect(port);
  raws.push(client);
  return client;
}
afterEach(async () => {
  for (const client of raws.splice(0)) if (!client.closed()) client.socket.end();
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

/** Reads the frames a raw client has received so far. */
function framesOf(client: RawClient): { type: number; payload: Uint8Array }[] {
  const frames: { type: number; payload: Uint8Array }[] = [];
  new FrameDecoder(1 << 20).feed(concatBytes(client.received), (type, payload) => {
    frames.push({ type, payload });
    return true;
  });
  return frames;
}

/**
 * Runs the dialer side of the handshake by hand as node `dialerId`; with `proofSecret` wrong,
 * the final proof is forged. Returns the raw client, authenticated unless the proof was wrong.
 */
async function rawHandshake(target: TestNode, dialerId: number, proofSecret = secret): Promise<RawClient> {
  const client = await raw(target.transport.port);
  const dialerNonce = newNonce();
  const hello = encodeHello({ role: Role.dialer, senderId: dialerId, receiverId: target.transport.nodeId, nonce: dialerNonce });
  client.write(encodeFrame(FrameType.hello, hello));
  await waitFor("acceptor hello and proof", () => framesOf(client).length >= 2);
  const [helloFrame, authFrame] = framesOf(client);
  const reply = decodeHello(helloFrame!.payload);
  if (typeof reply === "string") throw new Error(reply);
  const input = {
    secret: utf8(secret),
    dialerId,
    acceptorId: target.transport.nodeId,
    dialerNonce,
    acceptorNonce: reply.nonce,
  };
  expect(authFrame!.type).toBe(FrameType.auth);
  expect(verifyProof(Role.acceptor, input, authFrame!.payload)).toBe(true);
  client.write(encodeFrame(FrameType.auth, computeProof(Role.dialer, { ...input, secret: utf8(proofSecret) })));
  return client;
}

/** A live A→B link whose deliveries prove B's listener and other connections still work. */
async function liveLink(b: TestNode): Promise<TestNode> {
  const a = await node(1);
  a.transport.setPeer(b.transport.nodeId, b.address);
  a.transport.send(b.transport.nodeId, numbered(1, 0));
  await waitFor("message on the live link", () => b.received.some((r) => r.from === 1));
  return a;
}

async function expectLinkStillWorks(a: TestNode, b: TestNode, sequence: number): Promise<void> {
  a.transport.send(b.transport.nodeId, numbered(1, sequence));
  await waitFor(`message ${sequence} on the live link`, () =>
    b.received.some((r) => r.from === 1 && sequenceOf(r.payload) === sequence),
  );
  expect(a.transport.stats().peers[0]!.connects).toBe(1); // never dropped
}

describe("authentication", () => {
  test("transports with different secrets refuse each other and deliver nothing", async () => {
    const b = await node(2);
    const a = await node(1, { secret: "another-cluster-secret-xyz" });
    a.transport.setPeer(2, b.address);
    for (let i = 0; i < 10; i++) a.transport.send(2, numbered(1, i));
    await waitFor("the dialer refuses the acceptor's proof", () => a.rejected.length >= 2);
    expect(a.rejected[0]).toMatchObject({ direction: "outbound", peerId: 2, reason: "bad_proof" });
    expect(b.received).toEqual([]);
    const stats = a.transport.stats().peers[0]!;
    expect(stats).toMatchObject({ connected: false, connects: 0, sentMessages: 0, queuedMessages: 10 });
    expect(stats.dials).toBeGreaterThanOrEqual(2); // keeps retrying with backoff
  });

  test("a dialer with a wrong proof is refused by the acceptor, and its messages are not delivered", async () => {
    const b = await node(2);
    const client = await rawHandshake(b, 5, "a-wrong-secret-0123456789");
    client.write(encodeFrame(FrameType.message, numbered(5, 0)));
    await waitFor("connection closed", () => client.closed());
    expect(b.rejected).toMatchObject([{ direction: "inbound", peerId: 5, reason: "bad_proof" }]);
    expect(b.received).toEqual([]);
  });

  test("a message before authentication is a protocol violation and is not delivered", async () => {
    const b = await node(2);
    const client = await raw(b.transport.port);
    const hello = encodeHello({ role: Role.dialer, senderId: 5, receiverId: 2, nonce: newNonce() });
    client.write(concatBytes([encodeFrame(FrameType.hello, hello), encodeFrame(FrameType.message, numbered(5, 0))]));
    await waitFor("connection closed", () => client.closed());
    expect(b.rejected).toMatchObject([{ peerId: 5, reason: "protocol_violation" }]);
    expect(b.received).toEqual([]);
  });

  test("the hand-made handshake with the right secret does deliver (the raw client is faithful)", async () => {
    const b = await node(2);
    const client = await rawHandshake(b, 5);
    client.write(encodeFrame(FrameType.message, numbered(5, 0)));
    await waitFor("delivery", () => b.received.length === 1);
    expect(b.received[0]!.from).toBe(5);
    expect(client.closed()).toBe(false);
  });

  test("the application can refuse a claimed node id", async () => {
    const b = await node(2, { acceptPeer: (id) => id === 1 });
    const c = await node(3);
    c.transport.setPeer(2, b.address);
    c.transport.send(2, numbered(3, 0));
    await waitFor("refusal", () => b.rejected.length >= 1);
    expect(b.rejected[0]).toMatchObject({ direction: "inbound", peerId: 3, reason: "peer_not_accepted" });
    const a = await liveLink(b); // node 1 is accepted
    expect(b.received.map((r) => r.from)).toEqual([1]);
    expect(a.transport.stats().peers[0]!.connected).toBe(true);
  });

  test("a dialer that reached the wrong node is refused, and a node cannot claim the acceptor's id", async () => {
    const b = await node(2);
    const c = await node(3);
    b.transport.setPeer(4, c.address); // c is node 3, not 4
    await waitFor("wrong receiver refused", () => c.rejected.length >= 1);
    expect(c.rejected[0]).toMatchObject({ peerId: 2, reason: "wrong_receiver" });
    const client = await raw(c.transport.port);
    client.write(encodeFrame(FrameType.hello, encodeHello({ role: Role.dialer, senderId: 3, receiverId: 3, nonce: newNonce() })));
    await waitFor("self id refused", () => client.closed());
    // b keeps redialing node "4" meanwhile, so look for the refusal among the others.
    expect(c.rejected.some((r) => r.peerId === 3 && r.reason === "peer_not_accepted")).toBe(true);
  });

  test("a connection that never authenticates is closed after the handshake timeout", async () => {
    const b = await node(2, { handshakeTimeoutMs: 150 });
    const client = await raw(b.transport.port);
    await waitFor("timeout close", () => client.closed(), 5_000);
    expect(b.rejected).toMatchObject([{ reason: "handshake_timeout" }]);
  });

  test("a dialer whose peer accepts TCP but never answers gives up after the timeout and redials", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: () => {} } });
    try {
      const a = await node(1, { handshakeTimeoutMs: 100 });
      a.transport.setPeer(2, `127.0.0.1:${silent.port}`);
      await waitFor("two timeouts", () => a.rejected.length >= 2, 5_000);
      expect(a.rejected[0]).toMatchObject({ direction: "outbound", peerId: 2, reason: "handshake_timeout" });
      expect(a.transport.stats().peers[0]!.dials).toBeGreaterThanOrEqual(2);
    } finally {
      silent.stop(true);
    }
  });

  test("unauthenticated connections beyond the limit are shed", async () => {
    const b = await node(2, { inboundHandshakesMax: 2 });
    const clients = [await raw(b.transport.port), await raw(b.transport.port), await raw(b.transport.port)];
    await waitFor("third closed", () => clients[2]!.closed());
    expect(clients[0]!.closed()).toBe(false);
    expect(b.rejected).toMatchObject([{ reason: "too_many_handshakes" }]);
    clients[0]!.socket.end(); // frees a handshake slot
    await waitFor("slot freed", () => clients[0]!.closed());
    const a = await liveLink(b);
    expect(a.transport.stats().peers[0]!.connected).toBe(true);
  });
});

describe("malformed input closes only that connection", () => {
  test("garbage before the handshake", async () => {
    const b = await node(2);
    const a = await liveLink(b);
    const client = await raw(b.transport.port);
    client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor("garbage connection closed", () => client.closed());
    expect(b.rejected).toMatchObject([{ direction: "inbound", reason: "malformed_frame" }]);
    await expectLinkStillWorks(a, b, 1);
    const again = await rawHandshake(b, 7); // the listener still accepts
    again.write(encodeFrame(FrameType.message, numbered(7, 0)));
    await waitFor("delivery after garbage", () => b.received.some((r) => r.from === 7));
  });

  test("random bytes and an oversized handshake frame", async () => {
    const b = await node(2);
    const a = await liveLink(b);
    const random = await raw(b.transport.port);
    random.write(Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
    const oversized = await raw(b.transport.port);
    oversized.write(Uint8Array.of(0, 0, 1, 0, FrameType.hello)); // 256-byte hello
    await waitFor("both closed", () => random.closed() && oversized.closed());
    expect(b.transport.stats().malformedFrames).toBe(2);
    await expectLinkStillWorks(a, b, 1);
  });

  test("an oversized frame after authentication, after the good frames before it", async () => {
    const b = await node(2, { frameBytesMax: 1024 });
    const a = await liveLink(b);
    const client = await rawHandshake(b, 5);
    client.write(
      concatBytes([
        encodeFrame(FrameType.message, numbered(5, 0)),
        encodeFrame(FrameType.message, numbered(5, 1, 1024)), // exactly the limit: fine
        Uint8Array.of(0, 0, 4, 1, FrameType.message), // 1025 bytes announced: refused from the header
        new Uint8Array(1025),
      ]),
    );
    await waitFor("closed", () => client.closed());
    expect(b.received.filter((r) => r.from === 5).map((r) => sequenceOf(r.payload))).toEqual([0, 1]);
    expect(b.rejected).toMatchObject([{ peerId: 5, reason: "malformed_frame" }]);
    await expectLinkStillWorks(a, b, 1);
  });

  test("a bad type byte, and a handshake frame after authentication", async () => {
    const b = await node(2);
    const a = await liveLink(b);
    const badType = await rawHandshake(b, 5);
    badType.write(Uint8Array.of(0, 0, 0, 1, 42, 0));
    const lateHello = await rawHandshake(b, 6);
    lateHello.write(encodeFrame(FrameType.hello, encodeHello({ role: Role.dialer, senderId: 6, receiverId: 2, nonce: newNonce() })));
    await waitFor("both closed", () => badType.closed() && lateHello.closed());
    expect(b.rejected.map((r) => r.reason).sort()).toEqual(["malformed_frame", "protocol_violation"]);
    await expectLinkStillWorks(a, b, 1);
  });

  test("an acceptor that answers with garbage makes the dialer close and retry, not crash", async () => {
    const fake = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data: (socket) => {
          socket.write("HTTP/1.1 400 Bad Request\r\n\r\n");
        },
      },
    });
    try {
      const a = await node(1);
      a.transport.setPeer(2, `127.0.0.1:${fake.port}`);
      await waitFor("two refusals", () => a.rejected.length >= 2);
      expect(a.rejected[0]).toMatchObject({ direction: "outbound", peerId: 2, reason: "malformed_frame" });
      expect(a.transport.stats().peers[0]!.connected).toBe(false);
    } finally {
      fake.stop(true);
    }
  });
});
