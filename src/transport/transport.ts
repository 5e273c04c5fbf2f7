/**
 * @module transport/transport. Raft's peer transport over Bun TCP (optionally TLS) sockets.
 *
 * Each node dials one long-lived outbound connection to every peer and sends only on it; it
 * receives only on the connections peers dial to it. So between two nodes there are two
 * connections, one per direction, and per-peer order is simply TCP order.
 *
 * Sending: `send` appends to a bounded per-peer queue; `flush` (called by the node once per Ready
 * cycle, and otherwise by a microtask) encodes a peer's whole queue into one buffer and writes it
 * with a single socket write. Bun's write is unbuffered: what it does not take is kept as the
 * connection's pending remainder and written on `drain`; while a remainder is pending, new
 * messages wait in the queue, and when the queue is full the newest are dropped and counted
 * (Raft retransmits). Nothing blocks and nothing grows without bound.
 *
 * Connections authenticate with the cluster-secret handshake of handshake.ts before any MESSAGE
 * frame is accepted: the dialer proves first, the acceptor answers only a valid proof. Frames are
 * those of frame.ts. A malformed frame, a failed handshake or a protocol violation closes that one
 * connection; the listener and other connections carry on. Outbound connections that fail or drop
 * are redialed with bounded, jittered exponential backoff.
 *
 * Strangers cannot lock peers out: an inbound connection holds a handshake slot only until it
 * authenticates or `handshakeTimeoutMs` passes, and the slots are bounded in total and per source
 * address (transport/address.ts sourceKeyOf), so idle connections from one source leave the
 * other slots to real peers. Refusals of inbound connections are logged at most once per second
 * per reason (the rest are counted), so a flood does not become a log flood.
 */

import type { Socket, SocketHandler, TCPSocketListener } from "bun";
import { assert, concatBytes, type RandomSource } from "../lib/index.ts";
import { formatPeerAddress, parsePeerAddress, sourceKeyOf, type PeerAddress } from "./address.ts";
import { backoffDelayMs } from "./backoff.ts";
import {
  FrameDecoder,
  FrameType,
  describeFrameError,
  encodeFrame,
  encodeMessageBatch,
  handshakeFrameBytesMax,
} from "./frame.ts";
import {
  Role,
  computeProof,
  decodeHello,
  encodeHello,
  isNodeId,
  newNonce,
  verifyProof,
  type ProofInput,
} from "./handshake.ts";
import { invalidOption, mathRandom, resolveOptions, silentLogger, type ResolvedOptions } from "./options.ts";
import type {
  InboundStats,
  PeerStats,
  RejectReason,
  Transport,
  TransportLogger,
  TransportOptions,
  TransportStats,
} from "./types.ts";

/** A connection that stayed up this long resets the backoff; one that keeps dropping sooner keeps backing off. */
const connectionStableMs = 1_000;
/** How long `close` waits for sockets to report closed before it returns anyway. */
const closeWaitMs = 1_000;
/** At most one queue-full warning per peer per this interval; drops are counted regardless. */
const dropLogIntervalMs = 1_000;
/** Idle time before TCP keepalive probes, so a silently vanished peer is noticed. */
const keepAliveDelayMs = 10_000;
/** At most one log line per reason per this interval for inbound refusals; the rest are counted. */
const inboundLogIntervalMs = 1_000;

type ConnectionState = "hello" | "auth" | "ready" | "closed";

/** One TCP connection, either dialed (to `peer`) or accepted. */
class Connection {
  socket: Socket<Connection> | null = null;
  state: ConnectionState = "hello";
  readonly decoder = new FrameDecoder(handshakeFrameBytesMax);
  readonly localNonce = newNonce();
  remoteNonce: Uint8Array | null = null;
  /** The authenticated (or, before that, claimed) id of the other node. */
  remoteId: number | undefined;
  /** Bytes of the last write the socket has not taken yet. */
  pending: Uint8Array | null = null;
  /** MESSAGE frames inside `pending` (lost if the connection drops first). */
  pendingMessages = 0;
  handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Accepted connections: the source it is counted under while it holds a handshake slot. */
  handshakeSlotSource: string | null = null;
  /** Dialed connections: our proof went out, so a close before the acceptor's proof means it was refused. */
  proofSent = false;
  readyAtMs = 0;
  /** The close has been accounted for (close handler and abort can both report it). */
  closeHandled = false;

