/**
 * @module cluster-routes. Handlers of /cluster/*: the true state of the Raft group, membership
 * changes, and the internal calls nodes make to each other (read index, ledger size at a Raft
 * index for catch-up, checkpoint cosigning, key registration, the identity and idempotency
 * records for catch-up). JSON bodies arrive checked against their schemas
 * (src/http/request-schemas.ts: NodeAddRequest, NodeRemoveRequest, CosignRequest,
 * CheckpointRequest, KeyRegistration); what a schema cannot say (`host:port` syntax) is checked
 * here.
 */

import { isHostPort } from "../config/index.ts";
import { defaultHasher } from "../crypto/index.ts";
import { decodeForward, idempotencyKeyProblem, putOperation, validateContentType, validateKey, type AuditRecord, type ClusterService, type ForwardedOutcome, type ForwardedWrite, type IdempotencyRecord, type LedgerService, type Operation } from "../ledger/index.ts";
import { ScribeError, statusOfCode, toHex, type ErrorCode } from "../lib/index.ts";
import { parseNonNegative } from "./parse.ts";
import type { Guard } from "./security.ts";

function requireCluster(cluster: ClusterService | undefined): ClusterService {
  if (!cluster) throw new ScribeError("invalid_request", "this node does not run Raft");
  return cluster;
}

export function clusterInfo(service: LedgerService): Record<string, unknown> {
  return { ...service.status() };
}

export function clusterNodes(service: LedgerService): Record<string, unknown> {
  const status = service.status();
  return { leader_id: status.leader_id, nodes: status.membership.map((m) => ({ ...m, is_leader: m.id === status.leader_id, is_self: m.id === status.node_id })) };
}

export function leaderInfo(service: LedgerService): Record<string, unknown> {
  const status = service.status();
  const leader = status.membership.find((m) => m.id === status.leader_id);
  if (!leader) throw new ScribeError("no_leader", "the cluster has no leader right now");
  return { leader_id: leader.id, address: leader.address, client: leader.client, term: status.term, is_self: leader.id === status.node_id };
}

/**
 * POST /cluster/nodes/add {node_id, address = raft host:port, client? = http host:port}; the
 * body's shape was checked by its schema (src/http/request-schemas.ts), the host:port syntax is
 * here.
 */
export function addNode(cluster: ClusterService | undefined, doc: { node_id: number; address: string; client?: string }): Promise<Record<string, unknown>> {
  const { node_id: nodeId, address, client } = doc;
  if (!isHostPort(address)) throw new ScribeError("invalid_request", `address must be the node's Raft host:port, got ${JSON.stringify(address)}`);
  if (client !== undefined && !isHostPort(client)) throw new ScribeError("invalid_request", `client must be the node's HTTP host:port, got ${JSON.stringify(client)}`);
  return requireCluster(cluster).addNode(client === undefined ? { node_id: nodeId, address } : { node_id: nodeId, address, client });
}

/** POST /cluster/nodes/remove {node_id} (shape checked by its schema). */
export function removeNode(cluster: ClusterService | undefined, doc: { node_id: number }): Promise<Record<string, unknown>> {
  return requireCluster(cluster).removeNode(doc.node_id);
}

/** POST /cluster/cosign {body} | {keys_body} | {latest}: exactly one string field (checked by its schema). */
export function cosign(cluster: ClusterService | undefined, doc: { body: string } | { keys_body: string } | { latest: string }): Promise<Record<string, unknown>> {
  return requireCluster(cluster).cosign(doc);
}

/** POST /cluster/checkpoint {size} (shape checked by its schema). */
export async function checkpointFor(cluster: ClusterService | undefined, doc: { size: number }): Promise<Record<string, unknown>> {
  return { note: await requireCluster(cluster).checkpointFor(doc.size) };
}

/** POST /cluster/keys {node_id, key, proof} (shape checked by its schema; the key and its proof by the leader). */
export async function registerKey(cluster: ClusterService | undefined, doc: { node_id: number; key: string; proof: string }): Promise<Record<string, unknown>> {
  const { node_id: nodeId, key, proof } = doc;
  await requireCluster(cluster).registerKey({ node_id: nodeId, key, proof });
  return { registered: true, node_id: nodeId };
}

export function identity(cluster: ClusterService | undefined): Record<string, unknown> {
  return requireCluster(cluster).identity();
}

export async function readIndex(cluster: ClusterService | undefined): Promise<Record<string, unknown>> {
  return { read_index: await requireCluster(cluster).readIndex() };
}

export function ledgerSize(cluster: ClusterService | undefined, query: Record<string, string | undefined>): Record<string, unknown> {
  if (query.raft_index === undefined) throw new ScribeError("invalid_range", "the query parameter raft_index is required");
  const raftIndex = parseNonNegative(query.raft_index, "raft_index", "invalid_range");
  return { raft_index: raftIndex, ledger_size: requireCluster(cluster).ledgerSizeAt(raftIndex) };
}

/** The audit action of a forwarded write: its one op's, or batch. */
function forwardedAction(ops: readonly Operation[]): AuditRecord["action"] {
  return ops.length === 1 ? ops[0]!.op : "batch";
}

