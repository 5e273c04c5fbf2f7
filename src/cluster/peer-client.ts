/**
 * @module peer-client. HTTP calls from one node to another's client API: forwarding writes to the
 * leader, asking it for a read index, joining through a seed, and fetching ledger ranges for
 * catch-up. Every call has a timeout; error bodies `{error, code}` come back as ScribeErrors.
 *
 * A forwarded write (proposeRemote) is a refusal only when it provably changed nothing: the
 * connection was refused before anything was sent (no_leader), or the leader answered a refusal
 * itself. Once sent, a broken connection, a timeout, an answer that cannot be read or an internal
 * error leave the write's outcome unknown (`outcome_unknown`): the leader may have applied it.
 */

import { entryFromJson, type Entry, type ForwardedOutcome, type IdempotencyRecord, type MemberAddresses } from "../ledger/index.ts";
import { fromBase64, fromHex, ScribeError, statusOfCode, type ErrorCode } from "../lib/index.ts";
import { bodySha256, clusterAuthHeader, clusterAuthValue, clusterBodyHashHeader } from "../transport/index.ts";

import { parseIdentityState, type IdentityState } from "./identity.ts";

/** How this process talks to its peers' HTTP APIs; set once at start by configurePeerClient. */
export interface PeerClientOptions {
  /** discovery.cluster_secret: every call carries an HMAC made with it (the internal principal). */
  clusterSecret: string;
  /** Peers serve HTTPS (security.tls_cert is set). */
  https: boolean;
  /** PEM CA(s) peers' HTTPS certificates are checked against. */
  ca?: string;
}

let peerOptions: PeerClientOptions = { clusterSecret: "", https: false };

/** Sets the scheme, trust and cluster credential of every later peer call in this process. */
export function configurePeerClient(options: PeerClientOptions): void {
  peerOptions = { ...options };
}

/** The URL of `path` (with query) on a peer's client address host:port. */
export function peerUrl(client: string, path: string): string {
  return `${peerOptions.https ? "https" : "http"}://${client}${path}`;
}

/**
 * A fetch to a peer: adds the cluster HMAC header (`X-Scribe-Cluster-Auth`, covering a fresh
 * nonce, the time, method, path with query and the body's SHA-256) when a secret is configured,
 * so the call passes API-key auth as the internal principal, once; and the TLS trust. Bodies are
 * strings or bytes (never streams).
 */
export function peerFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (peerOptions.clusterSecret !== "") {
    const parsed = new URL(url);
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new ScribeError("internal", "peerFetch signs string or byte bodies only");
    }
    const bodyHash = bodySha256(body ?? "");
    if (body) headers.set(clusterBodyHashHeader, bodyHash);
    headers.set(clusterAuthHeader, clusterAuthValue({ secret: peerOptions.clusterSecret, method: init.method ?? "GET", target: parsed.pathname + parsed.search, bodyHash }));
  }
  const tls = peerOptions.https && peerOptions.ca !== undefined ? { tls: { ca: peerOptions.ca } } : {};
  return fetch(url, { ...init, headers, ...tls } as RequestInit);
}

/** Connection errors that prove nothing was sent (on a fresh connection): the request never reached the peer. */
const notSentCodes: ReadonlySet<string> = new Set(["ECONNREFUSED", "ConnectionRefused", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

/**
 * A call's failure. `write`: the call may have changed the peer's state, so a failure after the
 * request may have been delivered is `outcome_unknown` rather than a refusal.
 */
async function call(url: string, init: RequestInit, timeoutMs: number, write = false): Promise<unknown> {
  try {
    return await callOnce(url, init, timeoutMs);
  } catch (error) {
    if (!write || !(error instanceof UnclearAnswer)) throw error;
    throw new ScribeError("outcome_unknown", `${error.message}; the leader may have applied the write, so its outcome is unknown (retry it with the same Idempotency-Key)`);
  }
}

/**
 * A call that was (or may have been) delivered and got no answer this node can read as a refusal:
 * a broken connection, a timeout, a body that is not JSON, an internal error or an unknown code.
 */
class UnclearAnswer extends ScribeError {
  override name = "UnclearAnswer";
}

async function callOnce(url: string, init: RequestInit, timeoutMs: number): Promise<unknown> {
  let response: Response;
  // Writes (POST) go over a fresh connection: on a pooled keep-alive connection that dies
  // mid-request, fetch retries on a new one, and a refusal there would hide that the first
  // attempt was delivered (and perhaps applied). On a fresh connection a refusal means nothing
  // was sent, so the caller may safely try another leader.
  const fresh = (init.method ?? "GET") !== "GET";
  try {
    response = await peerFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), ...(fresh ? { keepalive: false } : {}) });
  } catch (error) {
    // A refused connect delivered nothing: the peer (usually the leader) is down.
    if (notSentCodes.has((error as { code?: string }).code ?? "")) throw new ScribeError("no_leader", `${url} could not be reached (${(error as { code?: string }).code}); nothing was sent`);
    const timedOut = (error as Error).name === "TimeoutError";
    throw new UnclearAnswer(timedOut ? "timeout" : "unavailable", `${init.method ?? "GET"} ${url} ${timedOut ? "timed out" : `failed: ${(error as Error).message}`}`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UnclearAnswer("unavailable", `${url} answered ${response.status} with a non-JSON body`);
  }
  if (!response.ok) {
    const { error, code } = (body ?? {}) as { error?: string; code?: string };
    const known = typeof code === "string" && code in statusOfCode;
    const message = error ?? `${url} answered ${response.status}`;
    // The peer's own refusal, unless it is an internal error or a code this node does not know.
    if (!known || code === "internal") throw new UnclearAnswer(known ? "internal" : "unavailable", message);
    throw new ScribeError(code as ErrorCode, message);
  }
  return body;
}

