/**
 * @module test support: status. A follower's NodeStatus, in sync with its leader and with room on
 * its disk, for tests of what the node derives from its status (readiness, schemas); `fields`
 * overrides any part of it.
 */

import type { NodeStatus } from "../../src/ledger/index.ts";

export function followerStatus(fields: Partial<NodeStatus> = {}): NodeStatus {
  return {
    node_id: 2,
    role: "follower",
    term: 3,
    leader_id: 1,
    commit_index: 100,
    leader_commit_index: 100,
    applied_index: 100,
    ledger_size: 90,
    membership: [],
    healthy: true,
    failed: null,
    checkpoint_disagreement: null,
    storage: { writable: true, free_bytes: 1e9, min_free_bytes: 64 << 20 },
    ...fields,
  };
}
