/**
 * @module raft/config-change. Encoding of single-server membership changes (the data of
 * "config" entries) and the pure function that applies one to a membership.
 */

import { ByteReader, ByteWriter } from "../lib/index.ts";
import type { ConfigChange, Membership, NodeId } from "./types.ts";

const kindCodes = { addVoter: 1, addLearner: 2, remove: 3 } as const;

/** The data of a "config" entry: the change and the full membership it results in. */
export interface ConfigEntryData {
  change: ConfigChange;
  voters: NodeId[];
  learners: NodeId[];
}

/**
 * Encodes a config entry: u8 kind | u64 nodeId | u32 n | n x u64 voters | u32 m | m x u64 learners.
 * The resulting membership is carried whole so that a node that starts empty (a joining node)
 * or replays the log from any point reaches the same membership as everyone else.
 */
export function encodeConfigChange(change: ConfigChange, after: { voters: NodeId[]; learners: NodeId[] }): Uint8Array {
  const w = new ByteWriter(32).u8(kindCodes[change.kind]).u64(change.nodeId);
  w.u32(after.voters.length);
  for (const id of after.voters) w.u64(id);
  w.u32(after.learners.length);
  for (const id of after.learners) w.u64(id);
  return w.finish();
}

function readIds(reader: ByteReader): NodeId[] {
  const count = reader.u32();
  if (count * 8 > reader.remaining) throw new RangeError(`config change: ${count} ids cannot fit`);
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) {
    const id = reader.u64();
    if (id <= 0) throw new RangeError("config change: node id 0");
    ids.push(id);
  }
  return ids;
}

/** Decodes a config entry's data; throws on malformed input. */
export function decodeConfigChange(data: Uint8Array): ConfigEntryData {
  const reader = new ByteReader(data);
  const code = reader.u8();
  const nodeId = reader.u64();
  if (nodeId <= 0) throw new RangeError(`config change: node id must be positive, got ${nodeId}`);
  let change: ConfigChange;
  if (code === 1) change = { kind: "addVoter", nodeId };
  else if (code === 2) change = { kind: "addLearner", nodeId };
  else if (code === 3) change = { kind: "remove", nodeId };
  else throw new RangeError(`config change: unknown kind ${code}`);
  const voters = readIds(reader);
  const learners = readIds(reader);
  if (reader.remaining !== 0) throw new RangeError(`config change: ${reader.remaining} trailing bytes`);
  return { change, voters, learners };
}

/** The membership a committed config entry at `index` establishes. */
export function membershipOfConfigEntry(data: Uint8Array, index: number): Membership {
  const decoded = decodeConfigChange(data);
  return { voters: decoded.voters, learners: decoded.learners, index };
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
  const leavesVoters = change.kind === "remove" || change.kind === "addLearner";
  if (leavesVoters && membership.voters.length === 1 && membership.voters[0] === change.nodeId) {
    return "cannot remove or demote the last voter";
  }
  return null;
}