export interface ProposeRemoteInput {
  /** The leader's client address host:port. */
  leaderClient: string;
  /** The forward envelope (src/ledger/forward.ts): the commands, their callers, this node's id and the leader's. */
  envelope: Uint8Array;
  /** Commands in the envelope: the answer must hold one outcome each. */
  count: number;
  timeoutMs: number;
}

/**
 * Sends a follower's group of independent commands to the leader's POST /cluster/propose as a
 * forward envelope (src/ledger/forward.ts); returns one outcome per command, in order.
 */
export async function proposeRemote(input: ProposeRemoteInput): Promise<ForwardedOutcome[]> {
  const init = { method: "POST", headers: { "content-type": "application/octet-stream" }, body: input.envelope as Uint8Array<ArrayBuffer> };
  return groupOutcomes(await call(peerUrl(input.leaderClient, "/cluster/propose"), init, input.timeoutMs, true), input.count);
}

/** The outcomes in a leader's answer `{outcomes}` to a forwarded group of `count` commands; outcome_unknown unless there is one each. */
export function groupOutcomes(answer: unknown, count: number): ForwardedOutcome[] {
  const outcomes = (answer as { outcomes?: unknown } | null)?.outcomes;
  if (!Array.isArray(outcomes) || outcomes.length !== count) {
    throw new ScribeError("outcome_unknown", `the leader answered ${Array.isArray(outcomes) ? outcomes.length : "no"} outcomes for ${count} commands; their outcome is unknown`);
  }
  return outcomes as ForwardedOutcome[];
}

/**
 * A leader's `{error, code}` answer to a forwarded group: its own refusal when the code is one this
 * node knows and not `internal`, else `outcome_unknown` (the leader may have applied the writes).
 */
export function groupRefusal(code: unknown, message: string): ScribeError {
  if (typeof code === "string" && code in statusOfCode && code !== "internal") return new ScribeError(code as ErrorCode, message);
  return unknownOutcome(message);
}

/** A forwarded group that may have reached the leader and got no answer that refuses it: `outcome_unknown`, saying `why`. */
export function unknownOutcome(why: string): ScribeError {
  return new ScribeError("outcome_unknown", `${why}; the leader may have applied the writes, so their outcome is unknown (retry with the same Idempotency-Key)`);
}

/** Asks the leader for a linearizable read index (its commit index, confirmed by a quorum). */
export async function fetchReadIndex(leaderClient: string, timeoutMs: number): Promise<number> {
  const body = (await call(peerUrl(leaderClient, "/cluster/read-index"), { method: "GET" }, timeoutMs)) as { read_index: number };
  return body.read_index;
}

/** Asks a member to add this node; returns the answer (with the cluster's address book). */
export async function requestJoin(seedClient: string, request: { node_id: number; address: string; client: string }, timeoutMs: number): Promise<{ addresses: Record<string, MemberAddresses> }> {
  return (await call(peerUrl(seedClient, "/cluster/nodes/add"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) }, timeoutMs)) as { addresses: Record<string, MemberAddresses> };
}

/** The leader's ledger size at an applied Raft index (for catch-up by ledger range). */
export async function fetchLedgerSizeAt(client: string, raftIndex: number, timeoutMs: number): Promise<number> {
  const body = (await call(peerUrl(client, `/cluster/ledger-size?raft_index=${raftIndex}`), { method: "GET" }, timeoutMs)) as { ledger_size: number };
  return body.ledger_size;
}

export async function fetchAddressBook(client: string, timeoutMs: number): Promise<Record<string, MemberAddresses>> {
  const body = (await call(peerUrl(client, "/cluster/nodes"), { method: "GET" }, timeoutMs)) as { nodes: { id: number; address: string; client: string }[] };
  return Object.fromEntries(body.nodes.map((n) => [String(n.id), { raft: n.address, client: n.client }]));
}

/** A member's replicated cluster identity (GET /cluster/identity): origin, member keys, keys notes. */
export async function fetchIdentity(client: string, timeoutMs: number): Promise<IdentityState> {
  return parseIdentityState(await call(peerUrl(client, "/cluster/identity"), { method: "GET" }, timeoutMs));
}

