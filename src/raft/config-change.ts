/**
 * @module raft/config-change. Encoding of single-server membership changes (the data of
 * "config" entries) and the pure function that applies one to a membership.
 */

import { ByteReader, ByteWriter } from "../lib/index.ts";
import type { ConfigChange, Membership, NodeId } from "./types.ts";

const kindCodes = { addVoter: 1, addLearner: 2, remove: 3 } as const;

export function encodeConfigChange(change: ConfigChange): Uint8Array {
  return new ByteWriter(16).u8(kindCodes[change.kind]).u64(change.nodeId).finish();
}

/** Decodes a config entry's data; throws on malformed input. */
export function decodeConfigChange(data: Uint8Array): ConfigChange {
  const reader = new ByteReader(data);
  const code = reader.u8();
  const nodeId = reader.u64();
  if (reader.remaining !== 0) throw new RangeError(`config change: ${reader.remaining} trailing bytes`);
  if (nodeId <= 0) throw new RangeError(`config change: node id must be positive, got ${nodeId}`);
  if (code === 1) return { kind: "addVoter", nodeId };
  if (code === 2) return { kind: "addLearner", nodeId };
  if (code === 3) return { kind: "remove", nodeId };
  throw new RangeError(`config change: unknown kind ${code}`);
}

/**
 * Returns the membership after `change` (committed at log `index`). Idempotent: adding a
 * present node or removing an absent one changes nothing but the index.
 */
export function applyConfigChange(membership: Membership, change: ConfigChange, index: number): Membership {
  const without = (ids: NodeId[]) => ids.filter((id) => id !== change.nodeId);
  const voters = without(membership.voters);
  const learners = without(membership.learners);
  if (change.kind === "addVoter") voters.push(change.nodeId);
  if (change.kind === "addLearner") learners.push(change.nodeId);
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  return { voters, learners, index };
}

/** Why a change cannot be proposed against `membership`, or null when it can. */
export function validateConfigChange(membership: Membership, change: ConfigChange): string | null {
  if (!Number.isSafeInteger(change.nodeId) || change.nodeId <= 0) return "node id must be a positive integer";
  if (change.kind === "remove" && membership.voters.length === 1 && membership.voters[0] === change.nodeId) {
    return "cannot remove the last voter";
  }
  return null;
}
