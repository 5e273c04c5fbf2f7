/**
 * @module client-requests. A client's write or linearizable read, as the node serves it:
 * - a write on the leader is queued in the Ready loop (one propose() per cycle for all of them)
 *   and answered with its receipts once applied; on a follower it is forwarded (forwarding.ts);
 * - a linearizable read asks the leader's Ready loop for a read index (a follower asks the
 *   leader over HTTP), then waits until this node applied up to it.
 * A request refused before it reached any log (no leader, leader unreachable, not the leader) is
 * retried through the next leader until its timeout (api.write_timeout_secs,
 * api.read_timeout_secs); waits for a leader are settled by the Ready loop, not by polling.
 */

import type { Config } from "../config/index.ts";
import type { Consistency, ForwardedOutcome, Receipt, WriteContext } from "../http/index.ts";
import type { Operation } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import { commandEntryData } from "./entry-data.ts";
import type { Forwarder } from "./forwarding.ts";
import type { Leadership } from "./leadership.ts";
import type { CommandOutcome } from "./ledger-state.ts";
import { fetchReadIndex } from "./peer-client.ts";
import type { ReadyLoop } from "./ready-loop.ts";
import type { Waiters } from "./waiters.ts";

export interface ClientRequestsOptions {
  config: Config;
  loop: ReadyLoop<CommandOutcome>;
  waiters: Waiters;
  leadership: Leadership;
  forwarder: Forwarder;
  now: () => number;
  /** Runs the Ready loop soon. */
  schedule: () => void;
}

/** A read barrier passed at once (shared: awaiting it costs one microtask). */
const passed: Promise<void> = Promise.resolve();

/** A refusal that proves the request reached no log: safe to retry through the next leader. */
function refusedBeforeLog(error: unknown): boolean {
  return error instanceof ScribeError && (error.code === "not_leader" || error.code === "no_leader");
}

export class ClientRequests {
  private lastTimestampMs = 0;

  constructor(private readonly options: ClientRequestsOptions) {}

  /** The reason the node stopped serving (shutdown or failure), thrown at once. */
  private refuseWhenStopped(): void {
    const stopped = this.options.loop.stopped;
    if (stopped) throw stopped;
  }

  /** Appends one atomic batch through Raft, via the leader; retried while refused before any log. */
  async propose(ops: Operation[], context?: WriteContext): Promise<Receipt[]> {
    this.refuseWhenStopped();
    const { leadership, forwarder, config, now } = this.options;
    const deadline = now() + config.api.write_timeout_secs * 1000;
    for (;;) {
      await leadership.awaitLeader();
      const leader = leadership.leaderId();
      try {
        if (leadership.isLeader()) return await this.proposeLocal(ops);
        if (!leadership.leaderClient()) throw new ScribeError("no_leader", `no address known for leader ${leader}`);
        return await forwarder.forward(ops, context);
      } catch (error) {
        if (!refusedBeforeLog(error) || this.options.loop.stopped || now() > deadline) throw error;
        await leadership.awaitLeaderChange(leader, deadline);
      }
    }
  }

  /** Leader: proposes a follower's forwarded commands, each on its own; refuses all when not leader. */
  async proposeForwarded(commands: Operation[][]): Promise<ForwardedOutcome[]> {
    if (!this.options.leadership.isLeader()) throw this.options.leadership.notLeader();
    return Promise.all(
      commands.map((ops) =>
        this.proposeLocal(ops).then(
          (receipts): ForwardedOutcome => ({ receipts }),
          (error): ForwardedOutcome => (error instanceof ScribeError ? { error: error.message, code: error.code } : { error: String(error), code: "unavailable" }),
        ),
      ),
    );
  }

  /** Queues a command for the leader's next propose() call; resolves with its receipts once applied. */
  private proposeLocal(ops: Operation[]): Promise<Receipt[]> {
    const { loop, config, now } = this.options;
    const timestampMs = Math.max(now(), this.lastTimestampMs);
    this.lastTimestampMs = timestampMs;
    const data = commandEntryData({ timestampMs, ops });
    const deadlineMs = now() + config.api.write_timeout_secs * 1000;
    return new Promise<Receipt[]>((resolve, reject) => {
      loop.propose(data, ops.length, deadlineMs, (outcome) => {
        if (!outcome.ok) reject(outcome.error);
        else if (outcome.result?.ok) resolve(outcome.result.receipts);
        else reject(outcome.result?.error ?? new ScribeError("internal", `the entry at ${outcome.index} is not a ledger command`));
      });
      this.options.schedule();
    });
  }

  /**
   * Linearizable: a ReadIndex round (through the leader when a follower), then wait for apply.
   * A sole voter needs neither when it has applied its commit index (ReadyLoop.readNow): the
   * barrier is passed at once.
   */
  readBarrier(consistency: Consistency): Promise<void> {
    if (consistency === "stale") return passed;
    this.refuseWhenStopped();
    if (this.options.loop.readNow() !== undefined) return passed;
    return this.readRound();
  }

  private async readRound(): Promise<void> {
    const { leadership, waiters, config, now } = this.options;
    // Reads are idempotent: one that found no leader, or a leader that lost its role, is retried
    // through the next leader until api.read_timeout_secs passes.
    const deadline = now() + config.api.read_timeout_secs * 1000;
    for (;;) {
      await leadership.awaitLeader();
      const leader = leadership.leaderId();
      try {
        const readIndex = leadership.isLeader() ? await this.leaderReadIndex() : await this.followerReadIndex();
        return await waiters.untilApplied(readIndex, now() + config.api.read_timeout_secs * 1000, "the read");
      } catch (error) {
        if (!refusedBeforeLog(error) || this.options.loop.stopped || now() > deadline) throw error;
        await leadership.awaitLeaderChange(leader, deadline);
      }
    }
  }

  /** Leader: a read index confirmed by a quorum (for this node's reads and followers' `GET /cluster/read-index`). */
  leaderReadIndex(): Promise<number> {
    const { loop, config, now } = this.options;
    return new Promise<number>((resolve, reject) => {
      loop.read(now() + config.api.read_timeout_secs * 1000, (outcome) => (outcome.ok ? resolve(outcome.index) : reject(outcome.error)));
      this.options.schedule();
    });
  }

  private async followerReadIndex(): Promise<number> {
    const { leadership, config } = this.options;
    const leader = leadership.leaderClient();
    if (!leader) throw new ScribeError("no_leader", `no address known for leader ${leadership.leaderId()}`);
    return fetchReadIndex(leader, config.api.read_timeout_secs * 1000);
  }
}
