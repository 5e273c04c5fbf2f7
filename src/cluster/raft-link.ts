/**
 * @module raft-link. The node's Raft traffic over the TCP transport (src/transport): starts the
 * transport with the cluster secret and TLS, decodes and checks every received message before the
 * core steps it, sends a Ready's messages (the Ready loop's MessageSender), and keeps the
 * transport's peers in line with the membership and the address book. Forwarded groups share the
 * transport (forward-channel.ts): their payloads go to the channel, the rest are Raft messages.
 */

import { ConfigError, type Config } from "../config/index.ts";
import { ScribeError } from "../lib/index.ts";
import { decodeMessage, encodeMessage, type Membership, type Message } from "../raft/index.ts";
import { createTransport, type Transport, type TransportStats } from "../transport/index.ts";
import type { AddressBook } from "./address-book.ts";
import type { ForwardChannel, ForwardLink } from "./forward-channel.ts";
import type { Logger } from "./logger.ts";
import type { MessageSender } from "./ready-contracts.ts";
import { raftTlsOptions } from "./tls.ts";

export interface RaftLinkOptions {
  config: Config;
  logger: Logger;
  addresses: AddressBook;
  /** A well-formed message addressed to this node. */
  onMessage: (message: Message) => void;
  /** The connection to `peer` dropped (pipelined appends may be lost: the leader probes it again). */
  onPeerLost: (peer: number) => void;
  /** Forwarded groups in and out. */
  forwards: ForwardChannel;
}

/** Sends through the link once it is up; before that (single node) there is no one to send to. */
export class RaftSender implements MessageSender {
  link: RaftLink | undefined;

  constructor(private readonly logger: Logger) {}

  send(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    if (!this.link) {
      this.logger.warn({ count: messages.length }, "Raft messages for peers but no transport (set discovery.cluster_secret)");
      return;
    }
    this.link.send(messages);
  }
}

export class RaftLink implements ForwardLink {
  /** Peers whose outbound connection is up. */
  private readonly connectedPeers = new Set<number>();

  private constructor(
    private readonly transport: Transport,
    private readonly options: RaftLinkOptions,
  ) {}

  /** Starts listening on network.raft_port; a multi-node cluster needs discovery.cluster_secret. */
  static async start(options: RaftLinkOptions): Promise<RaftLink> {
    const { config, logger } = options;
    const secret = config.discovery.cluster_secret;
    // Config validation already refused a weak secret; here it must only be set (exit 2).
    if (secret === "") {
      throw new ConfigError("discovery.cluster_secret must be set for a multi-node cluster: make one with `scribe-node gen-secret` and set the same value on every member");
    }
    let link: RaftLink | undefined;
    const transport = await createTransport({
      nodeId: config.node.id,
      listenHost: config.network.listen_addr,
      listenPort: config.network.raft_port,
      secret,
      tls: raftTlsOptions(config),
      frameBytesMax: Math.max(64 * 1024 * 1024, config.consensus.max_append_bytes * 2),
      onMessage: (from, payload) => link?.receive(from, payload),
      onPeerConnection: (peer, connected) => {
        if (connected) {
          link?.connectedPeers.add(peer);
          return;
        }
        link?.connectedPeers.delete(peer);
        options.forwards.peerLost(peer);
        options.onPeerLost(peer);
      },
      logger,
    });
    link = new RaftLink(transport, options);
    options.forwards.attach(link);
    return link;
  }

  private receive(from: number, payload: Uint8Array): void {
    const { logger, config } = this.options;
    if (this.options.forwards.received(from, payload)) return;
    let message: Message;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      logger.warn({ from, err: error }, "dropping a malformed Raft message");
      return;
    }
    if (message.from !== from || message.to !== config.node.id) {
      logger.warn({ from, claimed: message.from, to: message.to }, "dropping a Raft message with mismatched ids");
      return;
    }
    this.options.onMessage(message);
  }

  send(messages: readonly Message[]): void {
    for (const message of messages) this.transport.send(message.to, encodeMessage(message));
    this.transport.flush();
  }

  connected(peer: number): boolean {
    return this.connectedPeers.has(peer);
  }

  sendPayload(peer: number, payload: Uint8Array): boolean {
    return this.transport.send(peer, payload);
  }

  /** Points the transport at every member with a known address; forgets peers with none. */
  syncPeers(membership: Membership): void {
    const self = this.options.config.node.id;
    const members = new Set([...membership.voters, ...membership.learners]);
    const book = this.options.addresses.entries();
    for (const [id, address] of Object.entries(book)) {
      const peer = Number(id);
      if (peer === self) continue;
      if (members.has(peer) || members.size === 0 || !members.has(self)) this.transport.setPeer(peer, address.raft);
    }
    for (const stat of this.transport.stats().peers) {
      if (!book[String(stat.peerId)]) this.transport.removePeer(stat.peerId);
    }
  }

  stats(): TransportStats {
    return this.transport.stats();
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
