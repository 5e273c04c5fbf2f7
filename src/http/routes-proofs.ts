/**
 * @module routes-proofs. The route table's entries for what proves the ledger: a key's inclusion
 * proof against a signed checkpoint (GET /verify/*), the cluster's checkpoint and its verifier
 * keys with their history, and RFC 9162 inclusion and consistency proofs. The table is assembled
 * in src/http/routes.ts.
 */

import { errorResponse, jsonOk, query, text, type Json, type RouteSpec } from "./route-spec.ts";

/**
 * What a route that may need a quorum checkpoint made now (a cosigning round, or the leader's
 * checkpoint adopted by a follower) answers when none can be had.
 */
const checkpointFailures: Readonly<Record<string, Json>> = {
  "409": errorResponse("checkpoint_disagreement: this node's own ledger disagrees with the checkpoint it was handed, so it refuses to serve it (an alarm: docs/TROUBLESHOOTING.md)"),
  "500": errorResponse("verification_failed: the leader's checkpoint does not verify with this node's view of the members' keys"),
  "503": errorResponse("no_quorum, no_leader, not_leader, not_caught_up, timeout, unavailable: no quorum checkpoint could be made in time (Retry-After)"),
  "507": errorResponse("insufficient_storage: the disk is full, so a signed checkpoint cannot be stored"),
};

/** A proof route's 503: a size beyond this node's tree waits for it to catch up (a linearizable read barrier), or no checkpoint. */
const proofUnavailable = errorResponse(
  "no_quorum, no_leader, not_leader, not_caught_up, timeout, unavailable, shutting_down: a size beyond this node's tree could not be confirmed as committed (this node catches up first), or no quorum checkpoint could be made in time (Retry-After)",
);

export const proofRoutes = [
  {
    id: "verify",
    method: "GET",
    path: "/verify/*",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "Inclusion proof of a key's entry against the latest signed checkpoint",
      params: [
        query("version", "Prove this version."),
        query("consistency", "linearizable (default) or stale: the entry is read as GET /kv reads it.", { type: "string", enum: ["linearizable", "stale"] }),
      ],
      responses: {
        ...checkpointFailures,
        "503": errorResponse("no_quorum, no_leader, not_leader, not_caught_up, timeout, unavailable, shutting_down: a linearizable read could not be confirmed (read with consistency=stale), or no quorum checkpoint could be made in time (Retry-After)"),
        "200": jsonOk("The entry, its inclusion proof against a quorum checkpoint that covers it, and the node's verdict.", "Verify"),
        "400": errorResponse("invalid_key, invalid_version, invalid_request"),
        "404": errorResponse("not_found, version_not_found"),
      },
    },
  },
  {
    id: "checkpoint",
    method: "GET",
    path: "/checkpoint",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "The cluster's newest checkpoint (C2SP signed note) with the signatures of a majority of the voters, and external witnesses' cosignatures when configured",
      // The newest served checkpoint stands in when none covering the whole tree can be made in time: the failures come only before the first.
      responses: { ...checkpointFailures, "200": text("Signed note.") },
    },
  },
  { id: "checkpointKey", method: "GET", path: "/checkpoint/key", role: "read", rateLimited: true, doc: { summary: "This node's own checkpoint verifier key", responses: { "200": text("name+hash+base64 key") } } },
  {
    id: "checkpointKeys",
    method: "GET",
    path: "/checkpoint/keys",
    role: "read",
    rateLimited: true,
    doc: { summary: "The verifier keys of the current voters, one per line: a checkpoint is the cluster's when a majority of them signed it", responses: { "200": text("name+hash+base64 key, one per line") } },
  },
  {
    id: "checkpointKeyHistory",
    method: "GET",
    path: "/checkpoint/keys/history",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "Every key-set epoch of the cluster: keys notes, each signed by a majority of the previous epoch's members (docs/FORMATS.md, Keys notes)",
      responses: { "200": jsonOk("The origin and every epoch's keys and keys note.", "KeyHistory") },
    },
  },
  {
    id: "inclusionProof",
    method: "GET",
    path: "/proof/inclusion",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "RFC 9162 inclusion proof",
      params: [query("index", "Leaf index.", { type: "integer", minimum: 0 }, true), query("tree_size", "Tree size (default: the latest checkpoint's); one beyond this node's tree (a member ahead of it served that checkpoint) is answered once this node has caught up.")],
      // Without tree_size: the newest served checkpoint's size (one is made when none is served yet).
      responses: { ...checkpointFailures, "503": proofUnavailable, "200": jsonOk("The proof, with the leaf hash.", "InclusionProof"), "400": errorResponse("invalid_range: beyond the ledger") },
    },
  },
  {
    id: "consistencyProof",
    method: "GET",
    path: "/proof/consistency",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "RFC 9162 consistency proof",
      params: [query("from", "Older tree size.", { type: "integer", minimum: 0 }, true), query("to", "Newer tree size (default: the latest checkpoint's); one beyond this node's tree is answered once this node has caught up.")],
      // Without to: the newest served checkpoint's size (one is made when none is served yet).
      responses: { ...checkpointFailures, "503": proofUnavailable, "200": jsonOk("The proof.", "ConsistencyProof"), "400": errorResponse("invalid_range: beyond the ledger") },
    },
  },
] as const satisfies readonly RouteSpec[];
