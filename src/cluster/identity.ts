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
 *
 * A committed entry is applied by every member alike, so a malformed one (not an object, an origin
 * that is no origin line, a node id that is not a positive integer, a key that is no verifier key,
 * a keys note that is not the next epoch of this origin) changes nothing anywhere: the whole entry
 * is ignored rather than half applied. Fields this version does not know are ignored. A persisted
 * or peer's identity of the wrong shape is refused (parseIdentityState): nothing is dropped silently.
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
/** A node id as the keys map spells it: a positive integer without leading zeroes. */
const nodeIdPattern = /^[1-9][0-9]{0,9}$/;
/** A note verifier key "<name>+<8 hex digits>+<base64>", checked for shape (the leader parsed it). */
const verifierKeyPattern = /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/;
/** An origin line: non-empty, no control characters. */
const originPattern = /^[^\u0000-\u001f\u007f]+$/u;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The changes of a committed identity entry, or undefined when it is malformed (see the module
 * comment). Pure and total: any JSON value gives the same answer on every member.
 */
export function parseIdentityChanges(value: unknown): IdentityChanges | undefined {
  if (!isPlainObject(value)) return undefined;
  const changes: IdentityChanges = {};
  if (value.origin !== undefined) {
    if (typeof value.origin !== "string" || !originPattern.test(value.origin)) return undefined;
    changes.origin = value.origin;
  }
  if (value.keys !== undefined) {
    if (!isPlainObject(value.keys)) return undefined;
    const keys: Record<string, string | null> = {};
    for (const [id, key] of Object.entries(value.keys)) {
      if (!nodeIdPattern.test(id) || !(key === null || (typeof key === "string" && verifierKeyPattern.test(key)))) return undefined;
      keys[id] = key;
    }
    changes.keys = keys;
  }
  if (value.keys_note !== undefined) {
    if (typeof value.keys_note !== "string") return undefined;
    changes.keys_note = value.keys_note;
  }
  return changes;
}

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
   * Applies a committed identity entry: an origin only when none is set yet (the first origin
   * applied wins); key changes; a keys note only when it is the next epoch of this origin. A
   * malformed entry is ignored whole, the same way on every member. Returns true when something
   * changed.
   */
  apply(entry: IdentityChanges): boolean {
    const changes = parseIdentityChanges(entry);
    if (!changes) return false;
    let changed = false;
    const next = structuredClone(this.current);
    if (changes.origin !== undefined && next.origin === null) {
      next.origin = changes.origin;
      changed = true;
    }
    for (const [id, key] of Object.entries(changes.keys ?? {})) {
      if ((next.keys[id] ?? null) === key) continue;
      if (key === null) delete next.keys[id];
      else next.keys[id] = key;
      changed = true;
    }
    if (changes.keys_note !== undefined && next.origin !== null && next.epochs.length < epochsMax && isNextEpoch(changes.keys_note, next)) {
      next.epochs.push(changes.keys_note);
      changed = true;
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

/** True when `note` is a keys note of `state`'s origin for the epoch after its last one. */
function isNextEpoch(note: string, state: IdentityState): boolean {
  try {
    const set = parseKeysBody(splitNote(note).body);
    return set.origin === state.origin && set.epoch === state.epochs.length;
  } catch {
    return false;
  }
}

/**
 * Checks the shape of an identity read from a peer or from disk (as `state()` gives it, in JSON):
 * origin a string or null, keys a map of node id to verifier key, epochs a list of notes. Throws
 * naming the first field of the wrong shape; drops nothing.
 */
export function parseIdentityState(value: unknown): IdentityState {
  if (!isPlainObject(value)) throw new Error("identity must be an object");
  const origin = value.origin ?? null;
  if (origin !== null && (typeof origin !== "string" || !originPattern.test(origin))) throw new Error(`identity origin must be an origin line or null, got ${JSON.stringify(origin)}`);
  const keysValue = value.keys ?? {};
  if (!isPlainObject(keysValue)) throw new Error("identity keys must be an object of node id to verifier key");
  const keys: Record<string, string> = {};
  for (const [id, key] of Object.entries(keysValue)) {
    if (!nodeIdPattern.test(id) || typeof key !== "string" || !verifierKeyPattern.test(key)) throw new Error(`identity key of node ${JSON.stringify(id)} is malformed: ${JSON.stringify(key)}`);
    keys[id] = key;
  }
  const epochs = value.epochs ?? [];
  if (!Array.isArray(epochs) || epochs.some((note) => typeof note !== "string")) throw new Error("identity epochs must be a list of keys notes");
  if (epochs.length > epochsMax) throw new Error(`identity has ${epochs.length} epochs, at most ${epochsMax}`);
  return { origin, keys, epochs: epochs as string[] };
}
