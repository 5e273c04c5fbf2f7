/**
 * @module forwarding. A follower's writes travel to the leader: the writes queued in one turn of
 * the event loop go together in one forward envelope (a follower's group commit, in groups
 * bounded by storage.max_batch_bytes and the command-list limit), over the Raft transport when
 * the leader takes groups that way (forward-channel.ts), else in a `POST /cluster/propose`; each
 * is still applied or refused on its own at the leader (ClusterNode.proposeForwarded). A group
 * that fails as a whole fails each of its writes with that error: a refusal when the group
 * provably never reached the leader or the leader refused it whole (peer-client.ts), else
 * `outcome_unknown`.
 */

import { commandListMax, encodeForward, type ForwardedOutcome, type ForwardedWrite, type WriteContext, type WriteResult } from "../ledger/index.ts";
import { ScribeError, statusOfCode, type ErrorCode } from "../lib/index.ts";
import type { ForwardChannel } from "./forward-channel.ts";
import type { Leadership } from "./leadership.ts";
import { proposeRemote } from "./peer-client.ts";

/** A write waiting on a follower to be forwarded to the leader. */
interface Forward {
  write: ForwardedWrite;
  /** Who made the write: the leader audits it under this caller. */
  context?: WriteContext;
  /** Approximate encoded size, for bounding a group. */
  bytes: number;
  resolve: (result: WriteResult) => void;
  reject: (error: Error) => void;
}

export interface ForwarderOptions {
  /** This node's id: the forward envelope names the sender. */
  nodeId: number;
  /** Who leads and where to reach it. */
  leadership: Pick<Leadership, "leaderClient" | "leaderId">;
  /** The Raft transport's channel, when there is one; groups go over HTTP when it cannot take them. */
  channel?: Pick<ForwardChannel, "propose">;
  /** storage.max_batch_bytes: the most bytes of writes in one forwarded group. */
  groupBytesMax: number;
  /** api.write_timeout_secs in ms: how long the leader may take to answer a group. */
  timeoutMs: number;
}

export class Forwarder {
  private queue: Forward[] = [];
  private scheduled = false;
  readonly counters = { forwardedWrites: 0, forwardedGroups: 0 };

  constructor(private readonly options: ForwarderOptions) {}

  /** Queues a write for the leader; resolves with its receipts or rejects with the leader's refusal. */
  forward(write: ForwardedWrite, context?: WriteContext): Promise<WriteResult> {
    let bytes = 64 + (write.idempotencyKey?.length ?? 0) * 3;
    for (const op of write.ops) bytes += 64 + op.key.length * 3 + (op.op === "put" ? op.value.length + op.contentType.length : 0);
    // The caller travels with the write (JSON in the forward envelope).
    if (context) bytes += 64 + (context.principal.length + context.role.length + context.client.length) * 3;
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ write, context, bytes, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    });
  }

  /** Sends the queued writes in groups bounded by bytes and the command-list limit. */
  private flush(): void {
    const bytesMax = this.options.groupBytesMax;
    while (this.queue.length > 0) {
      let count = 0;
      let bytes = 0;
      while (count < this.queue.length && count < commandListMax && (count === 0 || bytes + this.queue[count]!.bytes <= bytesMax)) {
        bytes += this.queue[count]!.bytes;
        count++;
      }
      void this.send(this.queue.splice(0, count));
    }
  }

  private async send(group: Forward[]): Promise<void> {
    this.counters.forwardedWrites += group.length;
    this.counters.forwardedGroups++;
    try {
      const leader = this.options.leadership.leaderId();
      // Each command carries its caller, and the envelope names this node and the leader it is for.
      const commands = group.map((g) => ({ ops: g.write.ops, context: g.context, idempotencyKey: g.write.idempotencyKey }));
      const envelope = encodeForward({ from: this.options.nodeId, to: leader, commands });
      const outcomes = await (this.options.channel?.propose(leader, envelope, group.length, this.options.timeoutMs) ?? this.overHttp(leader, envelope, group.length));
      outcomes.forEach((outcome, i) => {
        if ("receipts" in outcome) group[i]!.resolve({ receipts: outcome.receipts, replayed: outcome.replayed === true });
        // A code this node does not know names no refusal it can vouch for: unknown.
        else group[i]!.reject(new ScribeError(outcome.code in statusOfCode ? (outcome.code as ErrorCode) : "outcome_unknown", outcome.error));
      });
    } catch (error) {
      for (const g of group) g.reject(error as Error);
    }
  }

  /** A group the transport cannot take: POST /cluster/propose to the leader's client address. */
  private overHttp(leader: number, envelope: Uint8Array, count: number): Promise<ForwardedOutcome[]> {
    const client = this.options.leadership.leaderClient();
    if (!client) return Promise.reject(new ScribeError("no_leader", `no address known for leader ${leader}`));
    return proposeRemote({ leaderClient: client, envelope, count, timeoutMs: this.options.timeoutMs });
  }
}
