/**
 * @module witnessed. A checkpoint witnessed by extension: the cold tier's bucket holds a
 * checkpoint of exactly its archived size B, signed by a quorum of members, but C2SP tlog-witness
 * witnesses only cosign sizes at least as large as the last one they saw, and they have seen the
 * live log, which is ahead of the bucket. So beside it the bucket keeps a newer checkpoint of size
 * W ≥ B that carries the witnesses' cosignatures, with an RFC 9162 consistency proof from B to W.
 * Its text is exactly the body of a tlog-witness add-checkpoint request from the old size B:
 *
 *   old <B>
 *   <base64 of one proof hash per line, B → W; none when W = B>
 *   <empty line>
 *   <the witnessed checkpoint: a signed note>
 *
 * A client whose policy requires witnesses accepts the bucket's checkpoint when its member
 * signatures meet the policy and either it carries the witness cosignatures itself, or such an
 * extension verifies: the extension's note meets the whole policy (members and witnesses, same
 * origin) and the proof shows the bucket's tree is a prefix of the witnessed one. The witnesses
 * then vouch that no other history of the first B entries exists: what they saw extends it.
 */

import { fromBase64, toBase64 } from "../lib/index.ts";
import type { Hasher } from "./hasher.ts";
import { splitNote } from "./note.ts";
import { requiredCount, verifiedWitnesses, verifyCheckpointPolicy, type CheckpointPolicy, type PolicyVerdict } from "./policy.ts";
import { VerificationError, verifyConsistency } from "./verify.ts";

/** Proof lines an extension may carry (tlog-witness allows 63; a consistency proof of a 2^63-leaf tree needs fewer). */
export const extensionProofLinesMax = 63;
const hashBytes = 32;

/** A witnessed checkpoint of size W with a consistency proof from the size B it extends. */
export interface WitnessedExtension {
  /** B: the size of the checkpoint it extends. */
  readonly fromSize: number;
  /** RFC 9162 consistency proof from B to the note's size. */
  readonly proof: readonly Uint8Array[];
  /** The witnessed checkpoint (a signed note). */
  readonly note: string;
}

function fail(message: string): never {
  throw new VerificationError(message);
}

/** The text of an extension (the tlog-witness add-checkpoint body from old size B). */
export function formatWitnessedExtension(extension: WitnessedExtension): string {
  return `old ${extension.fromSize}\n${extension.proof.map((hash) => `${toBase64(hash)}\n`).join("")}\n${extension.note}`;
}

/** Parses an extension's text; throws a VerificationError naming what is malformed. */
export function parseWitnessedExtension(text: string): WitnessedExtension {
  const split = text.indexOf("\n\n");
  if (split < 0) fail("witnessed checkpoint: no empty line before the note");
  const head = text.slice(0, split).split("\n");
  const old = /^old (0|[1-9][0-9]*)$/.exec(head[0]!);
  if (!old || !Number.isSafeInteger(Number(old[1]))) fail(`witnessed checkpoint: first line must be "old <size>", got ${JSON.stringify(head[0])}`);
  const lines = head.slice(1);
  if (lines.length > extensionProofLinesMax) fail(`witnessed checkpoint: ${lines.length} proof lines, at most ${extensionProofLinesMax}`);
  const proof = lines.map((line, i) => {
    const hash = fromBase64(line);
    if (!hash || hash.length !== hashBytes) fail(`witnessed checkpoint: proof line ${i + 1} is not a base64 SHA-256 hash`);
    return hash;
  });
  return { fromSize: Number(old[1]), proof, note: text.slice(split + 2) };
}

export interface WitnessedVerdict extends PolicyVerdict {
  /** How the witness requirement was met: by the note's own cosignatures, by an extension, or none was asked. */
  readonly witnessedBy: "note" | "extension" | "none";
  /** The size the witnesses cosigned (the checkpoint's, or the extension's), or null when none was asked. */
  readonly witnessedSize: number | null;
}

/**
 * Verifies a checkpoint under a policy whose witness requirement may be met by a witnessed
 * extension (see the module comment). Members are always checked on the checkpoint itself.
 * Throws a VerificationError naming the first problem.
 */
export async function verifyCheckpointWitnessed(note: string, policy: CheckpointPolicy, options: { extension?: string; hasher: Hasher }): Promise<WitnessedVerdict> {
  const { witnesses = [], witnessesRequired, ...members } = policy;
  const verdict = await verifyCheckpointPolicy(note, members);
  const need = requiredCount(witnessesRequired ?? "all", witnesses.length);
  if (need === 0) return { ...verdict, witnessedBy: "none", witnessedSize: null };
  const own = await verifiedWitnesses(verdict.body, splitNote(note).signatures, witnesses);
  if (own.length >= need) return { ...verdict, witnesses: own, witnessedBy: "note", witnessedSize: verdict.checkpoint.size };
  const shortage = `the checkpoint has cosignatures of ${own.length} of the ${witnesses.length} trusted witnesses; the policy wants ${need}`;
  if (options.extension === undefined) fail(`${shortage}, and no witnessed checkpoint extends it`);
  const extension = parseWitnessedExtension(options.extension);
  const bucket = verdict.checkpoint;
  if (extension.fromSize !== bucket.size) fail(`${shortage}, and the witnessed checkpoint extends size ${extension.fromSize}, not ${bucket.size} (the two are published one after the other: retry later)`);
  const witnessed = await verifyCheckpointPolicy(extension.note, { ...policy, origin: bucket.origin }).catch((error: Error) => fail(`${shortage}, and the witnessed checkpoint does not meet the policy: ${error.message}`));
  const size = witnessed.checkpoint.size;
  if (size < bucket.size) fail(`the witnessed checkpoint (size ${size}) is smaller than the checkpoint it should extend (size ${bucket.size})`);
  try {
    verifyConsistency(options.hasher, bucket.size, size, extension.proof, bucket.rootHash, witnessed.checkpoint.rootHash);
  } catch (error) {
    fail(`the witnessed checkpoint (size ${size}) is not consistent with the checkpoint (size ${bucket.size}): ${(error as Error).message}`);
  }
  return { ...verdict, witnesses: witnessed.witnesses, witnessedBy: "extension", witnessedSize: size };
}
