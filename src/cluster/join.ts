/**
 * @module join. A new node joining a cluster through its seeds: it asks each seed in turn
 * (`discovery.seeds`, POST /cluster/nodes/add through peer-client.ts) to add it, until one answers
 * with the cluster's address book, backing off between rounds. The membership change itself
 * arrives through the Raft log like any other (membership.ts: it joins as a learner).
 */

import type { Config } from "../config/index.ts";
import type { MemberAddresses } from "../ledger/index.ts";
import type { Logger } from "./logger.ts";
import { requestJoin } from "./peer-client.ts";

/** Longest pause between two join attempts through the seeds; doubles from 200 ms up to it. */
const joinBackoffMsMax = 5000;
/** Longest one seed is given to answer a join request. */
const joinRequestMs = 30_000;

export interface JoinOptions {
  config: Config;
  logger: Logger;
  /** True once the node is closing: the attempts stop. */
  stopped: () => boolean;
  /** A seed answered: the cluster's addresses, to learn before anything else. */
  joined: (addresses: Record<string, MemberAddresses>) => void;
}

/** Asks the seeds until one accepts this node, or the node stops. */
export async function joinThroughSeeds(options: JoinOptions): Promise<void> {
  const { config, logger } = options;
  const request = { node_id: config.node.id, address: `${config.node.address}:${config.network.raft_port}`, client: `${config.node.address}:${config.network.client_port}` };
  for (let attempt = 0; !options.stopped(); attempt++) {
    for (const seed of config.discovery.seeds) {
      try {
        const answer = await requestJoin(seed, request, joinRequestMs);
        options.joined(answer.addresses);
        logger.info({ seed }, "joined the cluster");
        return;
      } catch (error) {
        logger.warn({ seed, err: (error as Error).message }, "join attempt failed; retrying");
      }
    }
    await Bun.sleep(Math.min(joinBackoffMsMax, 200 * 2 ** attempt));
  }
}
