/**
 * @module client/ledger-client. A thin HTTP client over the verifying functions: every answer it
 * returns has been checked against a signed checkpoint, and every checkpoint against the one it
 * trusted before. It talks through a ScribeHttpClient (given, or made from `baseUrl`), whose
 * `http` calls are the unverified API. `fetch` is injectable (tests, proxies).
 */

import { ScribeError } from "../lib/index.ts";
import { followKeyHistory, sameKeys, VerificationError, type Checkpoint, type CheckpointPolicy, type Hasher, type NoteVerifier, type Threshold } from "../merkle/index.ts";
import { loadHasher, parseCosignatureVerifierKey, parseVerifierKey } from "../crypto/index.ts";
import { verifyHistory } from "./history.ts";
import { ScribeHttpClient, type FetchLike, type GetOptions } from "./http-client.ts";
import type { ConsistencyProofJson, HistoryVersion, InclusionProofJson, VerifyResponseJson } from "../ledger/index.ts";
import { TrustedState, type TrustedStatePersistence } from "./trusted-state.ts";
import { verifyKeyResponse, type VerifiedKey } from "./verify.ts";

export interface LedgerClientOptions {
  /** e.g. "http://127.0.0.1:8001"; or give `http`. */
  baseUrl?: string;
  /** The node(s) to talk to, with their failover; instead of `baseUrl`, `fetch` and `headers`. */
  http?: ScribeHttpClient;
  /** Verifier keys ("<name>+<hash>+<key>") of the cluster's members (GET /checkpoint/keys). */
  verifierKeys: readonly string[];
  /** How many of `verifierKeys` must have signed a checkpoint (default: a majority). */
  policy?: Threshold;
  /** Cosigner keys of external witnesses (cosignature/v1, "name+keyid+base64(0x04 || key)"). */
  witnessKeys?: readonly string[];
  /** How many of `witnessKeys` must have cosigned (default: all of them). */
  witnessPolicy?: Threshold;
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
    verifiers: readonly NoteVerifier[],
    /** The member and witness requirements every checkpoint must meet. */
    readonly policy: Omit<CheckpointPolicy, "members" | "origin">,
    private readonly hasher: Hasher,
    /** The unverified API of the node(s) this client talks to. */
    readonly http: ScribeHttpClient,
  ) {
    this.trustedState = new TrustedState({ verifiers, policy, origin: options.origin, persistence: options.persistence, hasher });
  }

  static async create(options: LedgerClientOptions): Promise<LedgerClient> {
    const verifiers = await Promise.all(options.verifierKeys.map(parseVerifierKey));
    const witnesses = await Promise.all((options.witnessKeys ?? []).map(parseCosignatureVerifierKey));
    const hasher = options.hasher ?? (await loadHasher());
    if (options.http === undefined && options.baseUrl === undefined) throw new ScribeError("invalid_request", "a LedgerClient needs baseUrl or http");
    const http = options.http ?? new ScribeHttpClient({ endpoints: [options.baseUrl!], headers: options.headers, fetch: options.fetch });
    const policy = { membersRequired: options.policy ?? "majority", witnesses, witnessesRequired: options.witnessPolicy ?? "all" };
    return new LedgerClient(options, verifiers, policy, hasher, http);
  }

  /** The member keys trusted now. */
  get verifiers(): readonly NoteVerifier[] {
    return this.trustedState.members;
  }

  /**
   * Follows the cluster's key history (GET /checkpoint/keys/history) from the member keys this
   * client trusts to the newest key set, each epoch verified by a majority of the one before;
   * trusts the newest set from then on and returns its keys (unchanged when already current).
   */
  async followKeys(trustedKeys: readonly string[]): Promise<string[]> {
    const history = (await this.http.keyHistory()) as { epochs?: { note?: unknown }[] };
    const notes = (history.epochs ?? []).map((e) => (typeof e.note === "string" ? e.note : ""));
    if (notes.length === 0) return [...trustedKeys];
    const reached = await followKeyHistory(notes, trustedKeys, parseVerifierKey, this.options.origin);
    if (!sameKeys(reached.keys, trustedKeys)) this.trustedState.replaceMembers(await Promise.all(reached.keys.map(parseVerifierKey)));
    return [...reached.keys];
  }

  /** GET /proof/inclusion (unverified JSON; verify with verifyInclusionInCheckpoint). */
  inclusion(index: number, treeSize: number): Promise<InclusionProofJson> {
    return this.http.inclusion(index, treeSize) as Promise<InclusionProofJson>;
  }

  /** GET /proof/consistency (unverified JSON; TrustedState verifies it). */
  consistency(from: number, to: number): Promise<ConsistencyProofJson> {
    return this.http.consistency(from, to) as Promise<ConsistencyProofJson>;
  }

  /** GET /checkpoint, verified and checked for consistency with the trusted one; returns it. */
  async refreshCheckpoint(): Promise<Checkpoint> {
    const note = await this.http.checkpointNote();
    return this.trustedState.update(note, (from, to) => this.consistency(from, to));
  }

  /**
   * GET /verify/:key, verified end to end (entry, leaf, inclusion, signature, consistency with
   * the trusted checkpoint, and `value` when given). Returns the verified entry and checkpoint.
   */
  async verifyKey(key: string, options: { value?: Uint8Array; version?: number } = {}): Promise<VerifiedKey> {
    const response = (await this.http.verifyResponse(key, options.version)) as VerifyResponseJson;
    return verifyKeyResponse(response, {
      verifiers: this.verifiers,
      policy: this.policy,
      origin: this.options.origin,
      key,
      value: options.value,
      trustedState: this.trustedState,
      fetchConsistency: (from, to) => this.consistency(from, to),
      hasher: this.hasher,
    });
  }

  /**
   * GET /kv/KEY (latest, `version` or `at`), verified: the value matches the entry the server
   * proves for that version, and that entry is the one the value was served as (same index).
   */
  async getVerified(key: string, options: GetOptions = {}): Promise<VerifiedValue> {
    const answer = await this.http.get(key, options);
    const verified = await this.verifyKey(key, { version: answer.version, value: answer.value });
    if (verified.entry.index !== answer.index) {
      throw new VerificationError(`the value was served as index ${answer.index}, but version ${answer.version} of ${JSON.stringify(key)} is at index ${verified.entry.index}`);
    }
    return { ...verified, value: answer.value, version: answer.version, contentType: answer.contentType };
  }

  /**
   * Every version of `key`, verified complete and untampered: the latest entry is proved against
   * a signed checkpoint, then the whole prevIndex chain must end exactly there and every version
   * must be included in that checkpoint's tree (one inclusion proof per version). Holds all the
   * key's versions in memory.
   */
  async historyVerified(key: string): Promise<{ versions: HistoryVersion[]; latest: VerifiedKey }> {
    const latest = await this.verifyKey(key);
    const versions: HistoryVersion[] = [];
    for await (const page of this.http.historyPages(key)) versions.push(...page);
    // Versions written after the proof of the latest are not covered by its checkpoint.
    const covered = versions.filter((v) => v.entry.index <= latest.entry.index);
    await verifyHistory(
      covered.map((v) => v.entry),
      { key, latest: latest.entry, checkpoint: latest.checkpoint, fetchInclusion: (index, treeSize) => this.inclusion(index, treeSize), hasher: this.hasher },
    );
    return { versions: covered, latest };
  }
}

/** A value fetched and verified by LedgerClient.getVerified. */
export interface VerifiedValue extends VerifiedKey {
  value: Uint8Array;
  version: number;
  contentType: string;
}