/** Asks a member for its signature line on a checkpoint body (POST /cluster/cosign, leader to member). */
export async function requestCosignature(client: string, body: string, timeoutMs: number): Promise<string> {
  const answer = (await call(peerUrl(client, "/cluster/cosign"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ body }) }, timeoutMs)) as { signature?: unknown };
  if (typeof answer.signature !== "string") throw new ScribeError("unavailable", `${client} answered a cosign request without a signature`);
  return answer.signature;
}

/** Asks a member for its signature line on a keys note body (POST /cluster/cosign with `keys_body`). */
export async function requestKeysSignature(client: string, body: string, timeoutMs: number): Promise<string> {
  const answer = (await call(peerUrl(client, "/cluster/cosign"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ keys_body: body }) }, timeoutMs)) as { signature?: unknown };
  if (typeof answer.signature !== "string") throw new ScribeError("unavailable", `${client} answered a keys signature request without a signature`);
  return answer.signature;
}

/** Hands a member the newest quorum checkpoint (POST /cluster/cosign with `latest`, leader to member). */
export async function publishCheckpoint(client: string, note: string, timeoutMs: number): Promise<void> {
  await call(peerUrl(client, "/cluster/cosign"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ latest: note }) }, timeoutMs);
}

/** Asks the leader for a quorum checkpoint of at least `size` leaves (POST /cluster/checkpoint). */
export async function requestCheckpoint(leaderClient: string, size: number, timeoutMs: number): Promise<string> {
  const answer = (await call(peerUrl(leaderClient, "/cluster/checkpoint"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ size }) }, timeoutMs)) as { note?: unknown };
  if (typeof answer.note !== "string") throw new ScribeError("unavailable", `${leaderClient} answered a checkpoint request without a note`);
  return answer.note;
}

/** Registers this member's verifier key with the leader (POST /cluster/keys), with a proof of possession. */
export async function registerKey(leaderClient: string, request: { node_id: number; key: string; proof: string }, timeoutMs: number): Promise<void> {
  await call(peerUrl(leaderClient, "/cluster/keys"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) }, timeoutMs);
}

export interface FetchedEntry {
  entry: Entry;
  version: number;
  leafHash: string;
  value: Uint8Array;
}

/** A page of entries with their values from GET /entries?values=true. */
export async function fetchEntries(client: string, from: number, limit: number, timeoutMs: number): Promise<FetchedEntry[]> {
  const body = (await call(peerUrl(client, `/entries?from=${from}&limit=${limit}&values=true`), { method: "GET" }, timeoutMs)) as { entries: Record<string, unknown>[] };
  return body.entries.map((json, i) => {
    const entry = entryFromJson(json, `entries[${i}]`);
    const value = typeof json.value_base64 === "string" ? fromBase64(json.value_base64) : undefined;
    if (!value) {
      const why = typeof json.value_error === "string" ? ` (${json.value_error})` : "";
      throw new ScribeError("unavailable", `${client} could not provide the value of entry ${entry.index}${why}`);
    }
    return { entry, version: json.version as number, leafHash: json.leaf_hash as string, value };
  });
}

/**
 * The idempotency records a peer made for commands whose first ledger index is in [from, to)
 * (GET /cluster/idempotency), for catch-up. A peer too old to have the route has none to give.
 */
export async function fetchIdempotencyRecords(client: string, from: number, to: number, timeoutMs: number): Promise<IdempotencyRecord[]> {
  let body: { records?: unknown };
  try {
    body = (await call(peerUrl(client, `/cluster/idempotency?from=${from}&to=${to}`), { method: "GET" }, timeoutMs)) as { records?: unknown };
  } catch (error) {
    if (error instanceof ScribeError && error.code === "no_route") return [];
    throw error;
  }
  if (!Array.isArray(body.records)) throw new ScribeError("verification_failed", `${client} answered idempotency records that are not a list`);
  return body.records.map((json, i) => idempotencyRecordFromJson(json, `${client} idempotency record ${i}`));
}

function idempotencyRecordFromJson(json: unknown, where: string): IdempotencyRecord {
  const r = (json ?? {}) as Record<string, unknown>;
  const int = (name: string): number => {
    const value = r[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new ScribeError("verification_failed", `${where}: ${name} is not an integer`);
    return value;
  };
  const fingerprint = typeof r.fingerprint === "string" ? fromHex(r.fingerprint) : undefined;
  if (typeof r.key !== "string" || !fingerprint || fingerprint.length !== 32) throw new ScribeError("verification_failed", `${where}: malformed key or fingerprint`);
  return { key: r.key, fingerprint, firstIndex: int("first_index"), lastIndex: int("last_index"), seq: int("seq"), recordedMs: int("recorded_ms"), expiresMs: int("expires_ms"), expiresSeq: int("expires_seq") };
}
