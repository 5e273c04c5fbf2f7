/**
 * @module membership. Adding and removing members (`/cluster/nodes/add`, `/cluster/nodes/remove`,
 * and a joining node's request through a seed) and promoting caught-up learners. A change is two
 * Raft entries, each waited for until applied: the address-book entry (entry-data.ts) that tells
 * every member how to reach the node, and the single-server config change (docs/RAFT.md). A new
 * node joins as a learner; the leader promotes it to voter once its log is within
 * `promotionLagEntriesMax` of the leader's. A follower passes the request on to the leader.
 */

import { defaultClientAddress } from "../config/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { ConfigChange, Membership, RaftStatus, ProposeResult } from "../raft/index.ts";
import type { AddressBook } from "./address-book.ts";
import type { Leadership } from "./leadership.ts";
import { addressEntryData, type AddressChanges } from "./entry-data.ts";
import type { Logger } from "./logger.ts";
import { peerFetch, peerUrl } from "./peer-client.ts";

/** How close (in entries) a learner's match index must be to the leader's last index to be promoted. */
const promotionLagEntriesMax = 64;
/** How long a follower waits for the leader to answer a forwarded membership request. */
const forwardedChangeTimeoutMs = 60_000;

export interface MembershipOptions {
  core: {
    membership(): Membership;
    status(): RaftStatus;
    propose(data: readonly Uint8Array[]): ProposeResult;
    proposeConfigChange(change: ConfigChange): ProposeResult;
  };
  addresses: AddressBook;
  leadership: Leadership;
  /** Runs the Ready loop soon (a proposal was made). */
  schedule: () => void;
  /** Resolves once the entry at `index` is applied; rejects with a timeout after api.write_timeout_secs. */
  untilApplied: (index: number, what: string) => Promise<void>;
  /** network.client_port: the default client port of a member added without one. */
  clientPort: number;
  logger: Logger;
}

export class MembershipChanges {
  private readonly promoting = new Set<number>();

  constructor(private readonly options: MembershipOptions) {}

  /** Adds a node as a learner (it catches up), then promotes it to voter once it is close. */
  async addNode(request: { node_id: number; address: string; client?: string }): Promise<Record<string, unknown>> {
    const { leadership, core, addresses, logger } = this.options;
    if (!leadership.isLeader()) return this.viaLeader("/cluster/nodes/add", request, () => this.addNode(request));
    const id = request.node_id;
    const membership = core.membership();
    if (membership.voters.includes(id)) return { node_id: id, role: "voter", addresses: addresses.entries() };
    await this.proposeAddresses({ [String(id)]: { raft: request.address, client: request.client ?? defaultClientAddress(request.address, this.options.clientPort) } });
    if (!membership.learners.includes(id)) await this.proposeConfig({ kind: "addLearner", nodeId: id });
    logger.info({ node_id: id, address: request.address }, "added a learner; it will be promoted once caught up");
    return { node_id: id, role: "learner", addresses: addresses.entries() };
  }

  async removeNode(id: number): Promise<Record<string, unknown>> {
    const { leadership, core, logger } = this.options;
    if (!leadership.isLeader()) return this.viaLeader("/cluster/nodes/remove", { node_id: id }, () => this.removeNode(id));
    const membership = core.membership();
    if (!membership.voters.includes(id) && !membership.learners.includes(id)) throw new ScribeError("not_found", `node ${id} is not a member`);
    await this.proposeConfig({ kind: "remove", nodeId: id });
    await this.proposeAddresses({ [String(id)]: null }).catch(() => undefined);
    logger.info({ node_id: id }, "removed a member");
    return { node_id: id, removed: true };
  }

  /** Leader, after each Ready: proposes promotion of every learner that caught up. */
  promoteCaughtUpLearners(): void {
    const { core, logger } = this.options;
    const membership = core.membership();
    if (membership.learners.length === 0) return;
    const status = core.status();
    for (const id of membership.learners) {
      if (this.promoting.has(id)) continue;
      const progress = status.progress[id];
      if (!progress || status.lastIndex - progress.match > promotionLagEntriesMax || progress.match === 0) continue;
      this.promoting.add(id);
      this.proposeConfig({ kind: "addVoter", nodeId: id })
        .then(
          () => logger.info({ node_id: id }, "promoted a caught-up learner to voter"),
          (error) => logger.warn({ node_id: id, err: (error as Error).message }, "promotion failed; will retry"),
        )
        .finally(() => this.promoting.delete(id));
    }
  }

  /** On a follower: waits for a leader, then passes the request on to it (or handles it, if now leader). */
  private async viaLeader(path: string, body: unknown, retry: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const { leadership } = this.options;
    await leadership.awaitLeader();
    const leader = leadership.leaderClient();
    if (leadership.isLeader() || !leader) return retry();
    let response: Response;
    let answer: Record<string, unknown>;
    try {
      response = await peerFetch(peerUrl(leader, path), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(forwardedChangeTimeoutMs), keepalive: false });
      answer = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      // A refused connect sent nothing; anything else may have reached the leader.
      if ((error as { code?: string }).code === "ECONNREFUSED") throw new ScribeError("no_leader", `the leader at ${leader} refused the connection; nothing was changed`);
      throw new ScribeError("outcome_unknown", `POST ${path} to the leader at ${leader} failed (${(error as Error).message}); the membership change may have been made: check GET /cluster/nodes`);
    }
    if (!response.ok) throw new ScribeError((answer.code as "conflict") ?? "unavailable", String(answer.error ?? `leader answered ${response.status}`));
    return answer;
  }

  /** Proposes a config change and waits until it is applied. */
  private async proposeConfig(change: ConfigChange): Promise<void> {
    if (!this.options.leadership.isLeader()) throw this.options.leadership.notLeader();
    const result = this.options.core.proposeConfigChange(change);
    if (!result.ok) throw new ScribeError(result.reason === "not_leader" ? "not_leader" : "conflict", `membership change refused: ${result.reason}${result.detail ? ` (${result.detail})` : ""}`);
    this.options.schedule();
    await untilAppliedOrUnknown(this.options.untilApplied(result.lastIndex, "the membership change"));
  }

  /** Proposes an address-book change and waits until it is applied. */
  private async proposeAddresses(changes: AddressChanges): Promise<void> {
    if (!this.options.leadership.isLeader()) throw this.options.leadership.notLeader();
    const result = this.options.core.propose([addressEntryData(changes)]);
    if (!result.ok) throw new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `proposal refused: ${result.reason}`);
    this.options.schedule();
    await untilAppliedOrUnknown(this.options.untilApplied(result.lastIndex, "the membership change"));
  }
}

/** A proposed change that was not applied in time may still be: its outcome is unknown (504), not a refusal. */
async function untilAppliedOrUnknown(applied: Promise<void>): Promise<void> {
  try {
    await applied;
  } catch (error) {
    if (error instanceof ScribeError && error.code === "timeout") throw new ScribeError("outcome_unknown", `${error.message}; it was proposed and may still be applied: check GET /cluster/nodes`);
    throw error;
  }
}
