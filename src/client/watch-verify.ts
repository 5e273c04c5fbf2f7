/**
 * @module client/watch-verify. Verifies a GET /watch stream line by line (docs/FORMATS.md
 * section 8), trusting nothing the node computed. Entries are held, unverified, until the next
 * checkpoint line; they are handed out only once that checkpoint verified and covers them:
 *
 * - every entry: its leaf is recomputed from its fields (the `leaf_hash` it carries must match),
 *   its value (values=true) hashed against the entry; a full stream's indexes follow each other
 *   from `from` with no gap, a prefix stream's increase and its keys are under the prefix;
 * - every checkpoint line: the note's signature (the verifier keys given) and origin; its
 *   `from_size` is the previous checkpoint line's size (the first: the anchor's, or 0) and
 *   `proof` is the consistency proof from that tree to this one;
 * - full streams: the verifier keeps the compact range of [0, next) — from the client's own
 *   range, or the first line's `frontier`, which must then match it — appends every received
 *   leaf, and checks `position_proof`, the consistency proof from that root to the checkpoint's:
 *   every entry is then leaf `index` of the signed tree, and none is missing;
 * - prefix streams: `inclusion` holds one inclusion proof per entry line since the previous
 *   checkpoint line, each checked against the checkpoint's root. (A prefix stream proves what it
 *   sends is in the log; only a full stream proves that nothing was left out.)
 *
 * Portable: no Bun or Node imports.
 */

import { encodeEntry, entryFromJson, hexToHash, proofHashesMax, type Entry } from "../ledger/index.ts";
import { bytesEqual, fromBase64, toHex } from "../lib/index.ts";
import { CompactRange, VerificationError, verifyConsistency, verifyInclusion, type Checkpoint, type CheckpointPolicy, type Hasher, type NoteVerifier } from "../merkle/index.ts";
import { verifyUnderPolicy } from "./trusted-state.ts";
import { verifyValue } from "./verify.ts";

/** Entries held unverified before a checkpoint line must come (the node sends one every 10 000 at most). */
export const watchPendingEntriesMax = 50_000;
/** Line bytes held unverified before a checkpoint line must come (the node sends one every 8 MiB at most, plus one line). */
export const watchPendingBytesMax = 256 * 1024 * 1024;

/** One entry of a watch stream, verified against a signed checkpoint. */
export interface WatchedEntry {
  entry: Entry;
  /** The key's version as the node counts it (the leaf does not cover it). */
  version: number;
  leafHash: Uint8Array;
  /** values=true: the value, checked against the entry; undefined when the node could not hand it out. */
  value?: Uint8Array;
  /** Why the node could not hand out the value (corrupt_value, corrupt_entry, unavailable). */
  valueError?: string;
}

/** A checkpoint line that verified. */
export interface VerifiedCheckpoint {
  note: string;
  checkpoint: Checkpoint;
  /** Every entry below this index was received and verified (a prefix stream: every one under the prefix). */
  nextIndex: number;
  /** The size this checkpoint was proved consistent with: the previous one, the anchor, or null (none). */
  consistentWith: number | null;
  /** The consistency proof from `consistentWith` (empty when null). */
  proof: Uint8Array[];
  /** Full streams: the root of the entries [0, nextIndex), recomputed here (what a mirror must now have). */
  rootAtNext: Uint8Array | null;
}

export type WatchEvent =
  | { kind: "checkpoint"; entries: WatchedEntry[]; checkpoint: VerifiedCheckpoint }
  | { kind: "end"; reason: string; code: string | null; message: string | null; resumeFrom: number; unverified: number };

/** A checkpoint the client already trusts: the stream was opened with checkpoint_size = size. */
export interface WatchAnchor {
  size: number;
  rootHash: Uint8Array;
}

export interface WatchVerifierOptions {
  from: number;
  prefix?: string;
  values?: boolean;
  /** The member keys whose signatures make a checkpoint acceptable (a majority, unless `policy` says otherwise). */
  verifiers: readonly NoteVerifier[];
  /** How many of `verifiers` must have signed, and which witnesses must have cosigned (merkle/policy.ts). */
  policy?: Omit<CheckpointPolicy, "members" | "origin">;
  /** Every checkpoint's origin must be this (default: the first checkpoint's). */
  origin?: string;
  hasher: Hasher;
  anchor?: WatchAnchor;
  /** Full streams: the compact range of [0, from) the client holds; the node's `frontier` must equal it. */
  frontier?: readonly Uint8Array[];
}

function fail(message: string): never {
  throw new VerificationError(message);
}

function record(line: unknown): Record<string, unknown> {
  if (typeof line !== "object" || line === null || Array.isArray(line)) fail(`a watch line must be a JSON object, got ${JSON.stringify(line)?.slice(0, 80)}`);
  return line as Record<string, unknown>;
}

