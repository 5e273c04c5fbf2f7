/**
 * GET /ready's verdict from what a node reports (src/cluster/readiness.ts): each check, its
 * facts, and one reason per failed check.
 */
import { describe, expect, test } from "bun:test";
import { assessReadiness, type ReadinessInputs } from "../../src/cluster/readiness.ts";
import { followerStatus } from "../support/status.ts";

const status = followerStatus;
const inputs = (fields: Partial<ReadinessInputs> = {}): ReadinessInputs => ({ status: status(), running: true, s3: undefined, policy: { lagEntriesMax: 10, requiresS3: true }, ...fields });

describe("readiness", () => {
  test("ready: every check passes, and the facts are shown", () => {
    const r = assessReadiness(inputs());
    expect(r).toEqual({
      ready: true,
      reasons: [],
      checks: {
        running: { ok: true },
        leader: { ok: true, leader_id: 1 },
        caught_up: { ok: true, applied_index: 100, commit_index: 100, leader_commit_index: 100, lag_entries: 0, lag_entries_max: 10 },
        storage: { ok: true, writable: true, free_bytes: 1e9, min_free_bytes: 64 << 20 },
        s3: { ok: true, configured: false },
      },
    });
  });

  test("no leader", () => {
    const r = assessReadiness(inputs({ status: status({ leader_id: null, role: "pre-candidate" }) }));
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual(["leader: no leader is known (term 3, role pre-candidate): an election is under way or a quorum is unreachable"]);
  });

  test("caught up: within lag_entries_max of the leader's commit index, which may be ahead of the node's own", () => {
    expect(assessReadiness(inputs({ status: status({ applied_index: 90, commit_index: 95, leader_commit_index: 100 }) })).ready).toBe(true);
    const behind = assessReadiness(inputs({ status: status({ applied_index: 89, commit_index: 95, leader_commit_index: 100 }) }));
    expect(behind.ready).toBe(false);
    expect(behind.checks.caught_up).toMatchObject({ ok: false, lag_entries: 11 });
    expect(behind.reasons).toEqual(["caught_up: applied index 89 trails the leader's commit index 100 by 11 entries (more than api.ready_lag_entries_max = 10)"]);
    // A leader (or a node that knows nothing newer) is judged against its own commit index.
    expect(assessReadiness(inputs({ status: status({ applied_index: 80, commit_index: 100, leader_commit_index: 0 }) })).checks.caught_up!.ok).toBe(false);
  });

  test("storage that takes no writes, with its code and reason", () => {
    const r = assessReadiness(inputs({ status: status({ storage: { writable: false, reason: "12 MB free, the reserve is 64 MB", free_bytes: 12e6, min_free_bytes: 64e6 } }) }));
    expect(r.checks.storage).toEqual({ ok: false, writable: false, code: "insufficient_storage", free_bytes: 12e6, min_free_bytes: 64e6, detail: "storage does not take writes (insufficient_storage): 12 MB free, the reserve is 64 MB" });
    expect(r.reasons).toHaveLength(1);
  });

  test("S3: reachable, unknown, unreachable; shown but not counted with requiresS3 false", () => {
    const up = { reachable: true, age_ms: 1000, source: "archival", detail: null };
    const unknown = { reachable: null, age_ms: null, source: null, detail: null };
    const down = { reachable: false, age_ms: 5, source: "probe", detail: "unreachable: ECONNREFUSED" };
    expect(assessReadiness(inputs({ s3: up })).checks.s3).toEqual({ ok: true, configured: true, required: true, reachable: true, age_ms: 1000, source: "archival" });
    expect(assessReadiness(inputs({ s3: unknown })).reasons).toEqual(["s3: S3 has not answered yet (the first check is still running)"]);
    const refused = assessReadiness(inputs({ s3: down }));
    expect(refused.ready).toBe(false);
    expect(refused.reasons).toEqual(["s3: S3 was unreachable when last tried (probe): unreachable: ECONNREFUSED"]);
    const tolerated = assessReadiness(inputs({ s3: down, policy: { lagEntriesMax: 10, requiresS3: false } }));
    expect(tolerated.ready).toBe(true);
    expect(tolerated.checks.s3).toMatchObject({ ok: true, reachable: false, required: false, detail: expect.stringContaining("ECONNREFUSED") });
  });

  test("a stopped node: every failing check is a reason", () => {
    const r = assessReadiness(inputs({ running: false, status: status({ leader_id: null, failed: "disk I/O error" }) }));
    expect(r.reasons.map((reason) => reason.split(":")[0])).toEqual(["running", "leader", "storage"]);
  });
});
