/**
 * @module status. The node's state as /health, /metrics and /cluster/* report it, built from the
 * core's own snapshot (`RawNode.status()`), the address book and the transport's peer stats.
 */

import type { MemberStatus, NodeStatus, StorageStatus } from "../ledger/index.ts";
import type { RaftStatus } from "../raft/index.ts";
import type { TransportStats } from "../transport/index.ts";
import type { AddressBook } from "./address-book.ts";

const roleNames = { leader: "leader", follower: "follower", candidate: "candidate", preCandidate: "pre-candidate" } as const;

export interface StatusInputs {
  raft: RaftStatus;
  addresses: AddressBook;
  peers: TransportStats["peers"] | undefined;
  /** The state machine's applied index (ahead of the core's until the next advance). */
  appliedIndex: number;
  ledgerSize: number;
  /** False once the node stopped (shutdown) or its driver failed. */
  running: boolean;
  /** The last checkpoint this member refused because its ledger disagreed (checkpoints.ts). */
  checkpointDisagreement?: NodeStatus["checkpoint_disagreement"];
  /** Whether the data directory takes writes (storage-state.ts). */
  storage: StorageStatus;
  /** Why the node's Raft driver failed (it must restart), when it did. */
  failure?: string;
}

export function describeNode(inputs: StatusInputs): NodeStatus {
  const { raft, addresses } = inputs;
  const peers = new Map((inputs.peers ?? []).map((p) => [p.peerId, p]));
  const describe = (id: number, role: "voter" | "learner"): MemberStatus => {
    const address = addresses.of(id);
    const status: MemberStatus = { id, address: address?.raft ?? "", client: address?.client ?? "", role };
    const progress = raft.progress[id];
    if (progress) {
      status.match_index = progress.match;
      status.next_index = progress.next;
      status.lag = Math.max(0, raft.lastIndex - progress.match);
    }
    if (id !== raft.id) status.connected = peers.get(id)?.connected ?? false;
    return status;
  };
  const { voters, learners } = raft.membership;
  return {
    node_id: raft.id,
    role: learners.includes(raft.id) ? "learner" : roleNames[raft.role],
    term: raft.term,
    leader_id: raft.leader === 0 ? null : raft.leader,
    commit_index: raft.commitIndex,
    leader_commit_index: raft.leaderCommitIndex,
    applied_index: inputs.appliedIndex,
    ledger_size: inputs.ledgerSize,
    membership: [...voters.map((id) => describe(id, "voter")), ...learners.map((id) => describe(id, "learner"))],
    healthy: inputs.running && raft.leader !== 0,
    checkpoint_disagreement: inputs.checkpointDisagreement ?? null,
    storage: inputs.storage,
    failed: inputs.failure ?? null,
  };
}
