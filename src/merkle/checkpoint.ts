/**
 * @module checkpoint. C2SP tlog-checkpoint bodies, signed and opened as C2SP signed notes
 * (note.ts), and the guard that keeps a node from signing a checkpoint inconsistent with one it
 * signed before.
 *
 * Checkpoint body (every line ends in "\n"):
 *   <origin>
 *   <tree size, decimal, no leading zeros>
 *   <root hash, standard base64 of 32 bytes>
 *   [extension lines]
 */

import { assert, fromBase64, toBase64 } from "../lib/index.ts";
import { hashSize, type Hasher } from "./hasher.ts";
import { openNote, signNote, type NoteSigner, type NoteVerifier } from "./note.ts";
import { VerificationError, verifyConsistency } from "./verify.ts";

export interface Checkpoint {
  /** Unique identifier of the log, e.g. "scribe.example.com/ledger". */
  readonly origin: string;
  /** Number of leaves. */
  readonly size: number;
  /** Root hash of the tree of `size` leaves, 32 bytes. */
  readonly rootHash: Uint8Array;
  /** Optional extension lines after the root (without their newlines). */
  readonly extensions?: readonly string[];
}

function fail(message: string): never {
  throw new VerificationError(message);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint bodies

/** Formats a checkpoint body. Precondition: a valid origin, size and 32-byte root (asserted). */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  assert(isValidLine(checkpoint.origin) && checkpoint.origin.length > 0, `bad checkpoint origin ${JSON.stringify(checkpoint.origin)}`);
  assert(Number.isSafeInteger(checkpoint.size) && checkpoint.size >= 0, `bad checkpoint size ${checkpoint.size}`);
  assert(checkpoint.rootHash.length === hashSize, `checkpoint root must be ${hashSize} bytes`);
  const extensions = checkpoint.extensions ?? [];
  for (const line of extensions) assert(isValidLine(line) && line.length > 0, `bad checkpoint extension ${JSON.stringify(line)}`);
  return [checkpoint.origin, String(checkpoint.size), toBase64(checkpoint.rootHash), ...extensions].map((line) => `${line}\n`).join("");
}

function isValidLine(line: string): boolean {
  // No control characters (which includes newlines) in a line.
  return !/[\u0000-\u001f\u007f]/.test(line);
}

/** Parses a checkpoint body; throws a VerificationError naming the first problem. */
export function parseCheckpoint(body: string): Checkpoint {
  if (!body.endsWith("\n")) fail("checkpoint body must end with a newline");
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) fail(`checkpoint needs at least 3 lines (origin, size, root), got ${lines.length}`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0 || !isValidLine(origin)) fail(`bad checkpoint origin ${JSON.stringify(origin)}`);
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) fail(`checkpoint size must be a decimal without leading zeros, got ${JSON.stringify(sizeText)}`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail(`checkpoint size ${sizeText} is too large`);
  const rootHash = fromBase64(rootText);
  if (!rootHash || rootHash.length !== hashSize) fail(`checkpoint root must be base64 of ${hashSize} bytes, got ${JSON.stringify(rootText)}`);
  for (const line of extensions) {
    if (line.length === 0 || !isValidLine(line)) fail(`bad checkpoint extension line ${JSON.stringify(line)}`);
  }
  return { origin, size, rootHash, extensions };
}


export interface VerifyNoteOptions {
  /** When given, the checkpoint's origin must equal it. */
  origin?: string;
}

/** Opens a signed checkpoint note and returns the checkpoint; throws a VerificationError otherwise. */
export async function verifyNote(text: string, verifiers: NoteVerifier | readonly NoteVerifier[], options: VerifyNoteOptions = {}): Promise<Checkpoint> {
  const list = Array.isArray(verifiers) ? (verifiers as readonly NoteVerifier[]) : [verifiers as NoteVerifier];
  const { body } = await openNote(text, list);
  const checkpoint = parseCheckpoint(body);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    fail(`checkpoint origin is ${JSON.stringify(checkpoint.origin)}, wanted ${JSON.stringify(options.origin)}`);
  }
  return checkpoint;
}

/** Formats and signs a checkpoint. */
export async function signCheckpoint(checkpoint: Checkpoint, signers: NoteSigner | readonly NoteSigner[]): Promise<string> {
  return signNote(formatCheckpoint(checkpoint), signers);
}

// ---------------------------------------------------------------------------------------------
// Signing guard

export type SigningDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/**
 * Decides whether `next` may be signed given the last checkpoint this key signed: same origin,
 * never smaller, same root at the same size, and a consistency proof from last to next that
 * verifies. A pure function of its inputs.
 */
export function decideSigning(
  last: Checkpoint | undefined,
  next: Checkpoint,
  consistencyProof: readonly Uint8Array[],
  hasher: Hasher,
): SigningDecision {
  if (!last) return { allowed: true };
  if (last.origin !== next.origin) return { allowed: false, reason: `origin changed from ${JSON.stringify(last.origin)} to ${JSON.stringify(next.origin)}` };
  if (next.size < last.size) return { allowed: false, reason: `tree size ${next.size} is below the last signed size ${last.size}` };
  try {
    verifyConsistency(hasher, last.size, next.size, consistencyProof, last.rootHash, next.rootHash);
  } catch (error) {
    return { allowed: false, reason: `inconsistent with the last signed checkpoint (size ${last.size}): ${(error as Error).message}` };
  }
  return { allowed: true };
}
