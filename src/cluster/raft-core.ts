/**
 * @module raft-core. The node's Raft core (RawNode, src/raft/raw-node.ts) built from its
 * `[consensus]` settings: the election and heartbeat timeouts turned into ticks of
 * `tick_interval_ms`, pre-vote and check-quorum on, the append size and in-flight limits, and the
 * seeded random source of its election jitter.
 */

import type { Config } from "../config/index.ts";
import { SeededRandom } from "../lib/index.ts";
import { RawNode, type RaftStorage } from "../raft/index.ts";

/**
 * The election timeout in ticks: followers campaign after a random [min, max] ticks without a
 * leader (consensus.election_timeout_min / _max over tick_interval_ms; at least 2 ticks, and max
 * at least min). A failed campaign is retried after the core's campaignRetryTicks (docs/RAFT.md,
 * "How long an election takes").
 */
export function electionTicks(c: Config["consensus"]): { electionTimeoutTicks: number; electionTimeoutTicksMax: number } {
  const electionTimeoutTicks = Math.max(2, Math.round(c.election_timeout_min / c.tick_interval_ms));
  return { electionTimeoutTicks, electionTimeoutTicksMax: Math.max(electionTimeoutTicks, Math.round(c.election_timeout_max / c.tick_interval_ms)) };
}

export interface RaftCoreOptions {
  config: Config;
  /** The Raft log the core reads (the node's SqliteRaftStorage). */
  storage: RaftStorage;
  /** The index the state machine has applied up to. */
  appliedIndex: number;
  /** Seed for election jitter; default derived from the node id and the clock. */
  seed?: number;
  now: () => number;
}

/** The node's RawNode. */
export function createRaftCore(options: RaftCoreOptions): RawNode {
  const { config, now } = options;
  const c = config.consensus;
  return new RawNode({
    id: config.node.id,
    storage: options.storage,
    random: new SeededRandom(options.seed ?? (config.node.id * 2654435761 + now()) >>> 0),
    ...electionTicks(c),
    heartbeatTimeoutTicks: Math.max(1, Math.round(c.heartbeat_interval_ms / c.tick_interval_ms)),
    appliedIndex: options.appliedIndex,
    preVote: true,
    checkQuorum: true,
    messageBytesMax: c.max_append_bytes,
    inflightMessagesMax: c.max_inflight_msgs,
  });
}
