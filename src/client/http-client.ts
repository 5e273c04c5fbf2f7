/**
 * @module client/http-client. The HTTP API of Scribe Ledger nodes as plain calls, unverified (the
 * verifying LedgerClient and the auditor are built on it): values, receipts, history, key listing,
 * proofs, checkpoints, cluster state. Portable: the global (or an injected) fetch, no Bun or Node.
 *
 * Endpoints: a list of nodes of one cluster. A request goes to the endpoint that last answered and
 * moves on to the next only on a connection error, never on an HTTP error (an answer, even a 503,
 * is the cluster speaking). A read is retried elsewhere after any connection failure; a write only
 * when the connection was refused before anything was sent, since after a reset or a timeout it may
 * have been applied: it fails with a NetworkError of code `outcome_unknown` instead.
 *
 * Unknown outcomes and idempotency keys: a write given an `idempotencyKey` carries it (the
 * Idempotency-Key header), and only then is it retried, with the same key, after an unknown
 * outcome (a 504 `outcome_unknown` answer, or a connection lost after sending): within the key's
 * window the node answers the original receipt and appends nothing, so the retry is safe.
 * `unknownOutcomeRetries` (default 1) bounds the retries. A write without a key is never retried.
 */

import { ScribeError, statusOfCode, type ErrorCode } from "../lib/index.ts";
import { historyFromJson, keysPageFromJson, receiptFromJson, type HistoryVersion, type KeysPageJson, type ReceiptJson } from "../ledger/index.ts";

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer> | string;
  signal?: AbortSignal;
}

export type FetchLike = (url: string, init?: FetchInit) => Promise<Response>;

/** How long one request may take by default (connection, answer and body). */
export const requestTimeoutMsDefault = 30_000;
/** Retries of a keyed write after an unknown outcome, by default: one, enough to ride over a leader change. */
export const unknownOutcomeRetriesDefault = 1;
/**
 * Pause before such a retry: long enough for a lost leader's followers to notice; the node waits
 * for a new leader by itself, so the retry need not.
 */
const unknownOutcomeRetryPauseMs = 250;
/** Versions per GET /history page (the server's maximum). */
export const historyPageVersionsMax = 10_000;
/** Keys per GET /keys page (the server's maximum). */
export const keysPageMax = 1000;
/** Most characters of an error body quoted in a message. */
const errorBodyCharsMax = 500;

export interface HttpClientOptions {
  /** Base URLs of the nodes, e.g. ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]. */
  endpoints: readonly string[];
  /** Sent as `Authorization: Bearer <key>` (nodes with security.api_keys). */
  apiKey?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Per request; 0 for none. Default requestTimeoutMsDefault. */
  timeoutMs?: number;
  /** Retries of a write with an idempotency key after an unknown outcome (module comment); default unknownOutcomeRetriesDefault. */
  unknownOutcomeRetries?: number;
  fetch?: FetchLike;
}

/** A node answered with an HTTP error: its status, and its `{error, code}` when it sent one. */
export class HttpError extends ScribeError {
  override name = "HttpError";
  constructor(
    code: ErrorCode,
    message: string,
    readonly httpStatus: number,
    readonly endpoint: string,
  ) {
    super(code, message);
  }
}

/** What a request carries besides its method and path. */
export interface RequestParts {
  body?: Uint8Array<ArrayBuffer> | string;
  headers?: Record<string, string>;
}

/** No endpoint answered (refused, unreachable, reset, timed out): nothing the ledger said. */
export class NetworkError extends ScribeError {
  override name = "NetworkError";
}

/** Whether `error` is a failure to get an answer (network, HTTP status), not something a proof showed. */
export function isTransportError(error: unknown): boolean {
  return error instanceof HttpError || error instanceof NetworkError;
}

/** A buffered answer. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The endpoint that answered. */
  endpoint: string;
}

/** The code of a status when the body names none (or an unknown one). */
function codeOfStatus(status: number): ErrorCode {
  if (status === 504) return "outcome_unknown";
  if (status === 507) return "insufficient_storage";
  if (status === 404) return "not_found";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 409) return "conflict";
  if (status === 412) return "precondition_failed";
  if (status === 413) return "payload_too_large";
  if (status === 429) return "rate_limited";
  if (status >= 400 && status < 500) return "invalid_request";
  return "unavailable";
}