  constructor(
    readonly role: Role,
    readonly peer: PeerState | null,
  ) {}

  get remoteAddress(): string {
    if (this.peer) return formatPeerAddress(this.peer.address);
    return this.socket ? `${this.socket.remoteAddress}:${this.socket.remotePort}` : "unknown";
  }
}

interface PeerState {
  readonly id: number;
  address: PeerAddress;
  conn: Connection | null;
  queue: Uint8Array[];
  queuedBytes: number;
  backoffAttempt: number;
  reconnectTimer: ReturnType<typeof setTimeout> | null;
  dropLoggedAtMs: number;
  stats: Omit<PeerStats, "peerId" | "address" | "connected" | "queuedMessages" | "queuedBytes" | "pendingBytes">;
}

class PeerTransport implements Transport {
  readonly nodeId: number;
  private readonly limits: ResolvedOptions;
  private readonly logger: TransportLogger;
  private readonly random: RandomSource;
  private listener: TCPSocketListener<Connection> | null = null;
  private readonly peers = new Map<number, PeerState>();
  /** Every accepted connection, authenticated or not. */
  private readonly inboundConnections = new Set<Connection>();
  /** The current authenticated inbound connection of each peer. */
  private readonly inboundById = new Map<number, Connection>();
  private readonly inboundStats = new Map<number, Omit<InboundStats, "peerId" | "connected">>();
  /** Handshake slots held by accepted, unauthenticated connections: in total and per source. */
  private inboundHandshakes = 0;
  private readonly inboundHandshakesBySource = new Map<string, number>();
  /** Per log key: when an inbound event was last logged, and how many were not logged since. */
  private readonly inboundLog = new Map<string, { atMs: number; suppressed: number }>();
  private openSockets = 0;
  private rejectedConnections = 0;
  private malformedFrames = 0;
  private unknownPeerDrops = 0;
  private flushScheduled = false;
  private closed = false;
  private readonly autoFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(private readonly options: TransportOptions) {
    this.limits = resolveOptions(options);
    this.nodeId = this.limits.nodeId;
    this.logger = options.logger ?? silentLogger;
    this.random = options.random ?? mathRandom;
  }

  get frameBytesMax(): number {
    return this.limits.frameBytesMax;
  }

  get port(): number {
    return this.listener?.port ?? 0;
  }

  listen(): void {
    const tls = this.options.tls;
    this.listener = Bun.listen<Connection>({
      hostname: this.options.listenHost ?? "127.0.0.1",
      port: this.options.listenPort ?? 0,
      socket: this.acceptorHandlers,
      ...(tls
        ? {
            tls: {
              cert: tls.cert,
              key: tls.key,
              ca: tls.ca,
              requestCert: tls.requestCert ?? false,
              rejectUnauthorized: tls.rejectUnauthorized ?? true,
            },
          }
        : {}),
    });
    this.logger.info({ nodeId: this.nodeId, port: this.port, tls: tls !== undefined }, "transport listening");
  }

  // ---- public surface -------------------------------------------------------------------

  setPeer(peerId: number, addressText: string): void {
    if (this.closed) return;
    if (!isNodeId(peerId) || peerId === this.nodeId) {
      throw invalidOption(`peer id ${String(peerId)} is not a positive integer other than this node's ${this.nodeId}`);
    }
    const address = parsePeerAddress(addressText);
    if (typeof address === "string") throw invalidOption(address);
    const existing = this.peers.get(peerId);
    if (existing) {
      if (existing.address.host === address.host && existing.address.port === address.port) return;
      this.logger.info({ peerId, address: addressText }, "transport peer address changed");
      existing.address = address;
      existing.backoffAttempt = 0;
      this.clearReconnect(existing);
      this.detachOutbound(existing);
      this.dial(existing);
      return;
    }
    const peer: PeerState = {
      id: peerId,
      address,
      conn: null,
      queue: [],
      queuedBytes: 0,
      backoffAttempt: 0,
      reconnectTimer: null,
      dropLoggedAtMs: 0,
      stats: { sentMessages: 0, sentBytes: 0, writes: 0, droppedMessages: 0, lostMessages: 0, dials: 0, connects: 0, reconnects: 0 },
    };
    this.peers.set(peerId, peer);
    this.logger.info({ peerId, address: addressText }, "transport peer added");
    this.dial(peer);
  }