function integer(value: unknown, what: string, min = 0): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) fail(`${what} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

function hashes(value: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(value)) fail(`${what} must be an array of hashes`);
  if (value.length > proofHashesMax) fail(`${what} has ${value.length} hashes, at most ${proofHashesMax}`);
  try {
    return value.map((item, i) => hexToHash(item, `${what}[${i}]`));
  } catch (error) {
    fail((error as Error).message);
  }
}

export class WatchVerifier {
  private readonly prefix: string;
  private readonly values: boolean;
  /** The next index a full stream's entry must have; for a prefix stream, the lowest it may have. */
  private expected: number;
  private verifiedNext: number;
  private pending: WatchedEntry[] = [];
  private pendingBytes = 0;
  private last: (WatchAnchor & { note: string | null }) | undefined;
  private origin: string | undefined;
  /** Full streams: the range of [0, verifiedNext) once anchored (the first checkpoint line). */
  private range: CompactRange | undefined;
  private ended = false;
  private checkpointsSeen = 0;

  constructor(private readonly options: WatchVerifierOptions) {
    this.prefix = options.prefix ?? "";
    this.values = options.values ?? false;
    this.expected = options.from;
    this.verifiedNext = options.from;
    this.origin = options.origin;
    if (options.anchor) this.last = { ...options.anchor, note: null };
    if (this.prefix === "" && options.frontier) this.range = CompactRange.fromHashes(options.hasher, options.from, options.frontier);
  }

  /** Every entry below this was verified (what to resume from). */
  get nextIndex(): number {
    return this.verifiedNext;
  }

  /** The last verified checkpoint line (or the anchor before one). */
  get lastCheckpoint(): (WatchAnchor & { note: string | null }) | undefined {
    return this.last;
  }

  /** Full streams: the compact range of [0, nextIndex), once the first checkpoint verified. */
  frontier(): Uint8Array[] | undefined {
    return this.range?.hashes();
  }

  /** Full streams: the root of [0, nextIndex), once the first checkpoint verified. */
  root(): Uint8Array | undefined {
    return this.range?.root();
  }

  /**
   * Takes one parsed line (`bytes` long). Returns a checkpoint event with the entries it verified,
   * an end event, or undefined for an entry (held until a checkpoint covers it). Throws a
   * VerificationError when anything does not hold; the verifier must then be dropped.
   */
  async accept(line: unknown, bytes: number): Promise<WatchEvent | undefined> {
    if (this.ended) fail("the stream sent a line after its final line");
    const body = record(line);
    if ("checkpoint" in body) return { kind: "checkpoint", ...(await this.acceptCheckpoint(body)) };
    if ("end" in body || "error" in body) return this.acceptEnd(body);
    this.acceptEntry(body, bytes);
    return undefined;
  }

  private acceptEntry(body: Record<string, unknown>, bytes: number): void {
    let entry: Entry;
    try {
      entry = entryFromJson(body, "watch entry");
    } catch (error) {
      fail((error as Error).message);
    }
    if (this.prefix === "" && entry.index !== this.expected) fail(`gap in the stream: expected entry ${this.expected}, got ${entry.index}`);
    if (this.prefix !== "" && entry.index < this.expected) fail(`entry ${entry.index} comes after entry ${this.expected - 1}: out of order`);
    if (this.prefix !== "" && !entry.key.startsWith(this.prefix)) fail(`entry ${entry.index} has key ${JSON.stringify(entry.key)}, not under the prefix ${JSON.stringify(this.prefix)}`);
    const leafHash = this.options.hasher.hashLeaf(encodeEntry(entry));
    let claimed: Uint8Array;
    try {
      claimed = hexToHash(body.leaf_hash, "leaf_hash");
    } catch (error) {
      fail(`entry ${entry.index}: ${(error as Error).message}`);
    }
    if (!bytesEqual(claimed, leafHash)) fail(`entry ${entry.index} hashes to leaf ${toHex(leafHash)}, the stream says ${toHex(claimed)}`);
    const watched: WatchedEntry = { entry, version: integer(body.version, `entry ${entry.index}: version`, 1), leafHash };
    if (this.values) this.acceptValue(body, watched);
    this.pending.push(watched);
    this.pendingBytes += bytes;
    if (this.pending.length > watchPendingEntriesMax || this.pendingBytes > watchPendingBytesMax) {
      fail(`the stream sent ${this.pending.length} entries (${this.pendingBytes} bytes) without a checkpoint line (at most ${watchPendingEntriesMax} entries, ${watchPendingBytesMax} bytes)`);
    }
    this.expected = entry.index + 1;
  }

  private acceptValue(body: Record<string, unknown>, watched: WatchedEntry): void {
    const { entry } = watched;
    if (body.value_base64 === null) {
      if (typeof body.value_error !== "string") fail(`entry ${entry.index} has no value and no value_error`);
      watched.valueError = body.value_error;
      return;
    }
    const value = typeof body.value_base64 === "string" ? fromBase64(body.value_base64) : undefined;
    if (value === undefined) fail(`entry ${entry.index}: value_base64 is not base64`);
    verifyValue(value, entry, this.options.hasher);
    watched.value = value;
  }

  private async acceptCheckpoint(body: Record<string, unknown>): Promise<{ entries: WatchedEntry[]; checkpoint: VerifiedCheckpoint }> {
    const note = body.checkpoint;
    if (typeof note !== "string") fail("a checkpoint line's checkpoint must be a signed note");
    const checkpoint = await verifyUnderPolicy(note, { verifiers: this.options.verifiers, policy: this.options.policy, origin: this.origin });
    this.origin ??= checkpoint.origin;
    const size = checkpoint.size;
    const hasher = this.options.hasher;
    // The chain: this checkpoint extends the previous one (or the anchor).
    const fromSize = integer(body.from_size, "from_size");
    const expectedFrom = this.last?.size ?? 0;
    if (fromSize !== expectedFrom) fail(`the checkpoint line's proof starts at size ${fromSize}, but the last verified checkpoint has size ${expectedFrom}`);
    const proof = hashes(body.proof, "proof");
    verifyConsistency(hasher, fromSize, size, proof, this.last?.rootHash ?? hasher.emptyRoot(), checkpoint.rootHash);
    // The entries: every one received is in the signed tree.
    const nextIndex = integer(body.next_index, "next_index");
    if (nextIndex > size) fail(`next_index ${nextIndex} is beyond the checkpoint's size ${size}`);
    if (this.prefix === "") this.checkFullRange(body, nextIndex, checkpoint);
    else this.checkInclusions(body, nextIndex, checkpoint);
    const entries = this.pending;
    const consistentWith = this.last === undefined ? null : fromSize;
    this.pending = [];
    this.pendingBytes = 0;
    this.verifiedNext = nextIndex;
    this.expected = nextIndex;
    this.last = { size, rootHash: checkpoint.rootHash, note };
    this.checkpointsSeen++;
    const rootAtNext = this.prefix === "" ? this.range!.root() : null;
    return { entries, checkpoint: { note, checkpoint, nextIndex, consistentWith, proof: consistentWith === null ? [] : proof, rootAtNext } };
  }

  /** Full stream: the received leaves extend the client's range to a root the checkpoint's tree starts with. */
  private checkFullRange(body: Record<string, unknown>, nextIndex: number, checkpoint: Checkpoint): void {
    if (nextIndex !== this.expected) fail(`next_index ${nextIndex} says entries up to ${nextIndex - 1} were sent, but the stream sent up to ${this.expected - 1}`);
    const hasher = this.options.hasher;
    let range = this.range;
    if ("frontier" in body) {
      if (this.checkpointsSeen > 0) fail("a frontier came after the first checkpoint line");
      const given = hashes(body.frontier, "frontier");
      let fromNode: CompactRange;
      try {
        fromNode = CompactRange.fromHashes(hasher, this.options.from, given);
      } catch (error) {
        fail(`frontier: ${(error as Error).message}`);
      }
      if (range && !bytesEqual(fromNode.root(), range.root())) fail(`the node's tree of size ${this.options.from} is not the one this client holds (roots ${toHex(fromNode.root())} and ${toHex(range.root())})`);
      range ??= fromNode;
    }
    if (!range) fail("the first checkpoint line of a full stream must carry the frontier of its first index");
    const working = range.clone();
    for (const watched of this.pending) working.append(watched.leafHash);
    const positionProof = hashes(body.position_proof, "position_proof");
    try {
      verifyConsistency(hasher, nextIndex, checkpoint.size, positionProof, working.root(), checkpoint.rootHash);
    } catch (error) {
      fail(`the entries received up to ${nextIndex - 1} are not the signed tree's (size ${checkpoint.size}): ${(error as Error).message}`);
    }
    this.range = working;
  }

  /** Prefix stream: one inclusion proof per entry line since the last checkpoint line. */
  private checkInclusions(body: Record<string, unknown>, nextIndex: number, checkpoint: Checkpoint): void {
    if (nextIndex < this.expected) fail(`next_index ${nextIndex} is below the entries already sent (up to ${this.expected - 1})`);
    const inclusion = body.inclusion;
    if (!Array.isArray(inclusion) || inclusion.length !== this.pending.length) fail(`the checkpoint line has ${Array.isArray(inclusion) ? inclusion.length : "no"} inclusion proofs for ${this.pending.length} entries`);
    this.pending.forEach((watched, i) => {
      const proof = hashes(inclusion[i], `inclusion[${i}]`);
      try {
        verifyInclusion(this.options.hasher, watched.entry.index, checkpoint.size, watched.leafHash, proof, checkpoint.rootHash);
      } catch (error) {
        fail(`entry ${watched.entry.index} is not in the signed tree of size ${checkpoint.size}: ${(error as Error).message}`);
      }
    });
  }

  private acceptEnd(body: Record<string, unknown>): WatchEvent {
    this.ended = true;
    const resumeFrom = integer(body.resume_from, "resume_from");
    const isError = "error" in body;
    const reason = isError ? (typeof body.code === "string" ? body.code : "error") : String(body.end);
    return {
      kind: "end",
      reason,
      code: isError && typeof body.code === "string" ? body.code : null,
      message: isError && typeof body.error === "string" ? body.error : null,
      resumeFrom,
      unverified: this.pending.length,
    };
  }
}