function httpError(method: string, path: string, answer: HttpAnswer): HttpError {
  const text = new TextDecoder().decode(answer.body);
  let message = text.slice(0, errorBodyCharsMax);
  let code = codeOfStatus(answer.status);
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof body.error === "string") message = body.error;
    if (typeof body.code === "string" && body.code in statusOfCode && body.code !== "verification_failed") code = body.code as ErrorCode;
    if (typeof body.code === "string") message += ` (${body.code})`;
  } catch {
    // not JSON: keep the text
  }
  return new HttpError(code, `${method} ${path}: ${answer.status} ${message}`, answer.status, answer.endpoint);
}

function parseAnswer(method: string, path: string, answer: HttpAnswer): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(answer.body));
  } catch (error) {
    throw new ScribeError("invalid_json", `${method} ${path}: the answer of ${answer.endpoint} is not JSON: ${(error as Error).message}`);
  }
}

/** Connection errors that prove the request never left (safe to send elsewhere, even a write). */
const notSentCodes = new Set(["ECONNREFUSED", "ConnectionRefused", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

function errorCode(error: unknown): string | undefined {
  const direct = (error as { code?: unknown } | null)?.code;
  if (typeof direct === "string") return direct;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === "string" ? cause : undefined;
}

function isTimeout(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "TimeoutError";
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (isTimeout(error)) return `no complete answer within ${timeoutMs / 1000} s`;
  const cause = (error as { cause?: { message?: unknown } } | null)?.cause?.message;
  const message = error instanceof Error ? error.message : String(error);
  return typeof cause === "string" && !message.includes(cause) ? `${message}: ${cause}` : message;
}

export interface GetOptions {
  version?: number;
  at?: number;
  consistency?: "linearizable" | "stale";
}

export interface WriteOptions {
  /** Only if the key's current version is this (If-Match); 0: only if the key does not exist. */
  ifVersion?: number;
  /**
   * Sent as Idempotency-Key: a retry with the same key (and the same request) within the node's
   * window appends nothing and answers the original receipt. With it, the write is retried after
   * an unknown outcome (module comment). Make one per write, e.g. with newIdempotencyKey().
   */
  idempotencyKey?: string;
}

/** A fresh random idempotency key (a UUID, from the platform's crypto). */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** Whether `error` leaves a write's outcome unknown: a 504 outcome_unknown answer, or no answer after sending. */
export function isUnknownOutcome(error: unknown): boolean {
  return error instanceof ScribeError && error.code === "outcome_unknown";
}

export interface PutOptions extends WriteOptions {
  contentType?: string;
  /** Only if the key has no live value (If-None-Match: *). */
  ifAbsent?: boolean;
}

/** A value as GET /:key serves it, with what its headers say about it. */
export interface ValueAnswer {
  value: Uint8Array;
  index: number;
  version: number;
  contentType: string;
  /** X-Scribe-Value-Hash (hex), as the server claims it. */
  valueHash: string;
}

export interface KeysOptions {
  prefix?: string;
  after?: string;
  limit?: number;
  consistency?: "linearizable" | "stale";
}

function keyPath(key: string): string {
  return `/kv/${encodeURIComponent(key)}`;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`);
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

function headerInteger(headers: Headers, name: string): number {
  const text = headers.get(name);
  if (text === null || !/^\d{1,15}$/.test(text)) throw new ScribeError("invalid_json", `the answer's ${name} header is ${JSON.stringify(text)}, not an integer`);
  return Number(text);
}

export class ScribeHttpClient {
  readonly endpoints: readonly string[];
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly unknownOutcomeRetries: number;
  private readonly fetcher: FetchLike;
  /** The endpoint that answered last: requests start there. */
  private current = 0;

  constructor(private readonly options: HttpClientOptions) {
    if (options.endpoints.length === 0) throw new ScribeError("invalid_request", "at least one endpoint is needed");
    this.endpoints = options.endpoints.map((endpoint) => endpoint.replace(/\/+$/, ""));
    this.headers = { ...options.headers, ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
    this.timeoutMs = options.timeoutMs ?? requestTimeoutMsDefault;
    this.unknownOutcomeRetries = options.unknownOutcomeRetries ?? unknownOutcomeRetriesDefault;
    this.fetcher = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** The endpoint requests go to first. */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  /** A client of one endpoint only (same key, headers, timeout), e.g. to ask every node for its status. */
  forEndpoint(endpoint: string): ScribeHttpClient {
    return new ScribeHttpClient({ ...this.options, endpoints: [endpoint] });
  }

  /**
   * Sends a request and buffers its answer, whatever its status, failing over to the next
   * endpoint on connection errors as the module comment says. Throws ScribeError unavailable or
   * timeout when no endpoint could answer.
   */
  async send(method: string, path: string, init: RequestParts = {}): Promise<HttpAnswer> {
    const failures: { endpoint: string; failure: string }[] = [];
    let timedOut = false;
    for (let attempt = 0; attempt < this.endpoints.length; attempt++) {
      const at = (this.current + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[at]!;
      try {
        const signal = this.timeoutMs > 0 ? AbortSignal.timeout(this.timeoutMs) : undefined;
        const response = await this.fetcher(`${endpoint}${path}`, { method, headers: { ...this.headers, ...init.headers }, body: init.body, signal });
        const body = new Uint8Array(await response.arrayBuffer());
        this.current = at;
        return { status: response.status, headers: response.headers, body, endpoint };
      } catch (error) {
        const failure = describeFailure(error, this.timeoutMs);
        timedOut = isTimeout(error);
        if (method !== "GET" && !notSentCodes.has(errorCode(error) ?? "")) {
          throw new NetworkError("outcome_unknown", `${method} ${path} on ${endpoint}: ${failure}; the request may have reached the node, so its outcome is unknown (it was not sent elsewhere)`);
        }
        failures.push({ endpoint, failure });
      }
    }
    if (failures.length === 1) throw new NetworkError(timedOut ? "timeout" : "unavailable", `cannot reach ${failures[0]!.endpoint}: ${failures[0]!.failure}`);
    throw new NetworkError("unavailable", `cannot reach any endpoint: ${failures.map((f) => `${f.endpoint} (${f.failure})`).join(", ")}`);
  }

  /**
   * Opens a streamed GET (GET /watch) and returns its body unread, failing over to the next
   * endpoint on connection errors as `send` does. The timeout covers the answer's headers only:
   * the body is read for as long as the caller wants (`signal` stops it). An HTTP error status
   * throws an HttpError (its body read, at most errorBodyCharsMax characters of it kept).
   */
  async openStream(path: string, signal?: AbortSignal): Promise<{ body: ReadableStream<Uint8Array>; endpoint: string }> {
    const failures: { endpoint: string; failure: string }[] = [];
    for (let attempt = 0; attempt < this.endpoints.length; attempt++) {
      const at = (this.current + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[at]!;
      const abort = new AbortController();
      const stop = () => abort.abort(signal?.reason);
      signal?.addEventListener("abort", stop, { once: true });
      const timer = this.timeoutMs > 0 ? setTimeout(() => abort.abort(new DOMException("no answer in time", "TimeoutError")), this.timeoutMs) : undefined;
      try {
        const response = await this.fetcher(`${endpoint}${path}`, { method: "GET", headers: this.headers, signal: abort.signal });
        clearTimeout(timer);
        this.current = at;
        if (response.status === 200 && response.body) return { body: response.body, endpoint };
        const answer = { status: response.status, headers: response.headers, body: new Uint8Array(await response.arrayBuffer()), endpoint };
        throw httpError("GET", path, answer);
      } catch (error) {
        clearTimeout(timer);
        signal?.removeEventListener("abort", stop);
        if (error instanceof HttpError || signal?.aborted) throw error;
        failures.push({ endpoint, failure: describeFailure(error, this.timeoutMs) });
      }
    }
    throw new NetworkError("unavailable", `cannot reach ${failures.length === 1 ? failures[0]!.endpoint : "any endpoint"}: ${failures.map((f) => (failures.length === 1 ? f.failure : `${f.endpoint} (${f.failure})`)).join(", ")}`);
  }

  /** Like send, but an HTTP error status throws an HttpError. */
  async request(method: string, path: string, init: RequestParts = {}): Promise<HttpAnswer> {
    const answer = await this.send(method, path, init);
    if (answer.status >= 200 && answer.status < 300) return answer;
    throw httpError(method, path, answer);
  }

  async getText(path: string): Promise<string> {
    return new TextDecoder().decode((await this.request("GET", path)).body);
  }

  async getJson(path: string): Promise<unknown> {
    return parseAnswer("GET", path, await this.request("GET", path));
  }

  /** A write; with an idempotency key, retried after an unknown outcome (module comment). */
  private async writeJson(method: string, path: string, init: RequestParts, idempotencyKey?: string): Promise<unknown> {
    if (idempotencyKey === undefined) return parseAnswer(method, path, await this.request(method, path, init));
    const keyed = { ...init, headers: { ...init.headers, "idempotency-key": idempotencyKey } };
    for (let attempt = 0; ; attempt++) {
      try {
        return parseAnswer(method, path, await this.request(method, path, keyed));
      } catch (error) {
        if (attempt >= this.unknownOutcomeRetries || !isUnknownOutcome(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, unknownOutcomeRetryPauseMs));
      }
    }
  }

  /** PUT /kv/KEY: stores the value once durable; the receipt. */
  async put(key: string, value: Uint8Array<ArrayBuffer> | string, options: PutOptions = {}): Promise<ReceiptJson> {
    const headers: Record<string, string> = { "content-type": options.contentType ?? (typeof value === "string" ? "text/plain; charset=utf-8" : "application/octet-stream") };
    if (options.ifVersion !== undefined) headers["if-match"] = String(options.ifVersion);
    if (options.ifAbsent) headers["if-none-match"] = "*";
    return receiptFromJson(await this.writeJson("PUT", keyPath(key), { body: value, headers }, options.idempotencyKey));
  }

  /** DELETE /kv/KEY: appends a tombstone; the receipt. */
  async delete(key: string, options: WriteOptions = {}): Promise<ReceiptJson> {
    const headers: Record<string, string> = options.ifVersion === undefined ? {} : { "if-match": String(options.ifVersion) };
    return receiptFromJson(await this.writeJson("DELETE", keyPath(key), { headers }, options.idempotencyKey));
  }

  /**
   * POST /batch: the ops (as the API takes them: {op, key, value | value_base64, content_type?,
   * if_match?, if_none_match?}) appended atomically; the answer `{first_index, last_index,
   * tree_size, receipts}`, raw.
   */
  async batch(ops: readonly Record<string, unknown>[], options: Pick<WriteOptions, "idempotencyKey"> = {}): Promise<unknown> {
    return this.writeJson("POST", "/batch", { body: JSON.stringify({ ops }), headers: { "content-type": "application/json" } }, options.idempotencyKey);
  }

  /** GET /kv/KEY (latest, `version` or `at`): the raw value and what the headers say. */
  async get(key: string, options: GetOptions = {}): Promise<ValueAnswer> {
    const answer = await this.request("GET", `${keyPath(key)}${query({ version: options.version, at: options.at, consistency: options.consistency })}`);
    return {
      value: answer.body,
      index: headerInteger(answer.headers, "x-scribe-index"),
      version: headerInteger(answer.headers, "x-scribe-version"),
      contentType: answer.headers.get("content-type") ?? "",
      valueHash: answer.headers.get("x-scribe-value-hash") ?? "",
    };
  }

  /** GET /history/KEY: up to `limit` versions from `fromVersion` (the server caps a page at 10 000). */
  async history(key: string, options: { fromVersion?: number; limit?: number; consistency?: "linearizable" | "stale" } = {}): Promise<HistoryVersion[]> {
    return historyFromJson(await this.getJson(`/history/${encodeURIComponent(key)}${query({ from_version: options.fromVersion, limit: options.limit, consistency: options.consistency })}`));
  }

  /**
   * Every version of `key` from `fromVersion`, a page (GET /history) at a time, at most `limit`
   * versions in all when given.
   */
  async *historyPages(key: string, options: { fromVersion?: number; limit?: number; consistency?: "linearizable" | "stale" } = {}): AsyncGenerator<HistoryVersion[]> {
    let fromVersion = options.fromVersion ?? 1;
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const pageLimit = Math.min(historyPageVersionsMax, left);
      const page = await this.history(key, { fromVersion, limit: pageLimit, consistency: options.consistency });
      if (page.length > 0) yield page;
      if (page.length < pageLimit) return;
      left -= page.length;
      fromVersion = page[page.length - 1]!.version + 1;
    }
  }

  /** Every key (from `after`, under `prefix`) a page (GET /keys) at a time, at most `limit` in all when given. */
  async *keysPages(options: KeysOptions = {}): AsyncGenerator<KeysPageJson> {
    let after = options.after;
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const page = await this.keys({ prefix: options.prefix, after, limit: Math.min(keysPageMax, left), consistency: options.consistency });
      left -= page.keys.length;
      yield page;
      if (page.next === null) return;
      after = page.next;
    }
  }

  /** GET /keys: one page of keys in UTF-8 byte order. */
  async keys(options: KeysOptions = {}): Promise<KeysPageJson> {
    const { prefix, after, limit, consistency } = options;
    return keysPageFromJson(await this.getJson(`/keys${query({ prefix: prefix || undefined, after, limit, consistency })}`));
  }

  /** GET /verify/KEY (raw JSON; verify it with verifyKeyResponse). */
  verifyResponse(key: string, version?: number, consistency?: "linearizable" | "stale"): Promise<unknown> {
    return this.getJson(`/verify/${encodeURIComponent(key)}${query({ version, consistency })}`);
  }

  /** GET /entries (raw JSON `{from, tree_size, entries}`). */
  entries(from: number, limit: number, options: { values?: boolean } = {}): Promise<unknown> {
    return this.getJson(`/entries${query({ from, limit, values: options.values ? "true" : undefined })}`);
  }

  /** GET /proof/inclusion (raw JSON). */
  inclusion(index: number, treeSize: number): Promise<unknown> {
    return this.getJson(`/proof/inclusion?index=${index}&tree_size=${treeSize}`);
  }

  /** GET /proof/consistency (raw JSON). */
  consistency(from: number, to: number): Promise<unknown> {
    return this.getJson(`/proof/consistency?from=${from}&to=${to}`);
  }

  /** GET /checkpoint: the signed note text (unverified). */
  checkpointNote(): Promise<string> {
    return this.getText("/checkpoint");
  }

  /** GET /checkpoint/keys: the verifier keys of the cluster's voters (trust on first use). */
  async verifierKeys(): Promise<string[]> {
    return (await this.getText("/checkpoint/keys")).split("\n").map((line) => line.trim()).filter((line) => line !== "");
  }

  /** GET /checkpoint/keys/history: the keys notes of every key-set epoch (unverified JSON). */
  async keyHistory(): Promise<unknown> {
    return JSON.parse(await this.getText("/checkpoint/keys/history"));
  }

  /** GET /checkpoint/key: the verifier key the node says it signs with (trust on first use). */
  async verifierKey(): Promise<string> {
    return (await this.getText("/checkpoint/key")).trim();
  }

  /**
   * GET /health: liveness — whether the process serves (503: its Raft driver failed and it must be
   * restarted; 503 is an answer here, not an error), and its body.
   */
  async health(): Promise<{ healthy: boolean; body: Record<string, unknown> }> {
    const answer = await this.send("GET", "/health");
    if (answer.status !== 200 && answer.status !== 503) throw httpError("GET", "/health", answer);
    return { healthy: answer.status === 200, body: parseAnswer("GET", "/health", answer) as Record<string, unknown> };
  }

  /**
   * GET /ready: whether the node should take traffic (a leader known, caught up, storage
   * writable, S3 reachable when configured), with the reasons when not; 503 is an answer here.
   * `ready` is null for a node too old to have the route.
   */
  async ready(): Promise<{ ready: boolean | null; reasons: string[]; body: Record<string, unknown> | null }> {
    const answer = await this.send("GET", "/ready");
    if (answer.status === 404) return { ready: null, reasons: [], body: null };
    if (answer.status !== 200 && answer.status !== 503) throw httpError("GET", "/ready", answer);
    const body = parseAnswer("GET", "/ready", answer) as Record<string, unknown>;
    const reasons = Array.isArray(body.reasons) ? body.reasons.filter((r): r is string => typeof r === "string") : [];
    return { ready: answer.status === 200, reasons, body };
  }

  /** GET /cluster/nodes: `{leader_id, nodes: [...]}`. */
  async clusterNodes(): Promise<Record<string, unknown>> {
    return (await this.getJson("/cluster/nodes")) as Record<string, unknown>;
  }

  /** GET /cluster/info: this node's Raft state. */
  async clusterInfo(): Promise<Record<string, unknown>> {
    return (await this.getJson("/cluster/info")) as Record<string, unknown>;
  }

  /** GET /metrics: node state, request counters, storage and caches as JSON. */
  async metrics(): Promise<Record<string, unknown>> {
    return (await this.getJson("/metrics")) as Record<string, unknown>;
  }
}
