import { afterEach, describe, expect, test } from "bun:test";
import { createTransport } from "../../src/transport/index.ts";
import { numbered, senderOf, sequenceOf, startNode, waitFor, type TestNode } from "./helpers.ts";

const nodes: TestNode[] = [];
async function node(id: number, overrides: Parameters<typeof startNode>[1] = {}): Promise<TestNode> {
  const started = await startNode(id, overrides);
  nodes.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

/** Connects every pair both ways. */
function mesh(all: TestNode[]): void {
  for (const a of all) for (const b of all) if (a !== b) a.transport.setPeer(b.transport.nodeId, b.address);
}

/** Sends `count` numbered messages, yielding whenever the queue is full; returns how many were refused. */
async function sendNumbered(from: TestNode, to: number, count: number, bytes = 16): Promise<number> {
  let refused = 0;
  for (let i = 0; i < count; i++) {
    while (!from.transport.send(to, numbered(from.transport.nodeId, i, bytes))) {
      refused++;
      await Bun.sleep(1);
    }
  }
  return refused;
}

function expectInOrder(received: TestNode["received"], from: number, count: number): void {
  const sequences = received.filter((r) => r.from === from).map((r) => sequenceOf(r.payload));
  expect(sequences.length).toBe(count);
  for (let i = 0; i < count; i++) if (sequences[i] !== i) expect(sequences[i]).toBe(i);
  for (const r of received) if (r.from === from) expect(senderOf(r.payload)).toBe(from);
}

describe("transport between real sockets", () => {
  test("two transports exchange many messages both ways, in order", async () => {
    const [a, b] = [await node(1), await node(2)];
    mesh([a, b]);
    const [refusedByA] = await Promise.all([sendNumbered(a, 2, 20_000), sendNumbered(b, 1, 20_000)]);
    await waitFor("20k messages each way", () => a.received.length === 20_000 && b.received.length === 20_000);
    expectInOrder(b.received, 1, 20_000);
    expectInOrder(a.received, 2, 20_000);
    const stats = a.transport.stats();
    expect(stats.peers[0]).toMatchObject({ peerId: 2, connected: true, sentMessages: 20_000, queuedMessages: 0 });
    // Sends refused while the queue was full (before the connection was up) are the counted drops.
    expect(stats.peers[0]!.droppedMessages).toBe(refusedByA);
    expect(stats.inbound[0]).toMatchObject({ peerId: 2, connected: true, receivedMessages: 20_000 });
  });

  test("three transports, all to all, keep per-sender order", async () => {
    const all = [await node(1), await node(2), await node(3)];
    mesh(all);
    const perPair = 5_000;
    await Promise.all(all.flatMap((from) => all.filter((to) => to !== from).map((to) => sendNumbered(from, to.transport.nodeId, perPair))));
    await waitFor("all messages", () => all.every((n) => n.received.length === 2 * perPair));
    for (const receiver of all) {
      for (const sender of all) if (sender !== receiver) expectInOrder(receiver.received, sender.transport.nodeId, perPair);
    }
  });

  test("100k messages queued in one tick go out as one write and arrive intact, in order", async () => {
    const [a, b] = [await node(1, { queueMessagesMax: 200_000 }), await node(2)];
    expect(a.transport.frameBytesMax).toBe(64 * 1024 * 1024);
    a.transport.setPeer(2, b.address);
    await waitFor("connected", () => a.transport.stats().peers[0]!.connected);
    const writesBefore = a.transport.stats().peers[0]!.writes;
    for (let i = 0; i < 100_000; i++) expect(a.transport.send(2, numbered(1, i, 100))).toBe(true);
    a.transport.flush();
    const afterFlush = a.transport.stats().peers[0]!;
    expect(afterFlush.writes - writesBefore).toBe(1);
    expect(afterFlush.sentMessages).toBe(100_000);
    await waitFor("100k messages", () => b.received.length === 100_000);
    expectInOrder(b.received, 1, 100_000);
    for (const r of b.received) expect(r.payload).toEqual(numbered(1, sequenceOf(r.payload), 100));
    // The microtask flush found nothing left: still one write.
    expect(a.transport.stats().peers[0]!.writes - writesBefore).toBe(1);
  });

  test("without an explicit flush, sends go out in a microtask", async () => {
    const [a, b] = [await node(1), await node(2)];
    a.transport.setPeer(2, b.address);
    await waitFor("connected", () => a.transport.stats().peers[0]!.connected);
    a.transport.send(2, numbered(1, 0));
    a.transport.send(2, numbered(1, 1));
    expect(a.transport.stats().peers[0]!.queuedMessages).toBe(2);
    await Promise.resolve();
    expect(a.transport.stats().peers[0]!.queuedMessages).toBe(0);
    await waitFor("2 messages", () => b.received.length === 2);
    expectInOrder(b.received, 1, 2);
  });

  test("large payloads survive backpressure (partial writes continued on drain)", async () => {
    const frameBytesMax = 8 * 1024 * 1024;
    const [a, b] = [await node(1, { frameBytesMax, queueBytesMax: 16 * frameBytesMax }), await node(2, { frameBytesMax })];
    a.transport.setPeer(2, b.address);
    await waitFor("connected", () => a.transport.stats().peers[0]!.connected);
    const payloads = Array.from({ length: 12 }, (_, i) => {
      const p = new Uint8Array(frameBytesMax);
      for (let j = 0; j < p.length; j += 4096) p[j] = (i + j) & 0xff;
      p[0] = i;
      return p;
    });
    for (const p of payloads) expect(a.transport.send(2, p)).toBe(true);
    a.transport.flush();
    // 96 MiB cannot leave in one synchronous write: the remainder waits for drain.
    expect(a.transport.stats().peers[0]!.pendingBytes).toBeGreaterThan(0);
    // Messages sent meanwhile queue behind the remainder and keep their order.
    expect(a.transport.send(2, Uint8Array.of(200))).toBe(true);
    await waitFor("13 messages", () => b.received.length === 13, 30_000);
    for (let i = 0; i < 12; i++) expect(b.received[i]!.payload).toEqual(payloads[i]!);
    expect([...b.received[12]!.payload]).toEqual([200]);
    expect(a.transport.stats().peers[0]!.pendingBytes).toBe(0);
  });

  test("queued messages wait for a peer that is down, and flow after it comes back on the same port", async () => {
    const connectionEvents: [number, boolean][] = [];
    const a = await node(1, { onPeerConnection: (peerId, connected) => connectionEvents.push([peerId, connected]) });
    let b = await startNode(2);
    const port = b.transport.port;
    mesh([a, b]);
    await waitFor("connected", () => a.transport.stats().peers[0]!.connected);
    a.transport.send(2, numbered(1, 0));
    await waitFor("first message", () => b.received.length === 1);
    await b.transport.close();
    await waitFor("disconnect seen", () => !a.transport.stats().peers[0]!.connected);
    for (let i = 1; i <= 100; i++) expect(a.transport.send(2, numbered(1, i))).toBe(true);
    await Bun.sleep(100); // a few failed redials
    expect(a.transport.stats().peers[0]!.queuedMessages).toBe(100);
    b = await node(2, { listenPort: port });
    await waitFor("100 queued messages after restart", () => b.received.length === 100);
    expect(b.received.map((r) => sequenceOf(r.payload))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const stats = a.transport.stats().peers[0]!;
    expect(stats.connects).toBe(2);
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(stats.dials).toBeGreaterThanOrEqual(2);
    expect(connectionEvents).toEqual([[2, true], [2, false], [2, true]]);
  });

  test("a restarted sender's new connection replaces its old one at the receiver", async () => {
    const b = await node(2);
    const first = await startNode(1);
    first.transport.setPeer(2, b.address);
    first.transport.send(2, numbered(1, 0));
    await waitFor("from the first incarnation", () => b.received.length === 1);
    await first.transport.close();
    const second = await node(1);
    second.transport.setPeer(2, b.address);
    second.transport.send(2, numbered(1, 1));
    await waitFor("from the second incarnation", () => b.received.length === 2);
    expect(b.received.map((r) => [r.from, sequenceOf(r.payload)])).toEqual([[1, 0], [1, 1]]);
    await waitFor("old connection gone", () => b.transport.stats().inbound[0]!.connections === 2);
    expect(b.transport.stats().inbound[0]).toMatchObject({ peerId: 1, connected: true, receivedMessages: 2 });
  });

  test("a peer's address can change and the peer be removed at runtime", async () => {
    const a = await node(1);
    const b1 = await node(2);
    const b2 = await node(2);
    a.transport.setPeer(2, b1.address);
    a.transport.send(2, numbered(1, 0));
    await waitFor("message at first address", () => b1.received.length === 1);
    a.transport.setPeer(2, b2.address);
    a.transport.send(2, numbered(1, 1));
    await waitFor("message at second address", () => b2.received.length === 1);
    expect(sequenceOf(b2.received[0]!.payload)).toBe(1);
    expect(b1.received.length).toBe(1);
    expect(a.transport.removePeer(2)).toBe(true);
    expect(a.transport.removePeer(2)).toBe(false);
    expect(a.transport.send(2, numbered(1, 2))).toBe(false);
    const stats = a.transport.stats();
    expect(stats.peers).toEqual([]);
    expect(stats.unknownPeerDrops).toBe(1);
  });

  test("setPeer refuses our own id, bad ids and bad addresses", async () => {
    const a = await node(1);
    expect(() => a.transport.setPeer(1, "127.0.0.1:1000")).toThrow(/other than this node/);
    expect(() => a.transport.setPeer(0, "127.0.0.1:1000")).toThrow();
    expect(() => a.transport.setPeer(2, "nonsense")).toThrow(/host:port/);
  });

  test("bad options are refused at creation, naming the option", async () => {
    const base = { nodeId: 1, secret: "mRpzYOtIRDIquuEr41Dgl3XdVLoWz_j_0JZp0aZjI9g", onMessage() {} };
    await expect(createTransport({ ...base, secret: "short" })).rejects.toThrow(/secret/);
    await expect(createTransport({ ...base, nodeId: -1 })).rejects.toThrow(/nodeId/);
    await expect(createTransport({ ...base, frameBytesMax: 0 })).rejects.toThrow(/frameBytesMax/);
    await expect(createTransport({ ...base, frameBytesMax: 1000, queueBytesMax: 10 })).rejects.toThrow(/queueBytesMax/);
  });

  test("a full queue drops the newest messages and counts them, by messages and by bytes", async () => {
    // Nothing listens on this port: the peer stays down and messages stay queued.
    const probe = await node(9);
    const deadPort = probe.transport.port;
    await probe.transport.close();
    const a = await node(1, { queueMessagesMax: 10, frameBytesMax: 500, queueBytesMax: 1_000 });
    a.transport.setPeer(2, `127.0.0.1:${deadPort}`);
    const accepted = Array.from({ length: 15 }, (_, i) => a.transport.send(2, numbered(1, i, 10)));
    expect(accepted).toEqual([...Array(10).fill(true), ...Array(5).fill(false)]);
    let stats = a.transport.stats().peers[0]!;
    expect(stats).toMatchObject({ queuedMessages: 10, queuedBytes: 100, droppedMessages: 5, connected: false });

    a.transport.setPeer(3, `127.0.0.1:${deadPort}`);
    expect(a.transport.send(3, new Uint8Array(501))).toBe(false); // over frameBytesMax
    expect(a.transport.send(3, new Uint8Array(450))).toBe(true);
    expect(a.transport.send(3, new Uint8Array(450))).toBe(true);
    expect(a.transport.send(3, new Uint8Array(450))).toBe(false); // 1350 > queueBytesMax
    expect(a.transport.send(3, new Uint8Array(100))).toBe(true); // exactly 1000
    stats = a.transport.stats().peers.find((p) => p.peerId === 3)!;
    expect(stats).toMatchObject({ queuedMessages: 3, queuedBytes: 1_000, droppedMessages: 2 });
    await Bun.sleep(100);
    // Redials keep failing and backing off; the queue stays bounded.
    stats = a.transport.stats().peers.find((p) => p.peerId === 2)!;
    expect(stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(stats.queuedMessages).toBe(10);
  });

  test("an exception in onMessage is logged and the next messages still arrive", async () => {
    const errors: string[] = [];
    let calls = 0;
    const b = await node(2, {
      onMessage: () => {
        calls++;
        if (calls === 1) throw new Error("application bug");
      },
      logger: { info() {}, warn() {}, error: (_obj, msg) => errors.push(msg) },
    });
    const a = await node(1);
    a.transport.setPeer(2, b.address);
    for (let i = 0; i < 3; i++) a.transport.send(2, numbered(1, i));
    await waitFor("3 deliveries", () => calls === 3);
    expect(errors).toEqual(["transport onMessage threw; message skipped"]);
  });
});