/** The audit fields of one forwarded command: a single op as put/delete, several as a batch. */
function forwardedRecord(ops: readonly Operation[], outcome: ForwardedOutcome): Omit<AuditRecord, "principal" | "role" | "client" | "forwarded_by"> {
  const action = forwardedAction(ops);
  const base = ops.length === 1 ? { action, key: ops[0]!.key } : { action, keys: ops.map((op) => op.key) };
  if ("receipts" in outcome) {
    const indexes = ops.length === 1 ? { index: outcome.receipts[0]!.index } : { first_index: outcome.receipts[0]!.index, last_index: outcome.receipts.at(-1)!.index };
    return { ...base, ...indexes, result: "ok", status: 200 };
  }
  const code = outcome.code in statusOfCode ? (outcome.code as ErrorCode) : "unavailable";
  return { ...base, result: "error", status: statusOfCode[code], code: outcome.code };
}

export interface ProposeForwardedInput {
  cluster: ClusterService | undefined;
  service: LedgerService;
  guard: Guard;
  /** The forward envelope (src/ledger/forward.ts), already authenticated: its signature over HTTP, the connection's handshake over the Raft transport. */
  body: Uint8Array;
  valueBytesMax: number;
  /** Over the Raft transport: the peer the envelope came from, authenticated by the transport's handshake; the envelope must name it. */
  sender?: number;
}

/**
 * POST /cluster/propose (node to node): a follower's forwarded group of independent commands (the
 * same group over the Raft transport: ScribeApp.forwarded).
 * Every op is validated again here and every value hash recomputed: the leader trusts no caller
 * with what goes into the ledger. Each command is audited here under the client that sent it to
 * the follower, with the follower's id.
 */
export async function proposeForwarded(input: ProposeForwardedInput): Promise<{ outcomes: ForwardedOutcome[] }> {
  const { valueBytesMax } = input;
  const envelope = decodeForward(input.body);
  if (envelope.to !== input.service.nodeId) {
    throw new ScribeError("not_leader", `this forward is for node ${envelope.to}, and this is node ${input.service.nodeId}`);
  }
  if (input.sender !== undefined && envelope.from !== input.sender) {
    throw new ScribeError("invalid_request", `this forward names node ${envelope.from} as its sender and came from node ${input.sender}`);
  }
  const checked: ForwardedWrite[] = envelope.commands.map((command) => {
    const ops = command.ops.map((op) => {
      validateKey(op.key);
      if (op.op === "delete") return op;
      if (op.value.length > valueBytesMax) throw new ScribeError("value_too_large", `a forwarded value is ${op.value.length} bytes; the most is ${valueBytesMax}`);
      return putOperation({ ...op, contentType: validateContentType(op.contentType, "application/octet-stream") }, defaultHasher()!);
    });
    if (command.idempotencyKey === undefined) return { ops };
    const problem = idempotencyKeyProblem(command.idempotencyKey);
    if (problem !== undefined) throw new ScribeError("invalid_request", `a forwarded write's ${problem}`);
    return { ops, idempotencyKey: command.idempotencyKey };
  });
  const outcomes = await requireCluster(input.cluster).proposeForwarded(checked);
  outcomes.forEach((outcome, i) => {
    const ops = checked[i]!.ops;
    // A record is built only when it would be written (Guard.audits).
    if (!input.guard.audits(forwardedAction(ops))) return;
    input.guard.auditForwarded(envelope.commands[i]!.context ?? unknownCaller, envelope.from, forwardedRecord(ops, outcome));
  });
  return { outcomes };
}

/** The JSON of an idempotency record (GET /cluster/idempotency). */
export function idempotencyRecordJson(record: IdempotencyRecord): Record<string, unknown> {
  return {
    key: record.key,
    fingerprint: toHex(record.fingerprint),
    first_index: record.firstIndex,
    last_index: record.lastIndex,
    seq: record.seq,
    recorded_ms: record.recordedMs,
    expires_ms: record.expiresMs,
    expires_seq: record.expiresSeq,
  };
}

/** Widest range of ledger indexes one GET /cluster/idempotency covers (a catch-up page is 1000). */
const idempotencyRangeIndexesMax = 100_000;

/**
 * GET /cluster/idempotency?from=&to= (node to node): the idempotency records made by commands
 * whose first ledger index is in [from, to), in order; a follower catching up by ledger range
 * fetches them with each page of entries.
 */
export function idempotencyRecords(cluster: ClusterService | undefined, query: Record<string, string | undefined>): Record<string, unknown> {
  if (query.from === undefined || query.to === undefined) throw new ScribeError("invalid_range", "the query parameters from and to are required");
  const from = parseNonNegative(query.from, "from", "invalid_range");
  const to = parseNonNegative(query.to, "to", "invalid_range");
  if (to < from || to - from > idempotencyRangeIndexesMax) throw new ScribeError("invalid_range", `want from <= to <= from + ${idempotencyRangeIndexesMax}, got from=${from} to=${to}`);
  return { from, to, records: requireCluster(cluster).idempotencyRecords(from, to).map(idempotencyRecordJson) };
}

/** The caller of a forwarded write whose follower did not say (an embedded or older node). */
const unknownCaller = { principal: "unknown", role: "unknown", client: "unknown" };
