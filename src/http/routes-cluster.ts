/**
 * @module routes-cluster. The route table's entries for the cluster: its status (this node's Raft
 * state, the members, the leader), membership changes (admin), and the node-to-node routes
 * (role `internal`: read index, ledger sizes, checkpoint cosigning, key registration, identity and
 * idempotency records for catch-up, forwarded writes). The table is assembled in
 * src/http/routes.ts; the handlers are in src/http/cluster-routes.ts.
 */

import { errorResponse, jsonOk, query, rawBody, type RouteSpec } from "./route-spec.ts";

export const clusterRoutes = [
  { id: "clusterInfo", method: "GET", path: "/cluster/info", role: "read", rateLimited: true, doc: { summary: "This node's Raft state", responses: { "200": jsonOk("Node status.", "NodeStatus") } } },
  { id: "clusterNodes", method: "GET", path: "/cluster/nodes", role: "read", rateLimited: true, doc: { summary: "Members and their progress", responses: { "200": jsonOk("Members and their progress.", "ClusterNodes") } } },
  {
    id: "clusterLeader",
    method: "GET",
    path: "/cluster/leader/info",
    role: "read",
    rateLimited: true,
    doc: { summary: "The current leader", responses: { "200": jsonOk("The leader and its addresses.", "Leader"), "503": errorResponse("no_leader: the cluster has no leader right now (Retry-After)") } },
  },
  {
    id: "clusterReadIndex",
    method: "GET",
    path: "/cluster/read-index",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "Leader only: a linearizable read index (node to node)",
      responses: {
        "200": jsonOk("A read index confirmed by a quorum.", "ReadIndex"),
        "400": errorResponse("invalid_request: this node does not run Raft"),
        "503": errorResponse("not_leader, timeout, unavailable, shutting_down: no read index confirmed (Retry-After)"),
      },
    },
  },
  {
    id: "clusterLedgerSize",
    method: "GET",
    path: "/cluster/ledger-size",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "Ledger size at an applied Raft index (node to node, catch-up)",
      params: [query("raft_index", "Applied Raft index.", { type: "integer", minimum: 0 }, true)],
      responses: { "200": jsonOk("The ledger size at that Raft index.", "LedgerSize"), "400": errorResponse("invalid_range: no raft_index, or no ledger size recorded for it") },
    },
  },
  {
    id: "clusterCosign",
    method: "POST",
    path: "/cluster/cosign",
    role: "internal",
    body: "CosignRequest",
    rateLimited: false,
    doc: {
      summary: "Leader to member: sign a checkpoint body after checking it against this member's ledger ({body}), sign a keys note body ({keys_body}), or take the newest quorum checkpoint ({latest})",
      responses: {
        "200": jsonOk("{signature}: this member's signature line (body, keys_body); {size}: the size of the checkpoint it serves now (latest).", "CosignAnswer"),
        "400": errorResponse("invalid_json, invalid_request (not one of the three fields; not a checkpoint or keys note body; another origin)"),
        "409": errorResponse("checkpoint_disagreement: this member's ledger has another root at that size, or contradicts what it signed"),
        "413": errorResponse("payload_too_large"),
        "500": errorResponse("verification_failed: the latest checkpoint does not verify with this member's view of the voters' keys"),
        "503": errorResponse("not_caught_up: this member has not applied that size (or that key set) in time; unavailable: it does not know the cluster's origin yet (Retry-After)"),
        "507": errorResponse("insufficient_storage: the disk is full, so the signed checkpoint cannot be stored"),
      },
    },
  },
  {
    id: "clusterCheckpoint",
    method: "POST",
    path: "/cluster/checkpoint",
    role: "internal",
    body: "CheckpointRequest",
    rateLimited: false,
    doc: {
      summary: "Follower to leader: a quorum checkpoint of at least `size` leaves (a cosigning round when needed)",
      responses: {
        "200": jsonOk("The checkpoint note.", "CheckpointNote"),
        "400": errorResponse("invalid_json, invalid_request"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("not_leader, no_quorum, timeout, unavailable: no such checkpoint could be made in time (Retry-After)"),
        "507": errorResponse("insufficient_storage: the disk is full, so the signed checkpoint cannot be stored"),
      },
    },
  },
  {
    id: "clusterKeys",
    method: "POST",
    path: "/cluster/keys",
    role: "internal",
    body: "KeyRegistration",
    rateLimited: false,
    doc: {
      summary: "Member to leader: register the member's checkpoint verifier key, with a proof of possession",
      responses: {
        "200": jsonOk("The key is registered (applied on the leader).", "KeyRegistered"),
        "400": errorResponse("invalid_json, invalid_request (also a bad verifier key, or a proof that does not verify or is for another origin, node or key)"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("not_leader, unavailable (the origin is not fixed yet, the proposal was refused), timeout: not applied in time (Retry-After)"),
      },
    },
  },
  {
    id: "clusterIdentity",
    method: "GET",
    path: "/cluster/identity",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "The replicated cluster identity: origin, member keys by node id, keys notes (node to node, catch-up)",
      responses: { "200": jsonOk("The identity as this node applied it.", "ClusterIdentity"), "400": errorResponse("invalid_request: this node does not run Raft") },
    },
  },
  {
    id: "clusterIdempotency",
    method: "GET",
    path: "/cluster/idempotency",
    role: "internal",
    rateLimited: false,
    doc: {
      summary: "Idempotency records of a ledger range (node to node, catch-up)",
      params: [query("from", "First ledger index.", { type: "integer", minimum: 0 }, true), query("to", "Ledger index past the range.", { type: "integer", minimum: 0 }, true)],
      responses: { "200": jsonOk("The records of the range.", "IdempotencyRecords"), "400": errorResponse("invalid_range: from or to missing, or not from <= to <= from + 100000") },
    },
  },
  {
    id: "clusterNodesAdd",
    method: "POST",
    path: "/cluster/nodes/add",
    role: "admin",
    audit: "node_add",
    body: "NodeAddRequest",
    rateLimited: true,
    doc: {
      summary: "Add a node (learner, then voter)",
      responses: {
        "200": jsonOk("The node's role now (learner, promoted once caught up) and the address book.", "NodeAdded"),
        "400": errorResponse("invalid_json, invalid_request"),
        "409": errorResponse("conflict: the change was refused (another change or a leadership transfer is pending, or it is invalid)"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("no_leader, not_leader, unavailable, timeout: refused, nothing changed (Retry-After)"),
        "504": errorResponse("outcome_unknown: proposed, or sent to the leader, without an answer in time; it may still be applied: check GET /cluster/nodes"),
      },
    },
  },
  {
    id: "clusterNodesRemove",
    method: "POST",
    path: "/cluster/nodes/remove",
    role: "admin",
    audit: "node_remove",
    body: "NodeRemoveRequest",
    rateLimited: true,
    doc: {
      summary: "Remove a node",
      responses: {
        "200": jsonOk("The node was removed.", "NodeRemoved"),
        "400": errorResponse("invalid_json, invalid_request"),
        "404": errorResponse("not_found: the node is not a member"),
        "409": errorResponse("conflict: the change was refused (another change or a leadership transfer is pending, or it is invalid)"),
        "413": errorResponse("payload_too_large"),
        "503": errorResponse("no_leader, not_leader, unavailable, timeout: refused, nothing changed (Retry-After)"),
        "504": errorResponse("outcome_unknown: proposed, or sent to the leader, without an answer in time; it may still be applied: check GET /cluster/nodes"),
      },
    },
  },
  {
    id: "clusterPropose",
    method: "POST",
    path: "/cluster/propose",
    role: "internal",
    audit: "forwarded",
    rateLimited: false,
    doc: {
      summary: "Leader only: commands forwarded by a follower, each applied on its own (node to node)",
      requestBody: rawBody("A forward envelope (src/ledger/forward.ts): the forwarding and receiving node ids, each command's original caller and idempotency key, then the command list."),
      responses: { "200": jsonOk("One outcome per forwarded command: its receipts (replayed: true when an earlier command's), or its error.", "ProposeAnswer"), "400": errorResponse("invalid_request, invalid_key, key_too_large"), "413": errorResponse("payload_too_large, value_too_large"), "503": errorResponse("not_leader: this node is not the leader, or the forward is for another node; nothing was appended (Retry-After)") },
    },
  },
] as const satisfies readonly RouteSpec[];
