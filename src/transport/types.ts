/** @module transport/types. Options, events and statistics of the peer transport. */

import type { RandomSource } from "../lib/index.ts";

/** The subset of a pino logger the transport uses; pass a pino logger or any look-alike. */
export interface TransportLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** PEM strings or bytes, as Bun's TLS options accept them. */
export type Pem = string | Uint8Array;

export interface TransportTlsOptions {
  /** This node's certificate chain (PEM); presented as server, and as client when `requestCert`. */
  cert: Pem;
  /** Private key (PEM) of `cert`. */
  key: Pem;
  /** CAs that sign peers' certificates; for a self-signed cluster certificate, the certificate itself. */
  ca?: Pem | Pem[];
  /** Name checked against the server certificate when dialing; default: the peer's host. */
  serverName?: string;
  /** Verify the peer certificate (default true). Turning it off leaves only the secret handshake. */
  rejectUnauthorized?: boolean;
  /** Ask dialers for a client certificate too (mutual TLS). Default false. */
  requestCert?: boolean;
}

export type RejectReason =
  | "bad_hello"
  | "wrong_receiver"
  | "peer_not_accepted"
  | "unexpected_peer_id"
  | "bad_proof"
  | "protocol_violation"
  | "malformed_frame"
  | "handshake_timeout"
  | "too_many_handshakes"
  | "too_many_source_handshakes"
  | "proof_refused";

/**
 * Why a connection was refused: `bad_proof` the other side's proof does not match our secret;
 * `proof_refused` (outbound) the acceptor closed the connection after our proof, so it holds
 * another secret or does not accept this node; `too_many_handshakes` / `too_many_source_handshakes`
 * the limit of unauthenticated inbound connections in total / from one source address was reached.
 */
export interface PeerRejectedEvent {
  /** "inbound": a connection we accepted; "outbound": one we dialed. */
  direction: "inbound" | "outbound";
  /** The node id the remote claimed, when it got that far. */
  peerId: number | undefined;
  remoteAddress: string;
  reason: RejectReason;
  detail: string;
}

export interface TransportOptions {
  /** This node's id: a positive safe integer. */
  nodeId: number;
  /** Default "127.0.0.1". */
  listenHost?: string;
  /** Default 0: the system picks a free port; read it back from `transport.port`. */
  listenPort?: number;
  /**
   * The cluster secret; at least `secretBytesMin` (16) bytes. Strings are taken as UTF-8. Use a
   * random one (the node's configuration insists on 128 bits of entropy: `scribe-node gen-secret`).
   */
  secret: string | Uint8Array;
  tls?: TransportTlsOptions;
  /** Largest MESSAGE payload, in bytes; default `frameBytesMaxDefault` (64 MiB). */
  frameBytesMax?: number;
  /** Per-peer send queue limit in messages; default `queueMessagesMaxDefault`. */
  queueMessagesMax?: number;
  /** Per-peer send queue limit in payload bytes; default `queueBytesMaxDefault`; at least frameBytesMax. */
  queueBytesMax?: number;
  backoffMsMin?: number;
  backoffMsMax?: number;
  /** A connection that has not authenticated within this time is closed; default 1000. */
  handshakeTimeoutMs?: number;
  /** Unauthenticated inbound connections allowed at once; default 64. */
  inboundHandshakesMax?: number;
  /** Unauthenticated inbound connections allowed at once from one IPv4 address or IPv6 /64; default 8. */
  inboundHandshakesPerSourceMax?: number;
  /** Called for every message, in order per sender. Exceptions are logged and swallowed. */
  onMessage(from: number, payload: Uint8Array): void;
  /** Decides whether a peer claiming this id may connect; default: any id other than our own. */
  acceptPeer?(peerId: number): boolean;
  onPeerRejected?(event: PeerRejectedEvent): void;
  /**
   * Called when the outbound connection to a peer becomes usable (true) or is lost (false), e.g. so
   * Raft can mark the peer unreachable and probe it (etcd's ReportUnreachable).
   */
  onPeerConnection?(peerId: number, connected: boolean): void;
  logger?: TransportLogger;
  /** Jitter source for reconnect backoff; default Math.random. */
  random?: RandomSource;
  /**
   * Benchmark baseline only: write every message with its own socket write instead of batching
   * per flush. Never set this in production: it caps throughput near 200k messages/s.
   */
  writeEachMessage?: boolean;
}

export interface PeerStats {
  peerId: number;
  address: string;
  /** The outbound connection to this peer is authenticated and usable. */
  connected: boolean;
  queuedMessages: number;
  queuedBytes: number;
  /** Bytes handed to a write that the socket has not taken yet (backpressure). */
  pendingBytes: number;
  /** Messages handed to the socket (those in `pendingBytes` included). */
  sentMessages: number;
  sentBytes: number;
  /** Socket writes started by flushes (a batch is one; drain continuations are not counted). */
  writes: number;
  /** Messages refused by `send` because the queue was full or the payload too large. */
  droppedMessages: number;
  /** Messages whose write had not completed when the connection dropped (at most; some may have arrived). */
  lostMessages: number;
  /** Connection attempts made. */
  dials: number;
  /** Connections that completed the handshake. */
  connects: number;
  /** Re-dials scheduled after a failed attempt or a dropped connection. */
  reconnects: number;
}

export interface InboundStats {
  peerId: number;
  connected: boolean;
  receivedMessages: number;
  receivedBytes: number;
  /** Authenticated connections accepted from this peer. */
  connections: number;
}

export interface TransportStats {
  nodeId: number;
  port: number;
  peers: PeerStats[];
  inbound: InboundStats[];
  /** Connections refused or closed for failing the handshake or sending malformed frames. */
  rejectedConnections: number;
  malformedFrames: number;
  /** `send` calls to an id with no address (not set, or removed). */
  unknownPeerDrops: number;
}

export interface Transport {
  readonly nodeId: number;
  /** The port actually listened on. */
  readonly port: number;
  /** The largest payload `send` accepts; catch-up batches must be split to fit. */
  readonly frameBytesMax: number;
  /** Adds a peer or changes its address ("host:port" or "[v6]:port"); dials at once. */
  setPeer(peerId: number, address: string): void;
  /** Forgets a peer: closes its outbound connection and discards its queue. False if unknown. */
  removePeer(peerId: number): boolean;
  /**
   * Queues `payload` for `to`. Returns false, and counts the drop, when `to` has no address, the
   * payload exceeds frameBytesMax, or the peer's queue is full. Never blocks. The payload is not
   * copied until the flush: do not modify it afterwards.
   */
  send(to: number, payload: Uint8Array): boolean;
  /** Writes every connected peer's queue with one socket write per peer. Also runs automatically in a microtask after `send`. */
  flush(): void;
  stats(): TransportStats;
  /** Stops listening, closes every connection and timer. Queued messages are discarded. */
  close(): Promise<void>;
}