  removePeer(peerId: number): boolean {
    const peer = this.peers.get(peerId);
    if (!peer) return false;
    this.peers.delete(peerId);
    this.clearReconnect(peer);
    this.detachOutbound(peer);
    peer.queue = [];
    peer.queuedBytes = 0;
    this.logger.info({ peerId }, "transport peer removed");
    return true;
  }

  send(to: number, payload: Uint8Array): boolean {
    const peer = this.peers.get(to);
    if (!peer || this.closed) {
      this.unknownPeerDrops++;
      return false;
    }
    const limits = this.limits;
    if (
      payload.length > limits.frameBytesMax ||
      peer.queue.length >= limits.queueMessagesMax ||
      peer.queuedBytes + payload.length > limits.queueBytesMax
    ) {
      this.countDrop(peer, payload.length);
      return false;
    }
    peer.queue.push(payload);
    peer.queuedBytes += payload.length;
    if (limits.writeEachMessage) {
      this.flushPeer(peer);
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.autoFlush);
    }
    return true;
  }

  flush(): void {
    for (const peer of this.peers.values()) this.flushPeer(peer);
  }

  stats(): TransportStats {
    const peers: PeerStats[] = [];
    for (const peer of this.peers.values()) {
      peers.push({
        peerId: peer.id,
        address: formatPeerAddress(peer.address),
        connected: peer.conn?.state === "ready",
        queuedMessages: peer.queue.length,
        queuedBytes: peer.queuedBytes,
        pendingBytes: peer.conn?.pending?.length ?? 0,
        ...peer.stats,
      });
    }
    const inbound: InboundStats[] = [];
    for (const [peerId, stats] of this.inboundStats) {
      inbound.push({ peerId, connected: this.inboundById.has(peerId), ...stats });
    }
    return {
      nodeId: this.nodeId,
      port: this.port,
      peers,
      inbound,
      rejectedConnections: this.rejectedConnections,
      malformedFrames: this.malformedFrames,
      unknownPeerDrops: this.unknownPeerDrops,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peers.values()) {
      this.clearReconnect(peer);
      this.detachOutbound(peer);
      peer.queue = [];
      peer.queuedBytes = 0;
    }
    for (const conn of this.inboundConnections) this.closeConnection(conn, false);
    this.listener?.stop(true);
    const deadline = Date.now() + closeWaitMs;
    while (this.openSockets > 0 && Date.now() < deadline) await Bun.sleep(5);
    this.logger.info({ nodeId: this.nodeId }, "transport closed");
  }

  // ---- sending ----------------------------------------------------------------------------

  private countDrop(peer: PeerState, payloadBytes: number): void {
    peer.stats.droppedMessages++;
    const now = Date.now();
    if (now - peer.dropLoggedAtMs < dropLogIntervalMs) return;
    peer.dropLoggedAtMs = now;
    this.logger.warn(
      {
        peerId: peer.id,
        payloadBytes,
        queuedMessages: peer.queue.length,
        queuedBytes: peer.queuedBytes,
        droppedMessages: peer.stats.droppedMessages,
      },
      "transport send queue full or payload too large; dropping",
    );
  }

  /** Writes the peer's queue as one batch, if its connection is ready and not backpressured. */
  private flushPeer(peer: PeerState): void {
    const conn = peer.conn;
    if (!conn || conn.state !== "ready" || conn.pending !== null || peer.queue.length === 0) return;
    if (this.limits.writeEachMessage) {
      let written = 0;
      while (written < peer.queue.length && conn.pending === null && conn.state === "ready") {
        const payload = peer.queue[written++]!;
        peer.queuedBytes -= payload.length;
        this.countSent(peer, 1, payload.length);
        this.write(conn, encodeFrame(FrameType.message, payload), 1);
      }
      peer.queue.splice(0, written);
      return;
    }
    const messages = peer.queue.length;
    const payloadBytes = peer.queuedBytes;
    const batch = encodeMessageBatch(peer.queue, payloadBytes);
    peer.queue = [];
    peer.queuedBytes = 0;
    this.countSent(peer, messages, payloadBytes);
    this.write(conn, batch, messages);
  }

  private countSent(peer: PeerState, messages: number, payloadBytes: number): void {
    peer.stats.writes++;
    peer.stats.sentMessages += messages;
    peer.stats.sentBytes += payloadBytes;
  }

  /** One socket write; what the socket does not take becomes the pending remainder. */
  private write(conn: Connection, bytes: Uint8Array, messages: number): void {
    const socket = conn.socket;
    assert(socket !== null && conn.state !== "closed", "transport write on a connection without a socket");
    if (conn.pending !== null) {
      // Only handshake frames can arrive here while a remainder is pending.
      conn.pending = concatBytes([conn.pending, bytes]);
      conn.pendingMessages += messages;
      return;
    }
    const written = socket.write(bytes);
    if (written === bytes.length) return;
    conn.pending = written > 0 ? bytes.subarray(written) : bytes;
    conn.pendingMessages = messages;
  }

  private onDrain(conn: Connection): void {
    const socket = conn.socket;
    if (conn.pending !== null && socket !== null && conn.state !== "closed") {
      const written = socket.write(conn.pending);
      if (written < conn.pending.length) {
        if (written > 0) conn.pending = conn.pending.subarray(written);
        return;
      }
      conn.pending = null;
      conn.pendingMessages = 0;
    }
    if (conn.peer && conn.peer.conn === conn) this.flushPeer(conn.peer);
  }

  // ---- outbound connections ---------------------------------------------------------------

  private dial(peer: PeerState): void {
    assert(peer.conn === null, "transport dial with a connection in place");
    const conn = new Connection(Role.dialer, peer);
    conn.remoteId = peer.id;
    peer.conn = conn;
    peer.stats.dials++;
    conn.handshakeTimer = setTimeout(() => this.abort(conn, "handshake_timeout"), this.limits.handshakeTimeoutMs);
    const tls = this.options.tls;
    Bun.connect<Connection>({
      hostname: peer.address.host,
      port: peer.address.port,
      data: conn,
      socket: this.dialerHandlers,
      ...(tls
        ? {
            tls: {
              ca: tls.ca,
              cert: tls.requestCert ? tls.cert : undefined,
              key: tls.requestCert ? tls.key : undefined,
              serverName: tls.serverName ?? peer.address.host,
              rejectUnauthorized: tls.rejectUnauthorized ?? true,
            },
          }
        : {}),
    }).then(
      (socket) => {
        if (conn.state === "closed") socket.end();
      },
      (error: unknown) => {
        if (conn.state !== "closed") {
          this.logger.info(
            { peerId: peer.id, address: formatPeerAddress(peer.address), error: String(error) },
            "transport dial failed",
          );
        }
        this.onClosed(conn);
      },
    );
  }

  /** Takes the outbound connection away from the peer (no reconnect) and closes it. */
  private detachOutbound(peer: PeerState): void {
    const conn = peer.conn;
    if (!conn) return;
    peer.conn = null;
    peer.stats.lostMessages += conn.pendingMessages;
    conn.pendingMessages = 0;
    this.closeConnection(conn, false);
  }

  private scheduleReconnect(peer: PeerState): void {
    if (this.closed || peer.reconnectTimer !== null || this.peers.get(peer.id) !== peer) return;
    const delayMs = backoffDelayMs(peer.backoffAttempt, this.limits.backoff, this.random);
    peer.backoffAttempt++;
    peer.stats.reconnects++;
    peer.reconnectTimer = setTimeout(() => {
      peer.reconnectTimer = null;
      if (this.closed || this.peers.get(peer.id) !== peer || peer.conn !== null) return;
      this.dial(peer);
    }, delayMs);
  }

  private clearReconnect(peer: PeerState): void {
    if (peer.reconnectTimer === null) return;
    clearTimeout(peer.reconnectTimer);
    peer.reconnectTimer = null;
  }

  // ---- socket events ----------------------------------------------------------------------

  private onOpen(socket: Socket<Connection>, conn: Connection): void {
    this.openSockets++;
    conn.socket = socket;
    if (conn.state === "closed" || this.closed) {
      socket.end();
      return;
    }
    socket.setNoDelay(true);
    if (conn.role === Role.dialer) {
      const hello = encodeHello({ role: Role.dialer, senderId: this.nodeId, receiverId: conn.remoteId!, nonce: conn.localNonce });
      this.write(conn, encodeFrame(FrameType.hello, hello), 0);
    }
  }

  private onData(conn: Connection, chunk: Uint8Array): void {
    if (conn.state === "closed") return;
    const error = conn.decoder.feed(chunk, (type, payload) => this.onFrame(conn, type, payload));
    if (error === undefined) return;
    this.malformedFrames++;
    this.reject(conn, "malformed_frame", describeFrameError(error));
  }

  /** Handles one frame; returns false once the connection is closing. */
  private onFrame(conn: Connection, type: FrameType, payload: Uint8Array): boolean {
    if (conn.state === "ready" && type === FrameType.message && conn.role === Role.acceptor) {
      this.deliver(conn, payload);
      return true;
    }
    if (conn.state === "hello" && type === FrameType.hello) {
      if (conn.role === Role.acceptor) this.acceptorHello(conn, payload);
      else this.dialerHello(conn, payload);
    } else if (conn.state === "auth" && type === FrameType.auth) {
      if (conn.role === Role.acceptor) this.acceptorAuth(conn, payload);
      else this.dialerAuth(conn, payload);
    } else {
      this.reject(conn, "protocol_violation", `frame type ${type} in state ${conn.state} of a ${conn.role === Role.dialer ? "dialed" : "accepted"} connection`);
    }
    return conn.state !== "closed";
  }

  private deliver(conn: Connection, payload: Uint8Array): void {
    const from = conn.remoteId!;
    const stats = this.inboundStats.get(from);
    if (stats) {
      stats.receivedMessages++;
      stats.receivedBytes += payload.length;
    }
    try {
      this.options.onMessage(from, payload);
    } catch (error) {
      this.logger.error({ peerId: from, error: String(error) }, "transport onMessage threw; message skipped");
    }
  }

  private proofInput(conn: Connection): ProofInput {
    const dialer = conn.role === Role.dialer;
    return {
      secret: this.limits.secret,
      dialerId: dialer ? this.nodeId : conn.remoteId!,
      acceptorId: dialer ? conn.remoteId! : this.nodeId,
      dialerNonce: dialer ? conn.localNonce : conn.remoteNonce!,
      acceptorNonce: dialer ? conn.remoteNonce! : conn.localNonce,
    };
  }

  /** Step 1 → 2: checks the dialer's HELLO and answers with our HELLO: a nonce, never a proof. */
  private acceptorHello(conn: Connection, payload: Uint8Array): void {
    const hello = decodeHello(payload);
    if (typeof hello === "string") return this.reject(conn, "bad_hello", hello);
    conn.remoteId = hello.senderId;
    if (hello.role !== Role.dialer) return this.reject(conn, "bad_hello", "hello from a dialer claims the acceptor role");
    if (hello.receiverId !== this.nodeId) {
      return this.reject(conn, "wrong_receiver", `dialer wants node ${hello.receiverId}, this is node ${this.nodeId}`);
    }
    if (hello.senderId === this.nodeId) {
      return this.reject(conn, "peer_not_accepted", `the dialer claims this node's own id ${this.nodeId}`);
    }
    conn.remoteNonce = hello.nonce;
    conn.state = "auth";
    const reply = encodeHello({ role: Role.acceptor, senderId: this.nodeId, receiverId: hello.senderId, nonce: conn.localNonce });
    this.write(conn, encodeFrame(FrameType.hello, reply), 0);
  }

  private peerAccepted(peerId: number): boolean {
    if (peerId === this.nodeId) return false;
    if (!this.options.acceptPeer) return true;
    try {
      return this.options.acceptPeer(peerId) === true;
    } catch (error) {
      this.logger.error({ peerId, error: String(error) }, "transport acceptPeer threw; peer refused");
      return false;
    }
  }

  /**
   * Step 3 → 4: checks the dialer's proof; only then asks the application whether it accepts the
   * (now authenticated) id, and answers with our own proof. Any refusal closes the connection
   * without another byte, so a stranger learns neither a proof nor who the members are.
   */
  private acceptorAuth(conn: Connection, payload: Uint8Array): void {
    const input = this.proofInput(conn);
    if (!verifyProof(Role.dialer, input, payload)) {
      return this.reject(conn, "bad_proof", "dialer's proof does not match the cluster secret");
    }
    const peerId = conn.remoteId!;
    if (!this.peerAccepted(peerId)) {
      return this.reject(conn, "peer_not_accepted", `node ${peerId} is not accepted by this node`);
    }
    this.write(conn, encodeFrame(FrameType.auth, computeProof(Role.acceptor, input)), 0);
    this.markReady(conn);
    this.releaseHandshakeSlot(conn);
    const previous = this.inboundById.get(peerId);
    this.inboundById.set(peerId, conn);
    if (previous) this.closeConnection(previous, false);
    let stats = this.inboundStats.get(peerId);
    if (!stats) {
      stats = { receivedMessages: 0, receivedBytes: 0, connections: 0 };
      this.inboundStats.set(peerId, stats);
    }
    stats.connections++;
    this.logger.info({ peerId, remote: conn.remoteAddress }, "transport inbound peer authenticated");
  }

  /** Step 2 → 3: checks the acceptor's HELLO and proves that we know the secret. */
  private dialerHello(conn: Connection, payload: Uint8Array): void {
    const hello = decodeHello(payload);
    if (typeof hello === "string") return this.reject(conn, "bad_hello", hello);
    if (hello.role !== Role.acceptor) return this.reject(conn, "bad_hello", "hello from an acceptor claims the dialer role");
    if (hello.senderId !== conn.remoteId || hello.receiverId !== this.nodeId) {
      return this.reject(
        conn,
        "unexpected_peer_id",
        `dialed node ${conn.remoteId} as node ${this.nodeId}, answered by node ${hello.senderId} for node ${hello.receiverId}`,
      );
    }
    conn.remoteNonce = hello.nonce;
    conn.state = "auth";
    this.write(conn, encodeFrame(FrameType.auth, computeProof(Role.dialer, this.proofInput(conn))), 0);
    conn.proofSent = true;
  }

  /** Step 4 → 5: checks the acceptor's proof; the connection then carries our messages. */
  private dialerAuth(conn: Connection, payload: Uint8Array): void {
    if (!verifyProof(Role.acceptor, this.proofInput(conn), payload)) {
      return this.reject(conn, "bad_proof", "acceptor's proof does not match the cluster secret");
    }
    this.markReady(conn);
    const peer = conn.peer!;
    peer.stats.connects++;
    socketKeepAlive(conn);
    this.logger.info({ peerId: peer.id, address: formatPeerAddress(peer.address) }, "transport connected to peer");
    this.flushPeer(peer);
    this.notifyConnection(peer.id, true);
  }

  private markReady(conn: Connection): void {
    conn.state = "ready";
    conn.readyAtMs = Date.now();
    conn.decoder.payloadBytesMax = this.limits.frameBytesMax;
    if (conn.handshakeTimer !== null) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
  }

  private reject(conn: Connection, reason: RejectReason, detail: string): void {
    if (conn.state === "closed") return;
    this.reportRejection(conn, reason, detail);
    this.closeConnection(conn, true);
  }

  /** Counts, logs (inbound: rate limited) and reports a refused connection. */
  private reportRejection(conn: Connection, reason: RejectReason, detail: string): void {
    this.rejectedConnections++;
    const event = {
      direction: conn.role === Role.dialer ? ("outbound" as const) : ("inbound" as const),
      peerId: conn.remoteId,
      remoteAddress: conn.remoteAddress,
      reason,
      detail,
    };
    if (event.direction === "outbound") this.logger.warn(event, "transport connection refused");
    else this.logInbound(`refused:${reason}`, "warn", event, "transport connection refused");
    try {
      this.options.onPeerRejected?.(event);
    } catch (error) {
      this.logger.error({ error: String(error) }, "transport onPeerRejected threw");
    }
  }

  /**
   * Logs an event about an inbound connection at most once per `inboundLogIntervalMs` per key;
   * the line carries how many were left out since the last one.
   */
  private logInbound(key: string, level: "info" | "warn", event: object, message: string): void {
    const now = Date.now();
    const last = this.inboundLog.get(key);
    if (last && now - last.atMs < inboundLogIntervalMs) {
      last.suppressed++;
      return;
    }
    this.inboundLog.set(key, { atMs: now, suppressed: 0 });
    const suppressed = last?.suppressed ?? 0;
    this.logger[level](suppressed > 0 ? { ...event, suppressedSinceLastLog: suppressed } : event, message);
  }

  /**
   * Gives an accepted connection a handshake slot, or says why not: the total or its source's
   * limit is reached. A slot is held until the connection authenticates or closes.
   */
  private takeHandshakeSlot(conn: Connection, remoteIp: string): { reason: RejectReason; detail: string } | undefined {
    const limits = this.limits;
    const source = sourceKeyOf(remoteIp);
    const fromSource = this.inboundHandshakesBySource.get(source) ?? 0;
    if (this.inboundHandshakes >= limits.inboundHandshakesMax) {
      return { reason: "too_many_handshakes", detail: `already ${limits.inboundHandshakesMax} unauthenticated connections` };
    }
    if (fromSource >= limits.inboundHandshakesPerSourceMax) {
      return {
        reason: "too_many_source_handshakes",
        detail: `already ${limits.inboundHandshakesPerSourceMax} unauthenticated connections from ${source}`,
      };
    }
    this.inboundHandshakes++;
    this.inboundHandshakesBySource.set(source, fromSource + 1);
    conn.handshakeSlotSource = source;
    return undefined;
  }

  private releaseHandshakeSlot(conn: Connection): void {
    const source = conn.handshakeSlotSource;
    if (source === null) return;
    conn.handshakeSlotSource = null;
    this.inboundHandshakes--;
    const left = (this.inboundHandshakesBySource.get(source) ?? 0) - 1;
    if (left > 0) this.inboundHandshakesBySource.set(source, left);
    else this.inboundHandshakesBySource.delete(source);
    assert(this.inboundHandshakes >= 0 && left >= 0, "transport handshake slots released more often than taken");
  }

  private notifyConnection(peerId: number, connected: boolean): void {
    if (this.closed || !this.options.onPeerConnection) return;
    try {
      this.options.onPeerConnection(peerId, connected);
    } catch (error) {
      this.logger.error({ peerId, error: String(error) }, "transport onPeerConnection threw");
    }
  }

  /** Aborts a connection that has not authenticated in time. */
  private abort(conn: Connection, reason: RejectReason): void {
    conn.handshakeTimer = null;
    if (conn.state === "closed" || conn.state === "ready") return;
    if (conn.socket === null) {
      // Still connecting: give up on this attempt; its socket is ended if it opens later.
      this.logger.info({ peerId: conn.remoteId, remote: conn.remoteAddress }, "transport dial timed out");
      conn.state = "closed";
      this.onClosed(conn);
      return;
    }
    this.reject(conn, reason, `no handshake within ${this.limits.handshakeTimeoutMs} ms`);
  }

  /** Closes the socket; `abrupt` sends a reset (refused peers) instead of a graceful end. */
  private closeConnection(conn: Connection, abrupt: boolean): void {
    if (conn.state === "closed") return;
    conn.state = "closed";
    if (conn.handshakeTimer !== null) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
    const socket = conn.socket;
    if (socket === null) return; // the connect promise or open handler finishes the job
    if (abrupt) socket.terminate();
    else socket.end();
  }

  /** Accounts for a closed connection exactly once, and redials a dropped outbound one. */
  private onClosed(conn: Connection): void {
    if (conn.closeHandled) return;
    conn.closeHandled = true;
    const wasAuthenticating = conn.role === Role.acceptor && conn.readyAtMs === 0;
    // Still mid-handshake (not closed by us) after our proof went out: the acceptor refused it.
    const proofRefused = conn.role === Role.dialer && conn.proofSent && conn.readyAtMs === 0 && conn.state === "auth";
    conn.state = "closed";
    if (conn.handshakeTimer !== null) clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = null;
    if (conn.role === Role.acceptor) {
      const held = conn.handshakeSlotSource !== null;
      this.releaseHandshakeSlot(conn);
      if (this.inboundConnections.delete(conn) && wasAuthenticating && held && !this.closed) {
        this.logInbound("closed-unauthenticated", "info", { peerId: conn.remoteId, remote: conn.remoteAddress }, "transport inbound connection closed before authenticating");
      }
      if (conn.remoteId !== undefined && this.inboundById.get(conn.remoteId) === conn) {
        this.inboundById.delete(conn.remoteId);
        this.logger.info({ peerId: conn.remoteId }, "transport inbound peer disconnected");
      }
      return;
    }
    const peer = conn.peer!;
    if (peer.conn !== conn) return; // detached on purpose: no reconnect
    peer.conn = null;
    peer.stats.lostMessages += conn.pendingMessages;
    conn.pendingMessages = 0;
    if (proofRefused && !this.closed) {
      this.reportRejection(
        conn,
        "proof_refused",
        "the peer closed the connection after our proof: it holds another discovery.cluster_secret, or does not accept this node",
      );
    } else if (conn.readyAtMs === 0 && conn.socket !== null && !this.closed) {
      this.logger.info({ peerId: peer.id, address: formatPeerAddress(peer.address) }, "transport peer closed the connection during the handshake");
    }
    if (conn.readyAtMs > 0) {
      this.logger.info({ peerId: peer.id }, "transport connection to peer dropped");
      if (Date.now() - conn.readyAtMs >= connectionStableMs) peer.backoffAttempt = 0;
      this.notifyConnection(peer.id, false);
    }
    this.scheduleReconnect(peer);
  }

  // ---- handler tables (one per direction, shared by all sockets) ---------------------------

  private readonly dialerHandlers: SocketHandler<Connection> = {
    binaryType: "uint8array",
    open: (socket) => this.onOpen(socket, socket.data),
    data: (socket, chunk) => this.onData(socket.data, chunk),
    drain: (socket) => this.onDrain(socket.data),
    close: (socket) => {
      if (socket.data.socket !== null) this.openSockets--;
      this.onClosed(socket.data);
    },
    error: (socket, error) => {
      this.logger.warn({ peerId: socket.data.remoteId, error: String(error) }, "transport socket error");
    },
    connectError: () => {
      // The connect promise rejects too; dial() handles it there.
    },
  };

  private readonly acceptorHandlers: SocketHandler<Connection> = {
    binaryType: "uint8array",
    open: (socket) => {
      const conn = new Connection(Role.acceptor, null);
      socket.data = conn;
      this.inboundConnections.add(conn);
      this.onOpen(socket, conn);
      if (conn.state === "closed" || this.closed) return;
      const refusal = this.takeHandshakeSlot(conn, socket.remoteAddress);
      if (refusal) {
        this.reject(conn, refusal.reason, refusal.detail);
        return;
      }
      conn.handshakeTimer = setTimeout(() => this.abort(conn, "handshake_timeout"), this.limits.handshakeTimeoutMs);
    },
    data: (socket, chunk) => this.onData(socket.data, chunk),
    drain: (socket) => this.onDrain(socket.data),
    close: (socket) => {
      if (!socket.data) return;
      this.openSockets--;
      this.onClosed(socket.data);
    },
    error: (socket, error) => {
      this.logger.warn({ peerId: socket.data?.remoteId, error: String(error) }, "transport socket error");
    },
  };
}

function socketKeepAlive(conn: Connection): void {
  conn.socket?.setKeepAlive(true, keepAliveDelayMs);
}

/**
 * Starts a transport listening on `listenHost:listenPort`. Throws a ScribeError
 * ("invalid_request") naming the first bad option, or the listen error.
 */
export async function createTransport(options: TransportOptions): Promise<Transport> {
  const transport = new PeerTransport(options);
  transport.listen();
  return transport;
}
