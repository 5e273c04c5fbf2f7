/**
 * Checkpoints witnessed by extension (src/merkle/witnessed.ts): a bucket's member-signed
 * checkpoint of size B accepted under a witness policy through a newer witnessed checkpoint of
 * size W with an RFC 9162 consistency proof B → W, and every way that can be wrong.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { cosignLine, cosignatureVerifierFromPublicKey, createNativeHasher, generateSigner, parseVerifierKey } from "../../src/crypto/index.ts";
import {
  formatCheckpoint,
  formatWitnessedExtension,
  MemoryTreeStore,
  MerkleTree,
  parseWitnessedExtension,
  signNote,
  VerificationError,
  verifyCheckpointWitnessed,
  type CheckpointPolicy,
  type CosignatureVerifier,
  type NoteSigner,
} from "../../src/merkle/index.ts";

const hasher = createNativeHasher();
const origin = "example.test/bucket-log";
const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
tree.appendLeaves(Array.from({ length: 300 }, (_, i) => hasher.hashLeaf(new Uint8Array([i & 0xff, i >> 8]))));
/** Another history of the same length: leaf 10 differs. */
const fork = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
fork.appendLeaves(Array.from({ length: 300 }, (_, i) => hasher.hashLeaf(new Uint8Array([i === 10 ? 99 : i & 0xff, i >> 8]))));

let member: NoteSigner;
let witness: NoteSigner;
let other: CosignatureVerifier;
let policy: CheckpointPolicy;

beforeAll(async () => {
  const generated = await generateSigner("node-1.example.test");
  member = generated.signer;
  witness = (await generateSigner("witness.test/w1")).signer;
  other = await cosignatureVerifierFromPublicKey("witness.test/w2", (await generateSigner("witness.test/w2")).signer.publicKey);
  policy = { members: [await parseVerifierKey(generated.verifierKey)], witnesses: [await cosignatureVerifierFromPublicKey("witness.test/w1", witness.publicKey)] };
});

const bodyAt = (size: number, of = tree, logOrigin = origin) => formatCheckpoint({ origin: logOrigin, size, rootHash: of.rootAt(size) });

/** A member-signed checkpoint of `size`, cosigned by the witness when `witnessed`. */
async function checkpointNote(size: number, witnessed: boolean, of = tree, logOrigin = origin): Promise<string> {
  const body = bodyAt(size, of, logOrigin);
  const signed = await signNote(body, member);
  return witnessed ? signed + (await cosignLine(body, witness, 1_700_000_000 + size)) : signed;
}

async function extension(from: number, to: number, options: { witnessed?: boolean; of?: MerkleTree; logOrigin?: string; proofFrom?: number } = {}): Promise<string> {
  const proof = to === from ? [] : tree.consistencyProof(options.proofFrom ?? from, to);
  return formatWitnessedExtension({ fromSize: from, proof, note: await checkpointNote(to, options.witnessed ?? true, options.of ?? tree, options.logOrigin ?? origin) });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerificationError);
  return (error as Error).message;
}

describe("the extension's text", () => {
  test("is a tlog-witness add-checkpoint body from the old size, and parses back", async () => {
    const text = await extension(100, 300);
    expect(text.startsWith("old 100\n")).toBe(true);
    const parsed = parseWitnessedExtension(text);
    expect(parsed.fromSize).toBe(100);
    expect(parsed.proof.map((h) => Buffer.from(h).toString("hex"))).toEqual(tree.consistencyProof(100, 300).map((h) => Buffer.from(h).toString("hex")));
    expect(parsed.note).toBe(text.slice(text.indexOf("\n\n") + 2));
    expect(formatWitnessedExtension(parsed)).toBe(text);
    // The same size: no proof line.
    expect((await extension(300, 300)).startsWith("old 300\n\n")).toBe(true);
  });

  test("malformed texts are refused with the reason", () => {
    const note = "o\n1\nAAAA\n\n\u2014 k AAAA\n";
    const hash = Buffer.alloc(32).toString("base64");
    const cases: [string, string][] = [
      [`old 5\n${hash}\n`, "no empty line"],
      [`new 5\n\n${note}`, 'first line must be "old <size>"'],
      [`old 05\n\n${note}`, 'first line must be "old <size>"'],
      [`old -1\n\n${note}`, 'first line must be "old <size>"'],
      [`old 99999999999999999999\n\n${note}`, 'first line must be "old <size>"'],
      [`old 5\nnot base64!\n\n${note}`, "proof line 1 is not a base64 SHA-256 hash"],
      [`old 5\n${hash}\n${Buffer.alloc(31).toString("base64")}\n\n${note}`, "proof line 2"],
      [`old 5\n${`${hash}\n`.repeat(64)}\n${note}`, "64 proof lines, at most 63"],
    ];
    for (const [text, reason] of cases) {
      expect(() => parseWitnessedExtension(text), text.slice(0, 40)).toThrow(reason);
    }
  });
});

