/**
 * @module policy. Verifying a signed checkpoint against a trust policy: at least k of a list of
 * member keys (Ed25519 note signatures, type 0x01) and at least w of a list of witness keys
 * (cosignature/v1, type 0x04), as C2SP tlog-cosignature suggests clients do. Signature lines by
 * keys not on the lists are ignored; a line by a listed key that does not verify fails the note
 * (it is evidence of tampering, as in Go's golang.org/x/mod/sumdb/note). Each key counts once,
 * however many lines it has.
 *
 * Also the keys notes of a cluster (docs/FORMATS.md, "Keys notes"): the member key set of each
 * key-set epoch, signed by a majority of the previous epoch's members, so a client that trusts
 * one epoch's keys follows the chain to the current keys by verification alone.
 */

import { assert, bytesEqual, toHex, utf8 } from "../lib/index.ts";
import { parseCheckpoint, type Checkpoint } from "./checkpoint.ts";
import { cosignatureOf, type CosignatureVerifier } from "./cosignature.ts";
import { formatVerifierKey, splitNote, type NoteSignature, type NoteVerifier } from "./note.ts";
import { VerificationError } from "./verify.ts";

/** How many of the listed keys must have signed: a count, a majority, or all of them. */
export type Threshold = number | "majority" | "all";

/** The number of signatures `threshold` asks of `listed` keys. */
export function requiredCount(threshold: Threshold, listed: number): number {
  if (threshold === "majority") return Math.floor(listed / 2) + 1;
  if (threshold === "all") return listed;
  return threshold;
}

/** Parses "majority", "all" or a count (1 or more); undefined when it is none of these. */
export function parseThreshold(text: string): Threshold | undefined {
  if (text === "majority" || text === "all") return text;
  if (!/^[1-9][0-9]{0,3}$/.test(text)) return undefined;
  return Number(text);
}

export interface CheckpointPolicy {
  /** The log's member keys (Ed25519 note signatures). */
  readonly members: readonly NoteVerifier[];
  /** How many member keys must have signed (default: a majority of `members`). */
  readonly membersRequired?: Threshold;
  /** External witnesses' cosigner keys (cosignature/v1). */
  readonly witnesses?: readonly CosignatureVerifier[];
  /** How many witnesses must have cosigned (default: all listed witnesses). */
  readonly witnessesRequired?: Threshold;
  /** When given, the checkpoint's origin must equal it. */
  readonly origin?: string;
}

export interface PolicyVerdict {
  readonly checkpoint: Checkpoint;
  readonly body: string;
  /** The verifier keys of the members whose signatures verified. */
  readonly members: string[];
  /** Names of the witnesses whose cosignatures verified, with their timestamps. */
  readonly witnesses: { name: string; timestamp: number }[];
}

function fail(message: string): never {
  throw new VerificationError(message);
}

/** Verifies the member signatures of a note body; returns the vkeys of the members that signed. */
async function verifiedMembers(body: string, signatures: readonly NoteSignature[], members: readonly NoteVerifier[]): Promise<string[]> {
  const message = utf8(body);
  const signed: string[] = [];
  for (const signature of signatures) {
    const member = members.find((m) => m.name === signature.name && bytesEqual(m.keyHash, signature.keyHash));
    if (!member) continue;
    if (!(await member.verify(message, signature.signature))) fail(`invalid signature by member key ${signature.name}+${toHex(signature.keyHash)}`);
    const key = formatVerifierKey(member);
    if (!signed.includes(key)) signed.push(key);
  }
  return signed;
}

/**
 * Verifies the witness cosignatures of a note body: every line by a listed witness must verify;
 * returns each witness that cosigned once (a witness listed twice still counts once), with the
 * newest time among its lines.
 */
export async function verifiedWitnesses(body: string, signatures: readonly NoteSignature[], witnesses: readonly CosignatureVerifier[]): Promise<{ name: string; timestamp: number }[]> {
  const found = new Map<string, { name: string; timestamp: number }>();
  for (const witness of witnesses) {
    const id = `${witness.name}+${toHex(witness.keyId)}+${toHex(witness.publicKey)}`;
    if (found.has(id)) continue;
    for (const signature of signatures) {
      if (cosignatureOf([signature], witness) === undefined) continue;
      const timestamp = await witness.verify(body, signature.signature);
      if (timestamp === undefined) fail(`invalid cosignature by witness ${witness.name}+${toHex(witness.keyId)}`);
      found.set(id, { name: witness.name, timestamp: Math.max(timestamp, found.get(id)?.timestamp ?? 0) });
    }
  }
  return [...found.values()];
}

/** Verifies the signatures of a signed note against a policy; returns the body and who signed. */
export async function verifyNotePolicy(text: string, policy: CheckpointPolicy): Promise<{ body: string; members: string[]; witnesses: { name: string; timestamp: number }[] }> {
  const { body, signatures } = splitNote(text);
  const members = await verifiedMembers(body, signatures, policy.members);
  const need = requiredCount(policy.membersRequired ?? "majority", policy.members.length);
  if (need < 1) fail("the policy asks for no member signature: at least one is needed");
  if (members.length < need) {
    const seen = signatures.map((s) => `${s.name}+${toHex(s.keyHash)}`).join(", ") || "none";
    if (members.length === 0) fail(`note has no signature by a known key (signed by: ${seen})`);
    fail(`note has verified signatures of ${members.length} of the ${policy.members.length} trusted member keys; the policy wants ${need} (signed by: ${seen})`);
  }
  const witnessList = policy.witnesses ?? [];
  const witnesses = await verifiedWitnesses(body, signatures, witnessList);
  const witnessNeed = requiredCount(policy.witnessesRequired ?? "all", witnessList.length);
  if (witnesses.length < witnessNeed) {
    fail(`note has cosignatures of ${witnesses.length} of the ${witnessList.length} trusted witnesses; the policy wants ${witnessNeed}`);
  }
  return { body, members, witnesses };
}

