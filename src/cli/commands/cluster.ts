/**
 * @module cli/commands/cluster. `members` (GET /cluster/nodes: the voters and learners with their
 * addresses and replication progress as the node sees them) and `status` (GET /health, /ready
 * and /metrics of every endpoint given, not just the first that answers: like `etcdctl endpoint
 * status`, it is how one sees which node is down, or up but not ready and why).
 */

import { ScribeError } from "../../lib/index.ts";
import type { Command } from "../command.ts";
import type { Context } from "../context.ts";
import { ReportedFailure } from "../errors.ts";
import { table } from "../output.ts";

const dash = "-";

function cell(value: unknown): string {
  return value === undefined || value === null ? dash : String(value);
}

export const members: Command = {
  name: "members",
  summary: "list the cluster's members and their replication progress",
  usage: ["members [options]"],
  description: `Lists the members of the cluster as the answering node knows them (GET /cluster/nodes): id,
voter or learner, leader, Raft and HTTP addresses, and — when that node is the leader — each
member's match index and lag behind the leader's log.`,
  options: [],
  verifies: false,
  arguments: { min: 0, max: 0 },
  async run(ctx) {
    const body = await ctx.http.clusterNodes();
    if (ctx.out.json) return ctx.out.document(body);
    const nodes = (Array.isArray(body.nodes) ? body.nodes : []) as Record<string, unknown>[];
    const rows = nodes.map((n) => [cell(n.id), cell(n.role), n.is_leader ? "leader" : dash, cell(n.address), cell(n.client), cell(n.match_index), cell(n.lag), n.is_self ? "*" : ""]);
    await ctx.out.lines(table([["ID", "ROLE", "LEADER", "RAFT", "HTTP", "MATCH", "LAG", "ANSWERED"], ...rows]));
    if (body.leader_id === null) ctx.out.note("the cluster has no leader right now");
  },
};

interface EndpointStatus {
  endpoint: string;
  reachable: boolean;
  /** GET /health: the process serves. */
  healthy: boolean;
  /** GET /ready: it should take traffic (null: a node without the route). */
  ready: boolean | null;
  /** Why it is not ready (GET /ready's reasons). */
  reasons: string[];
  /** What went wrong, when something did. */
  error: string | null;
  /** GET /metrics: node state, request counters, storage, caches. */
  metrics: Record<string, unknown> | null;
  /** The failure, kept to pick the exit status. */
  failure?: unknown;
}

async function statusOf(ctx: Context, endpoint: string): Promise<EndpointStatus> {
  const http = ctx.http.forEndpoint(endpoint);
  let healthy: boolean;
  let ready: boolean | null;
  let reasons: string[];
  try {
    healthy = (await http.health()).healthy;
    ({ ready, reasons } = await http.ready());
  } catch (failure) {
    return { endpoint, reachable: false, healthy: false, ready: null, reasons: [], error: (failure as Error).message, metrics: null, failure };
  }
  const problem = !healthy
    ? new ScribeError("unavailable", `${endpoint} is not healthy (its Raft driver failed: it must be restarted)`)
    : ready === false
      ? new ScribeError("unavailable", `${endpoint} is not ready: ${reasons.join("; ")}`)
      : undefined;
  try {
    const metrics = await http.metrics();
    return { endpoint, reachable: true, healthy, ready, reasons, error: problem?.message ?? null, metrics, failure: problem };
  } catch (failure) {
    return { endpoint, reachable: true, healthy, ready, reasons, error: (failure as Error).message, metrics: null, failure };
  }
}

function statusRow(s: EndpointStatus): string[] {
  const m = s.metrics ?? {};
  const storage = (m.storage ?? {}) as Record<string, unknown>;
  const health = !s.reachable ? "unreachable" : s.healthy ? "ok" : "unhealthy";
  const ready = s.ready === null ? dash : s.ready ? "yes" : "no";
  return [s.endpoint, cell(m.node_id), cell(m.role), cell(m.term), cell(m.leader_id), cell(m.commit_index), cell(m.applied_index), cell(m.ledger_size), cell(storage.liveKeys), health, ready];
}

export const status: Command = {
  name: "status",
  summary: "the health and state of every endpoint",
  usage: ["status [options]"],
  description: `Asks every endpoint given with --endpoints (not only the first that answers) for its health,
readiness and state: node id, Raft role and term, leader, commit and applied index, ledger
size, live keys, HEALTH (GET /health: the process serves) and READY (GET /ready: a leader known,
caught up, storage writable, S3 reachable when configured; the reasons are printed when not).
-o json adds each node's whole /metrics document. Exits 4 when any endpoint is unreachable,
unhealthy or not ready, after printing them all.`,
  options: [],
  verifies: false,
  arguments: { min: 0, max: 0 },
  async run(ctx) {
    const statuses = await Promise.all(ctx.http.endpoints.map((endpoint) => statusOf(ctx, endpoint)));
    if (ctx.out.json) {
      await ctx.out.document({ endpoints: statuses.map(({ failure: _failure, ...shown }) => shown) });
    } else {
      await ctx.out.lines(table([["ENDPOINT", "NODE", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LEDGER", "KEYS", "HEALTH", "READY"], ...statuses.map(statusRow)]));
      for (const s of statuses) if (s.error) ctx.out.note(s.error.includes(s.endpoint) ? s.error : `${s.endpoint}: ${s.error}`);
    }
    const failed = statuses.find((s) => s.failure !== undefined);
    if (failed) {
      const count = statuses.filter((s) => s.failure !== undefined).length;
      throw new ReportedFailure(`${count} of ${statuses.length} endpoint(s) did not report healthy and ready`, failed.failure);
    }
  },
};
