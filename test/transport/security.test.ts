import { afterEach, describe, expect, test } from "bun:test";
import { concatBytes, utf8 } from "../../src/lib/index.ts";
import { FrameDecoder, FrameType, encodeFrame } from "../../src/transport/frame.ts";
import { handshakeTimeoutMsDefault, inboundHandshakesPerSourceMaxDefault } from "../../src/transport/index.ts";
import { Role, computeProof, decodeHello, encodeHello, newNonce, verifyProof } from "../../src/transport/handshake.ts";
import {
  canConnectFrom,
  idleConnection,
  numbered,
  otherSecret,
  rawConnect,
  secret,
  sequenceOf,
  startNode,
  waitFor,
  type IdleConnection,
  type RawClient,
  type TestNode,
} from "./helpers.ts";

/** Whether connections can come from 127.0.0.2 (a second source on loopback); the flood tests need it. */
const secondSource = await canConnectFrom("127.0.0.2");
if (!secondSource) console.log("skipping the per-source flood tests: cannot connect from 127.0.0.2 here");
const nodes: TestNode[] = [];
const raws: RawClient[] = [];
const idle: IdleConnection[] = [];
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
  for (const connection of idle.splice(0)) connection.destroy();
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
 * Runs the dialer side of the handshake (version 2) by hand as node `dialerId`: HELLO, read the
 * acceptor's HELLO, send a proof made with `proofSecret`. With the right secret it also checks
 * the acceptor's proof and returns an authenticated client; with a wrong one it returns at once.
 */
