/**
 * @module client/trusted-state. The last checkpoint a client trusts, kept across calls (and,
 * with a persistence, across runs). Every newer checkpoint is accepted only with a consistency
 * proof from the trusted one, so a log that forks or rewrites history is caught, as immudb's
 * client state does. The first checkpoint is trusted on first use (or pinned by the caller).
 *
 * Every checkpoint newly accepted meets the whole policy: members, and witnesses when it asks for
 * them, either cosigned on the checkpoint itself or through a witnessed extension (a newer
 * witnessed checkpoint with a consistency proof from it: merkle/witnessed.ts, what a bucket keeps
 * beside its checkpoint). The trusted note read back from the persistence is re-checked against
 * the member keys only: it met the whole policy when it was accepted (a bucket's checkpoint
 * accepted through an extension carries no witness line itself), and every later checkpoint must
 * meet the whole policy and be consistent with it.
 */

import { bytesEqual, toHex } from "../lib/index.ts";
import { VerificationError, verifyCheckpointPolicy, verifyCheckpointWitnessed, verifyConsistency, type Checkpoint, type CheckpointPolicy, type Hasher, type NoteVerifier } from "../merkle/index.ts";
import { consistencyProofFromJson, type ConsistencyProofJson } from "../ledger/index.ts";
import { loadHasher } from "../crypto/index.ts";

/** Where the trusted checkpoint note is kept between runs (a file, localStorage, ...). */
export interface TrustedStatePersistence {
  load(): Promise<string | undefined> | string | undefined;
  save(note: string): Promise<void> | void;
}

/** Keeps the trusted note in memory only (the default). */
export class MemoryPersistence implements TrustedStatePersistence {
  private note: string | undefined;
  constructor(initialNote?: string) {
    this.note = initialNote;
  }
  load(): string | undefined {
    return this.note;
  }
  save(note: string): void {
    this.note = note;
  }
}

/** Fetches `GET /proof/consistency?from=&to=` (parsed JSON). */
export type FetchConsistency = (from: number, to: number) => Promise<ConsistencyProofJson | unknown>;

export interface TrustedStateOptions {
  /** The member keys whose signatures make a checkpoint acceptable: a majority of them, unless `policy` says otherwise. */
  verifiers: readonly NoteVerifier[];
  /** How many of `verifiers` must have signed, and which witnesses must have cosigned (merkle/policy.ts). */
  policy?: Omit<CheckpointPolicy, "members" | "origin">;
  /** When given, every checkpoint's origin must equal it. */
  origin?: string;
  persistence?: TrustedStatePersistence;
  hasher?: Hasher;
}

/** Opens a checkpoint note under the members, policy and origin of a client. */
export async function verifyUnderPolicy(note: string, options: Pick<TrustedStateOptions, "verifiers" | "policy" | "origin">): Promise<Checkpoint> {
  return (await verifyCheckpointPolicy(note, { ...options.policy, members: options.verifiers, origin: options.origin })).checkpoint;
}

export class TrustedState {
  private verifiers: readonly NoteVerifier[];
  private readonly policy: TrustedStateOptions["policy"];
  private readonly origin: string | undefined;
  private readonly persistence: TrustedStatePersistence;
  private readonly hasherOption: Hasher | undefined;
  private trusted: { note: string; checkpoint: Checkpoint } | undefined;
  private loaded = false;
  /** Updates run one at a time so two racing checkpoints cannot both become trusted. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: TrustedStateOptions) {
    this.verifiers = options.verifiers;
    this.policy = options.policy;
    this.origin = options.origin;
    this.persistence = options.persistence ?? new MemoryPersistence();
    this.hasherOption = options.hasher;
  }

  /** The trusted checkpoint, or undefined before the first one. */
  async current(): Promise<Checkpoint | undefined> {
    await this.load();
    return this.trusted?.checkpoint;
  }

  /** The trusted signed note, or undefined. */
  async currentNote(): Promise<string | undefined> {
    await this.load();
    return this.trusted?.note;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    const note = await this.persistence.load();
    if (note !== undefined) {
      const checkpoint = (await verifyCheckpointPolicy(note, { members: this.verifiers, membersRequired: this.policy?.membersRequired, origin: this.origin })).checkpoint;
      this.trusted = { note, checkpoint };
    }
    this.loaded = true;
  }

  /**
   * Checks a signed checkpoint note against the trusted state and returns its checkpoint.
   * Newer: demands a consistency proof from the trusted size, then trusts and persists it.
   * Older: demands a consistency proof up to the trusted size (it must be a prefix); trust
   * stays. Same size: the roots must be equal. Throws a VerificationError on any mismatch.
   * `extension`: a witnessed extension of `note` (merkle/witnessed.ts) that may meet the policy's
   * witness requirement in its place.
   */
  update(note: string, fetchConsistency: FetchConsistency, extension?: string): Promise<Checkpoint> {
    const run = this.queue.then(() => this.updateNow(note, fetchConsistency, extension));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async updateNow(note: string, fetchConsistency: FetchConsistency, extension: string | undefined): Promise<Checkpoint> {
    await this.load();
    const checkpoint = await this.open(note, extension);
    const trusted = this.trusted?.checkpoint;
    if (!trusted) {
      await this.trust(note, checkpoint);
      return checkpoint;
    }
    if (checkpoint.origin !== trusted.origin) throw new VerificationError(`checkpoint origin ${checkpoint.origin} differs from the trusted ${trusted.origin}`);
    if (checkpoint.size === trusted.size) {
      if (!bytesEqual(checkpoint.rootHash, trusted.rootHash)) {
        throw new VerificationError(`fork: two roots for size ${checkpoint.size}: trusted ${toHex(trusted.rootHash)}, new ${toHex(checkpoint.rootHash)}`);
      }
      return checkpoint;
    }
    const [older, newer] = checkpoint.size < trusted.size ? [checkpoint, trusted] : [trusted, checkpoint];
    await this.checkConsistency(older, newer, fetchConsistency);
    if (newer === checkpoint) await this.trust(note, checkpoint);
    return checkpoint;
  }

  private async open(note: string, extension: string | undefined): Promise<Checkpoint> {
    if (extension === undefined) return verifyUnderPolicy(note, { verifiers: this.verifiers, policy: this.policy, origin: this.origin });
    const hasher = this.hasherOption ?? (await loadHasher());
    return (await verifyCheckpointWitnessed(note, { ...this.policy, members: this.verifiers, origin: this.origin }, { extension, hasher })).checkpoint;
  }

  /** The member keys trusted now (replaced when the client follows the cluster's key history). */
  get members(): readonly NoteVerifier[] {
    return this.verifiers;
  }

  /** Trusts another member key set from now on (after following a verified key history). */
  replaceMembers(verifiers: readonly NoteVerifier[]): void {
    this.verifiers = verifiers;
  }

  private async checkConsistency(older: Checkpoint, newer: Checkpoint, fetchConsistency: FetchConsistency): Promise<void> {
    const proof = consistencyProofFromJson(await fetchConsistency(older.size, newer.size));
    if (proof.from !== older.size || proof.to !== newer.size) {
      throw new VerificationError(`asked for consistency ${older.size}→${newer.size}, got ${proof.from}→${proof.to}`);
    }
    const hasher = this.hasherOption ?? (await loadHasher());
    verifyConsistency(hasher, older.size, newer.size, proof.proof, older.rootHash, newer.rootHash);
  }

  private async trust(note: string, checkpoint: Checkpoint): Promise<void> {
    await this.persistence.save(note);
    this.trusted = { note, checkpoint };
  }
}
