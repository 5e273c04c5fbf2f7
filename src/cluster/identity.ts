/**
 * @module identity. The cluster's log identity, replicated through the Raft log (entry kind 3,
 * entry-data.ts) so every member applies the same changes in the same order:
 * - the origin line of its checkpoints, fixed once: the first origin applied wins, and every
 *   later one is ignored (deterministically on every member);
 * - each member's checkpoint verifier key, registered by the member itself (a proof of
 *   possession checked by the leader before it proposes it);
 * - the keys notes, one per key-set epoch (policy.ts): the history of the voters' key set, each
 *   signed by a majority of the previous epoch's members. Appended only, never compacted.
 * Persisted beside the Raft log (`raft_state`, meta "identity") in the transaction that applies
 * it; catch-up takes a peer's whole identity (catchup.ts), as it takes its address book.
 */

import { parseKeysBody, splitNote } from "../merkle/index.ts";

/** What a kind-3 entry changes; every field is optional. */
export interface IdentityChanges {
  origin?: string;
  /** Node id → its verifier key, or null to forget it. */
  keys?: Record<string, string | null>;
  /** The keys note of the next key-set epoch. */
  keys_note?: string;
}

/** The persisted identity. */
export interface IdentityState {
  origin: string | null;
  keys: Record<string, string>;
  /** Keys notes by epoch (index = epoch). */
  epochs: string[];
}

/** Restore from S3 records the bucket's origin here (HotStore meta); the first leader adopts it. */
export const restoredOriginMeta = "restored_origin";

export const emptyIdentity: IdentityState = { origin: null, keys: {}, epochs: [] };

/** Most epochs kept in memory and served; a cluster changes its voters far less often. */
const epochsMax = 100_000;

export class ClusterIdentity {
  private current: IdentityState;
  /** Counts applied changes, so a reader can tell whether the identity changed since it looked. */
  version = 0;

  constructor(initial: IdentityState | undefined) {
    this.current = structuredClone(initial ?? emptyIdentity);
  }

  get origin(): string | undefined {
    return this.current.origin ?? undefined;
  }

  keyOf(id: number): string | undefined {
    return this.current.keys[String(id)];
  }

  /** The verifier keys of `ids` that registered one, in id order. */
  keysOf(ids: readonly number[]): { id: number; key: string }[] {
    return [...ids].sort((a, b) => a - b).flatMap((id) => (this.current.keys[String(id)] ? [{ id, key: this.current.keys[String(id)]! }] : []));
  }

  /** The keys notes so far, epoch 0 first. */
  get epochs(): readonly string[] {
    return this.current.epochs;
  }

  state(): IdentityState {
    return structuredClone(this.current);
  }

  /**
   * Applies a committed identity entry: an origin only when none is set yet; key changes; a keys
   * note only when it is the next epoch of this origin (anything else is ignored, the same way on
   * every member). Returns true when something changed.
   */
  apply(changes: IdentityChanges): boolean {
    let changed = false;
    const next = structuredClone(this.current);
    if (typeof changes.origin === "string" && changes.origin !== "" && next.origin === null) {
      next.origin = changes.origin;
      changed = true;
    }
    for (const [id, key] of Object.entries(changes.keys ?? {})) {
      if (key === null) delete next.keys[id];
      else next.keys[id] = key;
      changed = true;
    }
    if (typeof changes.keys_note === "string" && next.origin !== null && next.epochs.length < epochsMax) {
      try {
        const set = parseKeysBody(splitNote(changes.keys_note).body);
        if (set.origin === next.origin && set.epoch === next.epochs.length) {
          next.epochs.push(changes.keys_note);
          changed = true;
        }
      } catch {
        // A malformed keys note is ignored by every member alike.
      }
    }
    if (changed) {
      this.current = next;
      this.version++;
    }
    return changed;
  }

  /** Takes another member's whole identity (a catch-up replaces the log the changes came from). */
  replace(state: IdentityState): void {
    this.current = structuredClone(state);
    this.version++;
  }
}

/** Checks the shape of an identity read from a peer or from disk. */
export function parseIdentityState(value: unknown): IdentityState {
  const doc = value as Partial<IdentityState> | null;
  if (typeof doc !== "object" || doc === null) throw new Error("identity must be an object");
  const origin = doc.origin === null || doc.origin === undefined ? null : String(doc.origin);
  const keys: Record<string, string> = {};
  for (const [id, key] of Object.entries(doc.keys ?? {})) if (typeof key === "string") keys[id] = key;
  const epochs = Array.isArray(doc.epochs) ? doc.epochs.filter((n): n is string => typeof n === "string") : [];
  return { origin, keys, epochs };
}
