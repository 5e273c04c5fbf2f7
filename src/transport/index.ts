/**
 * @module transport. Raft's peer-to-peer transport over Bun TCP sockets (TLS optional), and the
 * signature of node-to-node HTTP calls made with the same cluster secret (cluster-auth.ts).
 *
 * ```ts
 * const transport = await createTransport({
 *   nodeId: 1, listenHost: "127.0.0.1", listenPort: 0, secret: clusterSecret,
 *   onMessage: (from, payload) => node.step(decode(payload)),
 *   acceptPeer: (id) => membership.has(id),           // optional; default: any id but ours
 *   onPeerRejected: (event) => ..., logger: pino(),   // optional
 *   onPeerConnection: (id, up) => ...,                // optional; outbound link up/down
 *   tls: { cert, key, ca },                           // optional
 * });
 * transport.setPeer(2, "127.0.0.1:7002");             // add or change; removePeer(2) forgets
 * transport.send(2, bytes);                           // queues; false = dropped (counted)
 * transport.flush();                                  // once per Ready cycle; one write per peer
 * transport.stats();                                  // per-peer connected/queued/sent/dropped/...
 * transport.port; transport.frameBytesMax;            // bound port; largest payload send accepts
 * await transport.close();
 * ```
 *
 * Wire format (all integers big-endian; byte by byte in handshake.ts):
 *   frame     = u32 payloadBytes | u8 type | payload       type 1 HELLO, 2 AUTH, 3 MESSAGE
 *   HELLO     = "SCRB" | u8 version=2 | u8 role (0 dialer, 1 acceptor) | u64 senderId |
 *               u64 receiverId | 32-byte nonce
 *   AUTH      = HMAC-SHA256(secret, "scribe-transport-v2 dialer|acceptor" | u64 dialerId |
 *               u64 acceptorId | dialerNonce | acceptorNonce)
 *   exchange  = dialer HELLO → acceptor HELLO → dialer AUTH → (only if that proof is right)
 *               acceptor AUTH, then dialer MESSAGEs. A wrong dialer proof gets a closed connection.
 * Before authentication a frame may carry at most 128 bytes; after it, frameBytesMax. Inbound
 * connections that have not authenticated are bounded in total (`inboundHandshakesMax`) and per
 * source address (`inboundHandshakesPerSourceMax`), and closed after `handshakeTimeoutMs`.
 * Each connection carries messages one way (dialer → acceptor); every node dials each peer.
 * See transport.ts for the sending, backpressure and reconnect rules.
 */

export { createTransport } from "./transport.ts";
export {
  handshakeTimeoutMsDefault,
  inboundHandshakesMaxDefault,
  inboundHandshakesPerSourceMaxDefault,
  queueBytesMaxDefault,
  queueMessagesMaxDefault,
} from "./options.ts";
export { frameBytesMaxDefault, handshakeFrameBytesMax } from "./frame.ts";
export { protocolVersion, secretBytesMin } from "./handshake.ts";
export {
  bodySha256,
  checkClusterAuth,
  clusterAuthHeader,
  clusterAuthSkewMsMax,
  clusterAuthValue,
  clusterBodyHashHeader,
  emptySha256,
  type ClusterAuthCheck,
  type ClusterAuthInput,
} from "./cluster-auth.ts";
export { backoffLimitsDefault, type BackoffLimits } from "./backoff.ts";
export type {
  InboundStats,
  PeerRejectedEvent,
  PeerStats,
  Pem,
  RejectReason,
  Transport,
  TransportLogger,
  TransportOptions,
  TransportStats,
  TransportTlsOptions,
} from "./types.ts";
