/**
 * @module node-peers. This node's peers: the Raft transport (raft-link.ts) started when the group
 * has or may get another member (more than one member, a join, or a cluster secret), received
 * Raft messages stepped into the core (none once the loop stopped, nor while a persist step waits
 * for the disk: ready-loop.ts, "Storage stalls"), the transport's peers kept in line with the
 * membership and the address book after each Ready, the join through the seeds (join.ts), and
 * forwarded groups over the same transport (forward-channel.ts).
 */

import type { Config } from "../config/index.ts";
import type { Message, RawNode, Ready } from "../raft/index.ts";
import type { TransportStats } from "../transport/index.ts";
import type { AddressBook } from "./address-book.ts";
import { ForwardChannel } from "./forward-channel.ts";
import { joinThroughSeeds } from "./join.ts";
import type { Logger } from "./logger.ts";
import { RaftLink, type RaftSender } from "./raft-link.ts";
import type { ReadyLoop } from "./ready-loop.ts";

export interface NodePeersOptions {
  config: Config;
  logger: Logger;
  addresses: AddressBook;
  core: Pick<RawNode, "membership" | "step" | "reportUnreachable">;
  /** The Ready loop's sender: given the link once it is up. */
  sender: RaftSender;
  loop: Pick<ReadyLoop<unknown>, "stopped" | "storageStalled">;
  /** Runs the Ready loop soon (after a message was stepped or a peer was lost). */
  schedule: () => void;
  /** True once the node is closing. */
  closed: () => boolean;
}

export class NodePeers {
  private link: RaftLink | undefined;
  private syncedBookVersion = -1;
  /** Forwarded groups over the transport: sent by forwarding.ts, served as set by server.ts. */
  readonly forwards: ForwardChannel;

  constructor(private readonly options: NodePeersOptions) {
    this.forwards = new ForwardChannel(options.logger);
  }

  /** Starts the transport unless this node is and stays alone (a single node needs none). */
  async start(join: boolean): Promise<void> {
    const { config, core } = this.options;
    const membership = core.membership();
    const multiNode = join || membership.voters.length + membership.learners.length > 1 || config.discovery.cluster_secret !== "";
    if (!multiNode) return;
    this.link = await RaftLink.start({
      config,
      logger: this.options.logger,
      addresses: this.options.addresses,
      onMessage: (message) => this.onMessage(message),
      forwards: this.forwards,
      onPeerLost: (peer) => {
        core.reportUnreachable(peer);
        this.options.schedule();
      },
    });
    this.options.sender.link = this.link;
    this.sync();
  }

  private onMessage(message: Message): void {
    const { loop } = this.options;
    if (loop.stopped || loop.storageStalled) return;
    this.options.core.step(message);
    this.options.schedule();
  }

  private sync(): void {
    this.syncedBookVersion = this.options.addresses.version;
    this.link?.syncPeers(this.options.core.membership());
  }

  /** After each Ready: the transport's peers follow a changed membership or address book. */
  advanced(rd: Ready): void {
    if (this.link && (rd.membership || this.options.addresses.version !== this.syncedBookVersion)) this.sync();
  }

  /** Asks the seeds to add this node (join.ts) and learns the cluster's addresses from the answer. */
  join(): Promise<void> {
    return joinThroughSeeds({
      config: this.options.config,
      logger: this.options.logger,
      stopped: this.options.closed,
      joined: (addresses) => {
        this.options.addresses.learn(addresses);
        this.sync();
      },
    });
  }

  /** The transport's numbers (undefined for a single node without one). */
  stats(): TransportStats | undefined {
    return this.link?.stats();
  }

  async close(): Promise<void> {
    this.forwards.close();
    await this.link?.close();
  }
}
