/** @module test/transport/helpers. Shared setup for the transport tests: transports, waits, raw sockets. */

import type { Socket } from "bun";
import net from "node:net";
import { createTransport, type Transport, type TransportOptions } from "../../src/transport/index.ts";

/** A random secret, as `scribe-node gen-secret` makes them. */
export const secret = "u319nzvbEZa6c9aECBhF20zjUitQjd64Bky4_5q3yiY";
/** Another random secret: a node holding it is not a member of the cluster holding `secret`. */
export const otherSecret = "0gSsZapmhFCrsq_FLhO_7kjoEtehSSaALGFHgzefHy8";

export interface Received {
  from: number;
  payload: Uint8Array;
}

export interface TestNode {
  transport: Transport;
  received: Received[];
  rejected: Parameters<NonNullable<TransportOptions["onPeerRejected"]>>[0][];
  address: string;
}

/** Starts a transport on a free loopback port that records what it receives and rejects. */
export async function startNode(nodeId: number, overrides: Partial<TransportOptions> = {}): Promise<TestNode> {
  const received: Received[] = [];
  const rejected: TestNode["rejected"] = [];
  const transport = await createTransport({
    nodeId,
    listenHost: "127.0.0.1",
    listenPort: 0,
    secret,
    backoffMsMin: 10,
    backoffMsMax: 200,
    onMessage: (from, payload) => received.push({ from, payload }),
    onPeerRejected: (event) => rejected.push(event),
    ...overrides,
  });
  return { transport, received, rejected, address: `127.0.0.1:${transport.port}` };
}

/** Polls `condition` every few ms; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** A payload that encodes (sender, sequence number) and some filler, so order and integrity can be checked. */
export function numbered(sender: number, sequence: number, bytes = 16): Uint8Array {
  const out = new Uint8Array(Math.max(bytes, 8));
  const view = new DataView(out.buffer);
  view.setUint32(0, sender);
  view.setUint32(4, sequence);
  for (let i = 8; i < out.length; i++) out[i] = (sequence + i) & 0xff;
  return out;
}

export function sequenceOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(4);
}

export function senderOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

/** A plain socket for speaking (or garbling) the protocol by hand. */
export interface RawClient {
  socket: Socket<undefined>;
  received: Uint8Array[];
  closed: () => boolean;
  write(bytes: Uint8Array | string): void;
}

export async function rawConnect(port: number): Promise<RawClient> {
  const received: Uint8Array[] = [];
  let isClosed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data: (_socket, chunk) => {
        received.push(new Uint8Array(chunk));
      },
      close: () => {
        isClosed = true;
      },
      error: () => {},
    },
  });
  return {
    socket,
    received,
    closed: () => isClosed,
    write: (bytes) => {
      socket.write(bytes);
    },
  };
}

/** An idle TCP connection opened from a chosen local address (a "stranger" elsewhere on the network). */
export interface IdleConnection {
  closed(): boolean;
  destroy(): void;
}

/**
 * Opens an idle connection to `port` from `localAddress` (e.g. 127.0.0.2: Linux routes all of
 * 127.0.0.0/8 to loopback, so a second source address needs no setup). Resolves once connected.
 */
export function idleConnection(port: number, localAddress: string): Promise<IdleConnection> {
  return new Promise((resolve, reject) => {
    let isClosed = false;
    let connected = false;
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.on("close", () => {
      isClosed = true;
      if (!connected) reject(new Error(`connection from ${localAddress} closed before it opened`));
    });
    socket.on("error", (error) => {
      if (!connected) reject(error);
    });
    socket.once("connect", () => {
      connected = true;
      resolve({ closed: () => isClosed, destroy: () => socket.destroy() });
    });
  });
}

/** True when this machine can open connections from `localAddress` (for skipping where it cannot). */
export async function canConnectFrom(localAddress: string): Promise<boolean> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const connection = await idleConnection(server.port, localAddress);
    connection.destroy();
    return true;
  } catch {
    return false;
  } finally {
    server.stop(true);
  }
}
