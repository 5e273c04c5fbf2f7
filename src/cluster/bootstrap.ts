/**
 * @module bootstrap. Opens a node's durable state — the ledger (ledger-state.ts) and the Raft log
 * beside it in the same database (storage/raft-log.ts) — and decides how the node starts:
 * - it has Raft state: it resumes from it;
 * - it is empty and has discovery.seeds: it will join through a seed (join.ts);
 * - it is empty otherwise: it bootstraps a new group from consensus.cluster_members (which needs
 *   --bootstrap when members are listed) or, with none listed, a single voter: itself. The
 *   membership, the address book and the applied point 0 are written in one transaction.
 */

import type { Config, Member } from "../config/index.ts";
import type { MemberAddresses } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import { SqliteRaftStorage } from "../storage/index.ts";
import { addressesOf } from "./address-book.ts";
import { parseIdentityState, type IdentityState } from "./identity.ts";
import { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";

export interface NodeState {
  ledger: LedgerState;
  raftLog: SqliteRaftStorage;
  /** The persisted address book (may lack this node's own entry). */
  addresses: Record<string, MemberAddresses>;
  /** This node's own addresses, from its configuration. */
  self: MemberAddresses;
  /** The persisted cluster identity (origin, member keys, keys notes), when any was applied. */
  identity: IdentityState | undefined;
  /** Empty with seeds to join through. */
  join: boolean;
}

/** Opens the ledger and the Raft log, bootstrapping a new group when that is what the node must do. */
export async function openNodeState(config: Config, logger: Logger, bootstrap: boolean): Promise<NodeState> {
  const ledger = await LedgerState.open(config, logger);
  try {
    const self: MemberAddresses = { raft: `${config.node.address}:${config.network.raft_port}`, client: `${config.node.address}:${config.network.client_port}` };
    const joining = config.discovery.seeds.length > 0;
    const fresh = new SqliteRaftStorage(ledger.store.db, { voters: [], learners: [], index: 0 });
    if (!fresh.isEmpty() || joining) {
      const stored = fresh.readMeta<unknown>("identity");
      const identity = stored === undefined ? undefined : parseIdentityState(stored);
      return { ledger, raftLog: fresh, addresses: fresh.readMeta<Record<string, MemberAddresses>>("addresses") ?? {}, self, identity, join: joining && fresh.isEmpty() };
    }
    const members: Member[] = config.consensus.cluster_members.length > 0 ? config.consensus.cluster_members : [{ id: config.node.id, address: self.raft, client: self.client }];
    if (config.consensus.cluster_members.length > 0 && !bootstrap) {
      throw new ScribeError("invalid_request", "this node has no Raft state: start it with --bootstrap to initialize the cluster in consensus.cluster_members, or with --join to join one");
    }
    if (!members.some((m) => m.id === config.node.id)) {
      throw new ScribeError("invalid_request", `node.id ${config.node.id} is not in consensus.cluster_members`);
    }
    const membership = { voters: members.map((m) => m.id), learners: [], index: 0 };
    const raftLog = new SqliteRaftStorage(ledger.store.db, membership);
    const addresses = { ...addressesOf(members, config.network.client_port), [String(config.node.id)]: self };
    ledger.store.transaction(() => {
      raftLog.setMembership(membership);
      raftLog.writeMeta("addresses", addresses);
      raftLog.recordApplied(0, ledger.size);
    });
    logger.info({ voters: membership.voters }, "bootstrapped a new Raft group");
    return { ledger, raftLog, addresses, self, identity: undefined, join: false };
  } catch (error) {
    ledger.close();
    throw error;
  }
}