async function rawHandshake(target: TestNode, dialerId: number, proofSecret = secret): Promise<RawClient> {
  const client = await raw(target.transport.port);
  const dialerNonce = newNonce();
  const hello = encodeHello({ role: Role.dialer, senderId: dialerId, receiverId: target.transport.nodeId, nonce: dialerNonce });
  client.write(encodeFrame(FrameType.hello, hello));
  await waitFor("acceptor hello", () => framesOf(client).length >= 1);
  const [helloFrame] = framesOf(client);
  expect(helloFrame!.type).toBe(FrameType.hello);
  const reply = decodeHello(helloFrame!.payload);
  if (typeof reply === "string") throw new Error(reply);
  const input = { secret: utf8(secret), dialerId, acceptorId: target.transport.nodeId, dialerNonce, acceptorNonce: reply.nonce };
  client.write(encodeFrame(FrameType.auth, computeProof(Role.dialer, { ...input, secret: utf8(proofSecret) })));
  if (proofSecret !== secret) return client;
  await waitFor("acceptor proof", () => framesOf(client).length >= 2);
  const authFrame = framesOf(client)[1]!;
  expect(authFrame.type).toBe(FrameType.auth);
  expect(verifyProof(Role.acceptor, input, authFrame.payload)).toBe(true);
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
    const a = await node(1, { secret: otherSecret });
    a.transport.setPeer(2, b.address);
    for (let i = 0; i < 10; i++) a.transport.send(2, numbered(1, i));
    // The acceptor refuses the dialer's proof and closes; the dialer reports its proof refused.
    await waitFor("two refusals on each side", () => a.rejected.length >= 2 && b.rejected.length >= 2);
    expect(b.rejected[0]).toMatchObject({ direction: "inbound", peerId: 1, reason: "bad_proof" });
    expect(a.rejected[0]).toMatchObject({ direction: "outbound", peerId: 2, reason: "proof_refused" });
    expect(b.received).toEqual([]);
    const stats = a.transport.stats().peers[0]!;
    expect(stats).toMatchObject({ connected: false, connects: 0, sentMessages: 0, queuedMessages: 10 });
    expect(stats.dials).toBeGreaterThanOrEqual(2); // keeps retrying with backoff
  });

  test("a dialer with a wrong proof is refused by the acceptor, and its messages are not delivered", async () => {
    const b = await node(2);
    const client = await rawHandshake(b, 5, otherSecret);
    client.write(encodeFrame(FrameType.message, numbered(5, 0)));
    await waitFor("connection closed", () => client.closed());
    expect(b.rejected).toMatchObject([{ direction: "inbound", peerId: 5, reason: "bad_proof" }]);
    expect(b.received).toEqual([]);
    expect(framesOf(client).map((f) => f.type)).toEqual([FrameType.hello]); // never a proof
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

describe("a stranger learns nothing to guess the secret with", () => {
  test("a stranger's HELLO gets a bare HELLO (ids and a fresh nonce), and a wrong proof a closed connection without another byte", async () => {
    const b = await node(2);
    const client = await raw(b.transport.port);
    const chosenNonce = new Uint8Array(32); // the stranger's chosen nonce: all zeros
    client.write(encodeFrame(FrameType.hello, encodeHello({ role: Role.dialer, senderId: 9, receiverId: 2, nonce: chosenNonce })));
    await waitFor("the acceptor's hello", () => framesOf(client).length >= 1);
    const reply = decodeHello(framesOf(client)[0]!.payload);
    if (typeof reply === "string") throw new Error(reply);
    // Nothing in the reply but the layout, both ids and 32 random bytes: no function of the secret.
    expect(framesOf(client)[0]!.payload).toEqual(encodeHello({ role: Role.acceptor, senderId: 2, receiverId: 9, nonce: reply.nonce }));
    expect(reply.nonce).not.toEqual(chosenNonce);
    client.write(encodeFrame(FrameType.auth, new Uint8Array(32))); // a guess
    await waitFor("connection closed", () => client.closed());
    expect(concatBytes(client.received).length).toBe(5 + 54); // exactly one HELLO frame, then nothing
    expect(b.rejected).toMatchObject([{ direction: "inbound", peerId: 9, reason: "bad_proof" }]);
  });

  test("a stranger that says HELLO and then nothing gets nothing more, and is closed at the handshake timeout", async () => {
    const b = await node(2, { handshakeTimeoutMs: 200 });
    const client = await raw(b.transport.port);
    client.write(encodeFrame(FrameType.hello, encodeHello({ role: Role.dialer, senderId: 9, receiverId: 2, nonce: newNonce() })));
    await waitFor("connection closed", () => client.closed(), 5_000);
    expect(framesOf(client).map((f) => f.type)).toEqual([FrameType.hello]);
    expect(b.rejected).toMatchObject([{ peerId: 9, reason: "handshake_timeout" }]);
  });

  test("membership is checked only after the proof: a stranger cannot probe which ids are accepted", async () => {
    const b = await node(2, { acceptPeer: (id) => id === 1 });
    const stranger = await rawHandshake(b, 3, otherSecret); // id 3 is not accepted; the proof is wrong
    await waitFor("stranger closed", () => stranger.closed());
    const member = await rawHandshake(b, 1, otherSecret); // id 1 is accepted; the proof is wrong
    await waitFor("member-claimer closed", () => member.closed());
    expect(b.rejected.map((r) => [r.peerId, r.reason])).toEqual([[3, "bad_proof"], [1, "bad_proof"]]);
  });

  test("a version 1 node (whose acceptor proved first) is refused with a reason naming the version", async () => {
    const b = await node(2);
    const client = await raw(b.transport.port);
    const hello = encodeHello({ role: Role.dialer, senderId: 5, receiverId: 2, nonce: newNonce() });
    hello[4] = 1;
    client.write(encodeFrame(FrameType.hello, hello));
    await waitFor("closed", () => client.closed());
    expect(client.received).toEqual([]);
    expect(b.rejected).toMatchObject([{ reason: "bad_hello", detail: "protocol version 1, wanted 2" }]);
  });
});

describe("strangers cannot lock peers out of the Raft port", () => {
  test("the default handshake timeout is about a second, and closes a silent connection", async () => {
    expect(handshakeTimeoutMsDefault).toBeLessThanOrEqual(1_000);
    const b = await node(2, { handshakeTimeoutMs: undefined });
    const client = await raw(b.transport.port);
    await waitFor("timeout close", () => client.closed(), 10_000);
    expect(b.rejected).toMatchObject([{ reason: "handshake_timeout", detail: `no handshake within ${handshakeTimeoutMsDefault} ms` }]);
  });

  test.skipIf(!secondSource)(
    "200 idle connections from one source take only that source's slots; a peer from another source still connects",
    async () => {
      // Long timeout: the stranger's connections stay idle for the whole test.
      const b = await node(2, { handshakeTimeoutMs: 60_000 });
      for (let i = 0; i < 200; i++) idle.push(await idleConnection(b.transport.port, "127.0.0.2"));
      const refusedCount = () => b.rejected.filter((r) => r.reason === "too_many_source_handshakes").length;
      await waitFor("all but the source's share refused", () => refusedCount() === 200 - inboundHandshakesPerSourceMaxDefault);
      await waitFor("the refused connections closed", () => idle.filter((c) => !c.closed()).length === inboundHandshakesPerSourceMaxDefault);
      expect(b.rejected.every((r) => r.reason === "too_many_source_handshakes" && r.remoteAddress.startsWith("127.0.0.2:"))).toBe(true);
      const a = await liveLink(b); // node 1 dials from 127.0.0.1 and delivers
      expect(a.transport.stats().peers[0]).toMatchObject({ connected: true, connects: 1 });
      expect(b.rejected.every((r) => r.reason === "too_many_source_handshakes")).toBe(true);
    },
  );

  test.skipIf(!secondSource)("under the old single global limit the same flood would lock the peer out (the limit is what saves it)", async () => {
    // A per-source limit as large as the global one reproduces the original finding.
    const b = await node(2, { handshakeTimeoutMs: 60_000, inboundHandshakesMax: 64, inboundHandshakesPerSourceMax: 64 });
    for (let i = 0; i < 64; i++) idle.push(await idleConnection(b.transport.port, "127.0.0.2"));
    const a = await node(1);
    a.transport.setPeer(2, b.address);
    await waitFor("the peer refused", () => b.rejected.some((r) => r.reason === "too_many_handshakes" && r.remoteAddress.startsWith("127.0.0.1:")));
    expect(a.transport.stats().peers[0]!.connected).toBe(false);
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
