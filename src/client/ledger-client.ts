/**
 * @module client/ledger-client. A thin HTTP client over the verifying functions: every answer it
 * returns has been checked against a signed checkpoint, and every checkpoint against the one it
 * trusted before. `fetch` is injectable (tests, proxies); the global one is the default.
 */

import { ScribeError, statusOfCode, type ErrorCode } from "../lib/index.ts";
import { parseVerifierKey, type Checkpoint, type Hasher, type NoteVerifier } from "../merkle/index.ts";
import { loadHasher } from "./hasher.ts";
import type { ConsistencyProofJson, InclusionProofJson, VerifyResponseJson } from "./json.ts";
import { TrustedState, type TrustedStatePersistence } from "./trusted-state.ts";
import { verifyKeyResponse, type VerifiedKey } from "./verify.ts";

export type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<Response>;

export interface LedgerClientOptions {
  /** e.g. "http://127.0.0.1:8001" */
  baseUrl: string;
  /** Verifier keys ("<name>+<hash>+<key>") of the ledger's checkpoint signer. */
  verifierKeys: readonly string[];
  /** The log's origin line; checkpoints for any other origin are refused. */
  origin?: string;
  persistence?: TrustedStatePersistence;
  fetch?: FetchLike;
  hasher?: Hasher;
  /** Extra request headers, e.g. { authorization: "Bearer ..." }. */
  headers?: Record<string, string>;
}

export class LedgerClient {
  readonly trustedState: TrustedState;

  private constructor(
    private readonly options: LedgerClientOptions,
    private readonly verifiers: readonly NoteVerifier[],
    private readonly hasher: Hasher,
    private readonly fetcher: FetchLike,
  ) {
    this.trustedState = new TrustedState({ verifiers, origin: options.origin, persistence: options.persistence, hasher });
  }

  static async create(options: LedgerClientOptions): Promise<LedgerClient> {
    const verifiers = await Promise.all(options.verifierKeys.map(parseVerifierKey));
    const hasher = options.hasher ?? (await loadHasher());
    const fetcher = options.fetch ?? ((url, init) => fetch(url, init));
    return new LedgerClient(options, verifiers, hasher, fetcher);
  }

  private async request(path: string): Promise<Response> {
    const response = await this.fetcher(`${this.options.baseUrl.replace(/\/+$/, "")}${path}`, { headers: this.options.headers ?? {} });
    if (response.ok) return response;
    let message = `${response.status} ${response.statusText}`;
    let code: ErrorCode = response.status === 404 ? "not_found" : "unavailable";
    try {
      const body = (await response.json()) as { error?: unknown; code?: unknown };
      if (typeof body.error === "string") message = body.error;
      if (typeof body.code === "string" && body.code in statusOfCode) code = body.code as ErrorCode;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ScribeError(code, `GET ${path}: ${message}`);
  }

  private async json(path: string): Promise<unknown> {
    return (await this.request(path)).json();
  }

  /** GET /proof/inclusion (unverified JSON; verify with verifyInclusionInCheckpoint). */
  inclusion(index: number, treeSize: number): Promise<InclusionProofJson> {
    return this.json(`/proof/inclusion?index=${index}&tree_size=${treeSize}`) as Promise<InclusionProofJson>;
  }

  /** GET /proof/consistency (unverified JSON; TrustedState verifies it). */
  consistency(from: number, to: number): Promise<ConsistencyProofJson> {
    return this.json(`/proof/consistency?from=${from}&to=${to}`) as Promise<ConsistencyProofJson>;
  }

  /** GET /checkpoint, verified and checked for consistency with the trusted one; returns it. */
  async refreshCheckpoint(): Promise<Checkpoint> {
    const note = await (await this.request("/checkpoint")).text();
    return this.trustedState.update(note, (from, to) => this.consistency(from, to));
  }

  /**
   * GET /verify/:key, verified end to end (entry, leaf, inclusion, signature, consistency with
   * the trusted checkpoint, and `value` when given). Returns the verified entry and checkpoint.
   */
  async verifyKey(key: string, options: { value?: Uint8Array } = {}): Promise<VerifiedKey> {
    const response = (await this.json(`/verify/${encodeURIComponent(key)}`)) as VerifyResponseJson;
    return verifyKeyResponse(response, {
      verifiers: this.verifiers,
      origin: this.options.origin,
      key,
      value: options.value,
      trustedState: this.trustedState,
      fetchConsistency: (from, to) => this.consistency(from, to),
      hasher: this.hasher,
    });
  }
}