describe("verifying a checkpoint under a witness policy", () => {
  test("no witness asked: the members decide, the extension is not read", async () => {
    const verdict = await verifyCheckpointWitnessed(await checkpointNote(100, false), { members: policy.members }, { extension: "garbage", hasher });
    expect(verdict.witnessedBy).toBe("none");
    expect(verdict.witnessedSize).toBeNull();
  });

  test("a checkpoint that carries the cosignatures itself needs no extension", async () => {
    const verdict = await verifyCheckpointWitnessed(await checkpointNote(100, true), policy, { hasher });
    expect(verdict.witnessedBy).toBe("note");
    expect(verdict.witnessedSize).toBe(100);
    expect(verdict.witnesses).toEqual([{ name: "witness.test/w1", timestamp: 1_700_000_100 }]);
  });

  test("a member-only checkpoint is accepted through a witnessed, consistent extension (larger or the same size)", async () => {
    const bucket = await checkpointNote(100, false);
    const verdict = await verifyCheckpointWitnessed(bucket, policy, { extension: await extension(100, 300), hasher });
    expect(verdict.witnessedBy).toBe("extension");
    expect(verdict.witnessedSize).toBe(300);
    expect(verdict.checkpoint.size).toBe(100);
    expect(verdict.witnesses.map((w) => w.name)).toEqual(["witness.test/w1"]);
    const same = await verifyCheckpointWitnessed(bucket, policy, { extension: await extension(100, 100), hasher });
    expect(same.witnessedSize).toBe(100);
  });

  test("without an extension, the shortage is named", async () => {
    expect(await refusal(verifyCheckpointWitnessed(await checkpointNote(100, false), policy, { hasher }))).toContain("the checkpoint has cosignatures of 0 of the 1 trusted witnesses; the policy wants 1, and no witnessed checkpoint extends it");
  });

  test("the members are checked on the checkpoint itself: an extension does not stand in for them", async () => {
    const stranger = (await generateSigner("node-1.example.test")).signer;
    const unsigned = await signNote(bodyAt(100), stranger);
    expect(await refusal(verifyCheckpointWitnessed(unsigned, policy, { extension: await extension(100, 300), hasher }))).toContain("no signature by a known key");
  });

  test("an extension from another size, of another origin, without the witness, or for the wrong witness is refused", async () => {
    const bucket = await checkpointNote(100, false);
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: await extension(90, 300), hasher }))).toContain("extends size 90, not 100");
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: await extension(100, 300, { logOrigin: "example.test/other" }), hasher }))).toContain("does not meet the policy");
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: await extension(100, 300, { witnessed: false }), hasher }))).toContain("does not meet the policy: note has cosignatures of 0 of the 1");
    expect(await refusal(verifyCheckpointWitnessed(bucket, { ...policy, witnesses: [other] }, { extension: await extension(100, 300), hasher }))).toContain("does not meet the policy");
  });

  test("an extension that is not consistent with the checkpoint is refused: a forked history, a wrong proof, a smaller tree", async () => {
    const bucket = await checkpointNote(100, false);
    // The witnesses saw a history whose leaf 10 differs: the bucket's first 100 entries are not its prefix.
    const forked = formatWitnessedExtension({ fromSize: 100, proof: fork.consistencyProof(100, 300), note: await checkpointNote(300, true, fork) });
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: forked, hasher }))).toContain("is not consistent with the checkpoint (size 100)");
    const wrongProof = formatWitnessedExtension({ fromSize: 100, proof: tree.consistencyProof(99, 300), note: await checkpointNote(300, true) });
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: wrongProof, hasher }))).toContain("is not consistent");
    const noProof = formatWitnessedExtension({ fromSize: 100, proof: [], note: await checkpointNote(300, true) });
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: noProof, hasher }))).toContain("is not consistent");
    const smaller = formatWitnessedExtension({ fromSize: 100, proof: [], note: await checkpointNote(80, true) });
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: smaller, hasher }))).toContain("(size 80) is smaller than the checkpoint it should extend (size 100)");
    // The same size with another root: a fork at equal size.
    const equalFork = formatWitnessedExtension({ fromSize: 100, proof: [], note: await checkpointNote(100, true, fork) });
    expect(await refusal(verifyCheckpointWitnessed(bucket, policy, { extension: equalFork, hasher }))).toContain("roots differ");
  });

  test("a checkpoint with a bad witness line of its own is refused, extension or not", async () => {
    const body = bodyAt(100);
    const bad = (await signNote(body, member)) + (await cosignLine(bodyAt(101), witness, 5));
    expect(await refusal(verifyCheckpointWitnessed(bad, policy, { extension: await extension(100, 300), hasher }))).toContain("invalid cosignature by witness");
  });
});
