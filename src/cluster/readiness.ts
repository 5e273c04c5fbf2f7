/**
 * @module readiness. GET /ready: whether this node should take traffic, with the reason for every
 * "no". Liveness (GET /health) only says the process answers; readiness says its answers are
 * worth having:
 * - running: not shutting down, and the Raft driver has not failed;
 * - leader: a leader is known (writes can be forwarded, linearizable reads confirmed);
 * - caught_up: the applied index trails the commit index a leader told this node by at most
 *   `api.ready_lag_entries_max` entries (a node replaying its log or catching up serves old
 *   stale reads and slow linearizable ones);
 * - storage: the node's storage takes writes (NodeStatus.storage and .failed: the driver has not failed; a
 *   full disk sets it too);
 * - s3: with a bucket configured, S3 was reachable when last seen (the cold tier's state, at most
 *   `s3StateAgeMsMax` old: never a request per probe); with `api.ready_requires_s3 = false` it is
 *   shown but does not count.
 * A pure function of what the node reports; src/cluster/cluster-node.ts feeds it.
 */

import type { NodeStatus, Readiness, ReadinessCheck } from "../ledger/index.ts";
import type { S3State } from "./s3-state.ts";

export interface ReadinessInputs {
  status: NodeStatus;
  /** False once the node is shutting down or its driver failed. */
  running: boolean;
  /** The cold tier's S3 state; undefined when no bucket is configured. */
  s3: S3State | undefined;
  policy: { lagEntriesMax: number; requiresS3: boolean };
}

function leaderCheck(status: NodeStatus): ReadinessCheck {
  if (status.leader_id === null) return { ok: false, leader_id: null, detail: `no leader is known (term ${status.term}, role ${status.role}): an election is under way or a quorum is unreachable` };
  return { ok: true, leader_id: status.leader_id };
}

function caughtUpCheck(status: NodeStatus, lagEntriesMax: number): ReadinessCheck {
  const target = Math.max(status.leader_commit_index, status.commit_index);
  const lag = Math.max(0, target - status.applied_index);
  const facts = { applied_index: status.applied_index, commit_index: status.commit_index, leader_commit_index: status.leader_commit_index, lag_entries: lag, lag_entries_max: lagEntriesMax };
  if (lag > lagEntriesMax) return { ok: false, ...facts, detail: `applied index ${status.applied_index} trails the leader's commit index ${target} by ${lag} entries (more than api.ready_lag_entries_max = ${lagEntriesMax})` };
  return { ok: true, ...facts };
}

function storageCheck(status: NodeStatus): ReadinessCheck {
  const { writable, reason, free_bytes, min_free_bytes } = status.storage;
  if (status.failed !== null) return { ok: false, writable: false, code: "driver_failed", detail: `the Raft driver failed: ${status.failed}` };
  if (writable) return { ok: true, writable, free_bytes, min_free_bytes };
  return { ok: false, writable, code: "insufficient_storage", free_bytes, min_free_bytes, detail: `storage does not take writes (insufficient_storage): ${reason ?? "no reason given"}` };
}

function s3Check(s3: S3State | undefined, requiresS3: boolean): ReadinessCheck {
  if (!s3) return { ok: true, configured: false };
  const facts = { configured: true, required: requiresS3, reachable: s3.reachable, age_ms: s3.age_ms, source: s3.source };
  if (s3.reachable === true) return { ok: true, ...facts };
  const detail = s3.reachable === null ? "S3 has not answered yet (the first check is still running)" : `S3 was unreachable when last tried (${s3.source}): ${s3.detail ?? "no detail"}`;
  return { ok: !requiresS3, ...facts, detail };
}

/** The readiness of a node from what it reports. */
export function assessReadiness(inputs: ReadinessInputs): Readiness {
  const { status, policy } = inputs;
  const checks: Record<string, ReadinessCheck> = {
    running: inputs.running ? { ok: true } : { ok: false, detail: "the node is shutting down or its Raft driver failed" },
    leader: leaderCheck(status),
    caught_up: caughtUpCheck(status, policy.lagEntriesMax),
    storage: storageCheck(status),
    s3: s3Check(inputs.s3, policy.requiresS3),
  };
  const reasons = Object.entries(checks)
    .filter(([, check]) => !check.ok)
    .map(([name, check]) => `${name}: ${check.detail ?? "not ok"}`);
  return { ready: reasons.length === 0, reasons, checks };
}