/** Opens a signed checkpoint under a policy; throws a VerificationError naming the first problem. */
export async function verifyCheckpointPolicy(text: string, policy: CheckpointPolicy): Promise<PolicyVerdict> {
  const opened = await verifyNotePolicy(text, policy);
  const checkpoint = parseCheckpoint(opened.body);
  if (policy.origin !== undefined && checkpoint.origin !== policy.origin) {
    fail(`checkpoint origin is ${JSON.stringify(checkpoint.origin)}, wanted ${JSON.stringify(policy.origin)}`);
  }
  return { ...opened, checkpoint };
}

// ---- keys notes ------------------------------------------------------------------------------

/** First line of a keys note body: keeps it from ever being read as a checkpoint. */
export const keysNoteHeader = "scribe-ledger/keys/v1";

export interface KeySet {
  /** The log's origin. */
  readonly origin: string;
  /** 0 for the first key set, then one more per change. */
  readonly epoch: number;
  /** The members' verifier keys, sorted. */
  readonly keys: readonly string[];
}

/** A line a keys note lists: a note verifier key "<name>+<8 hex digits>+<base64>" (checked for shape only). */
const keyLinePattern = /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/;
/** An origin line: non-empty, no control characters (a checkpoint's first line). */
const originPattern = /^[^\u0000-\u001f\u007f]+$/u;

/** The body of a keys note: header, origin, epoch, then one verifier key per line (sorted). */
export function formatKeysBody(set: KeySet): string {
  const keys = [...set.keys].sort();
  assert(originPattern.test(set.origin), `keys note origin ${JSON.stringify(set.origin)} is not an origin line`);
  assert(Number.isSafeInteger(set.epoch) && set.epoch >= 0, `keys note epoch ${set.epoch} is not a count`);
  assert(keys.length > 0 && keys.every((key, i) => keyLinePattern.test(key) && key !== keys[i - 1]), "keys note keys must be distinct verifier keys, at least one");
  return [keysNoteHeader, set.origin, String(set.epoch), ...keys].map((line) => `${line}\n`).join("");
}

/** Parses a keys note body; throws a VerificationError when it is not one. */
export function parseKeysBody(body: string): KeySet {
  const lines = body.endsWith("\n") ? body.slice(0, -1).split("\n") : fail("keys note body must end with a newline");
  if (lines[0] !== keysNoteHeader) fail(`keys note must start with ${keysNoteHeader}`);
  if (lines.length < 4) fail("keys note must list at least one key");
  const [, origin, epochText, ...keys] = lines as [string, string, string, ...string[]];
  if (!originPattern.test(origin)) fail(`bad keys note origin ${JSON.stringify(origin)}`);
  const badKey = keys.find((key) => !keyLinePattern.test(key));
  if (badKey !== undefined) fail(`keys note line ${JSON.stringify(badKey)} is not a verifier key`);
  if (!/^(0|[1-9][0-9]*)$/.test(epochText) || !Number.isSafeInteger(Number(epochText))) fail(`bad keys note epoch ${JSON.stringify(epochText)}`);
  const sorted = [...keys].sort();
  if (keys.some((key, i) => key !== sorted[i] || (i > 0 && key === keys[i - 1]))) fail("keys note keys must be sorted and distinct");
  return { origin, epoch: Number(epochText), keys };
}

/** True when two key lists hold the same keys. */
export function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((key, i) => key === y[i]);
}

/**
 * Follows a key history from a key set the caller trusts to the newest epoch: finds the epoch
 * whose keys equal `trustedKeys`, then accepts each next epoch only if a majority of the
 * previous epoch's keys signed it. Every epoch must be for one origin (`origin` when given, else
 * epoch 0's), so a keys note of another log signed by the same keys cannot be spliced in.
 * `parseKey` turns a vkey into a verifier. Returns the newest key set reached. Throws when the
 * trusted keys are no epoch of this history or a link fails.
 */
export async function followKeyHistory(notes: readonly string[], trustedKeys: readonly string[], parseKey: (key: string) => Promise<NoteVerifier>, origin?: string): Promise<KeySet> {
  const sets = notes.map((note) => parseKeysBody(splitNote(note).body));
  const wanted = origin ?? sets[0]?.origin;
  sets.forEach((set, i) => {
    if (set.epoch !== i) fail(`key history entry ${i} is epoch ${set.epoch}`);
    if (set.origin !== wanted) fail(`key history epoch ${i} is for origin ${JSON.stringify(set.origin)}, wanted ${JSON.stringify(wanted)}`);
  });
  let at = sets.findIndex((set) => sameKeys(set.keys, trustedKeys));
  if (at < 0) fail("the trusted keys are not a key set in this cluster's key history");
  let current = sets[at]!;
  for (at = at + 1; at < sets.length; at++) {
    const members = await Promise.all(current.keys.map(parseKey));
    await verifyNotePolicy(notes[at]!, { members, membersRequired: "majority" }).catch((error: Error) => fail(`key history epoch ${at}: ${error.message}`));
    current = sets[at]!;
  }
  return current;
}
