/**
 * @module client-requests. A client's write or linearizable read, as the node serves it:
 * - a write on the leader is queued in the Ready loop (one propose() per cycle for all of them)
 *   and answered with its receipts once applied; on a follower it is forwarded (forwarding.ts);
 * - a linearizable read asks the leader's Ready loop for a read index (a follower asks the
 *   leader over HTTP), then waits until this node applied up to it.
 * A request refused before it reached any log (no leader, leader unreachable, not the leader) is
 * retried through the next leader until its timeout (api.write_timeout_secs,
 * api.read_timeout_secs); waits for a leader are settled by the Ready loop, not by polling.
 *
 * A write's answer says what the node knows (README, "Errors"): a refusal means nothing was
 * appended; `outcome_unknown` (504) that it may have been. A write may carry an idempotency key:
 * the command carries it with the leader's window (api.idempotency_window_secs,
 * api.idempotency_keys_max), and the state machine answers a retry with the original receipts.
 */

import type { Config } from "../config/index.ts";
import type { Command, Consistency, ForwardedOutcome, ForwardedWrite, Operation, ProposeOptions, WriteContext, WriteResult } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import { commandEntryData } from "./entry-data.ts";
import type { Forwarder } from "./forwarding.ts";
import type { Leadership } from "./leadership.ts";
import type { CommandOutcome } from "./prepare-batch.ts";
import { fetchReadIndex } from "./peer-client.ts";
import type { ReadyLoop } from "./ready-loop.ts";
import type { StorageState } from "./storage-state.ts";
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
  /** The data directory's state: a leader refuses a write at once while it cannot take one. */
  storage?: Pick<StorageState, "refusal">;
}

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
  async propose(ops: Operation[], context?: WriteContext, options: ProposeOptions = {}): Promise<WriteResult> {
    this.refuseWhenStopped();
    const { leadership, forwarder, config, now } = this.options;
    const deadline = now() + config.api.write_timeout_secs * 1000;
    const write: ForwardedWrite = options.idempotencyKey === undefined ? { ops } : { ops, idempotencyKey: options.idempotencyKey };
    for (;;) {
      await leadership.awaitLeader(deadline);
      const leader = leadership.leaderId();
      try {
        if (leadership.isLeader()) return await this.proposeLocal(write);
        if (!leadership.leaderClient()) throw new ScribeError("no_leader", `no address known for leader ${leader}`);
        return await forwarder.forward(write, context);
      } catch (error) {
        if (!refusedBeforeLog(error) || this.options.loop.stopped || now() > deadline) throw error;
        await leadership.awaitLeaderChange(leader, deadline);
      }
    }
  }

  /** Leader: proposes a follower's forwarded commands, each on its own; refuses all when not leader. */
  async proposeForwarded(commands: ForwardedWrite[]): Promise<ForwardedOutcome[]> {
    if (!this.options.leadership.isLeader()) throw this.options.leadership.notLeader();
    return Promise.all(
      commands.map((write) =>
        this.proposeLocal(write).then(
          (result): ForwardedOutcome => (result.replayed ? { receipts: result.receipts, replayed: true } : { receipts: result.receipts }),
          // An error that is not a ScribeError came after the command was queued: its outcome is unknown.
          (error): ForwardedOutcome => (error instanceof ScribeError ? { error: error.message, code: error.code } : { error: String(error), code: "outcome_unknown" }),
        ),
      ),
    );
  }

  /** Queues a command for the leader's next propose() call; resolves with its receipts once applied. */
  private proposeLocal(write: ForwardedWrite): Promise<WriteResult> {
    const { loop, config, now } = this.options;
    const refusal = this.options.storage?.refusal();
    if (refusal) return Promise.reject(refusal);
    const timestampMs = Math.max(now(), this.lastTimestampMs);
    this.lastTimestampMs = timestampMs;
    const command: Command = { timestampMs, ops: write.ops };
    if (write.idempotencyKey !== undefined) {
      command.idempotency = { key: write.idempotencyKey, windowSecs: config.api.idempotency_window_secs, keysMax: config.api.idempotency_keys_max };
    }
    const data = commandEntryData(command);
    const deadlineMs = now() + config.api.write_timeout_secs * 1000;
    return new Promise<WriteResult>((resolve, reject) => {
      loop.propose(data, write.ops.length, deadlineMs, (outcome) => {
        if (!outcome.ok) reject(outcome.error);
        else if (outcome.result?.ok) resolve({ receipts: outcome.result.receipts, replayed: outcome.result.replayed === true });
        else reject(outcome.result?.error ?? new ScribeError("internal", `the entry at ${outcome.index} is not a ledger command`));
      });
      this.options.schedule();
    });
  }

  /**
   * Linearizable: a ReadIndex round (through the leader when a follower), then wait for apply.
   * A sole voter needs neither when it has applied its commit index (ReadyLoop.readNow): the
   * barrier is passed at once (undefined: no promise to wait on).
   */
  readBarrier(consistency: Consistency): Promise<void> | undefined {
    if (consistency === "stale") return undefined;
    this.refuseWhenStopped();
    if (this.options.loop.readNow() !== undefined) return undefined;
    return this.readRound();
  }

  private async readRound(): Promise<void> {
    if (this.options.loop.storageStalled) {
      // Its applied index cannot move until its disk takes writes again: a linearizable read would only wait.
      throw new ScribeError("unavailable", "this node's storage is full, so it cannot catch up for a linearizable read; read with ?consistency=stale or from another node");
    }
    const { leadership, waiters, config, now } = this.options;
    // Reads are idempotent: one that found no leader, or a leader that lost its role, is retried
    // through the next leader until api.read_timeout_secs passes.
    const deadline = now() + config.api.read_timeout_secs * 1000;
    for (;;) {
      await leadership.awaitLeader(deadline);
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
