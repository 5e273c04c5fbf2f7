import { describe, expect, test } from "bun:test";
import { toBase64, toHex } from "../../src/lib/index.ts";
import {
  decideSigning,
  formatCheckpoint,
  formatSignerKey,
  formatVerifierKey,
  MemoryTreeStore,
  MerkleTree,
  openNote,
  parseCheckpoint,
  signCheckpoint,
  signNote,
  verifyNote,
  VerificationError,
  type Checkpoint,
} from "../../src/merkle/index.ts";
import { createNativeHasher, generateSigner, parseSignerKey, parseVerifierKey, signerFromPkcs8 } from "../../src/crypto/index.ts";

// The known-answer example of Go's golang.org/x/mod/sumdb/note package documentation:
// an independent implementation must produce and accept exactly these bytes.
const goSignerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const goVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const goText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const goNote = `${goText}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

const hasher = createNativeHasher();
const root = hasher.hashLeaf(new Uint8Array([1, 2, 3]));

describe("checkpoint bodies", () => {
  test("format and parse round-trip, each line ending in a newline", () => {
    const checkpoint: Checkpoint = { origin: "scribe.example/ledger", size: 1234, rootHash: root, extensions: ["ext one"] };
    const body = formatCheckpoint(checkpoint);
    expect(body).toBe(`scribe.example/ledger\n1234\n${toBase64(root)}\next one\n`);
    const parsed = parseCheckpoint(body);
    expect(parsed.origin).toBe("scribe.example/ledger");
    expect(parsed.size).toBe(1234);
    expect(toHex(parsed.rootHash)).toBe(toHex(root));
    expect(parsed.extensions).toEqual(["ext one"]);
  });

  test("malformed bodies are rejected with a reason", () => {
    const good = `o\n5\n${toBase64(root)}\n`;
    expect(parseCheckpoint(good).size).toBe(5);
    const cases: [string, string][] = [
      [good.slice(0, -1), "end with a newline"],
      [`o\n5\n`, "at least 3 lines"],
      [`\n5\n${toBase64(root)}\n`, "origin"],
      [`o\n05\n${toBase64(root)}\n`, "leading zeros"],
      [`o\n-5\n${toBase64(root)}\n`, "decimal"],
      [`o\n99999999999999999999\n${toBase64(root)}\n`, "too large"],
      [`o\n5\n${toBase64(root.subarray(1))}\n`, "32 bytes"],
      [`o\n5\nnot base64!\n`, "base64"],
      [`o\n5\n${toBase64(root)}\n\n`, "extension"],
    ];
    for (const [body, reason] of cases) expect(() => parseCheckpoint(body)).toThrow(reason);
  });
});

describe("signed notes", () => {
  test("reproduces Go's sumdb/note known answer byte for byte", async () => {
    const signer = await parseSignerKey(goSignerKey);
    expect(formatVerifierKey(signer)).toBe(goVerifierKey);
    expect(await formatSignerKey(signer)).toBe(goSignerKey);
    expect(await signNote(goText, signer)).toBe(goNote);
    const opened = await openNote(goNote, [await parseVerifierKey(goVerifierKey)]);
    expect(opened.body).toBe(goText);
    expect(opened.verifiedBy).toEqual(["PeterNeumann"]);
  });

  test("a generated key signs a checkpoint that verifies, and survives a PKCS #8 round-trip", async () => {
    const { signer, verifierKey } = await generateSigner("scribe-test");
    expect(verifierKey).toMatch(/^scribe-test\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
    const note = await signCheckpoint({ origin: "scribe.example/ledger", size: 7, rootHash: root }, signer);
    expect(note.split("\n").at(-2)!.startsWith("\u2014 scribe-test ")).toBe(true);
    const verifier = await parseVerifierKey(verifierKey);
    const checkpoint = await verifyNote(note, verifier, { origin: "scribe.example/ledger" });
    expect(checkpoint.size).toBe(7);
    await expect(verifyNote(note, verifier, { origin: "other" })).rejects.toThrow("origin");

    const restored = await signerFromPkcs8("scribe-test", await signer.exportPkcs8());
    expect(formatVerifierKey(restored)).toBe(verifierKey);
    const again = await parseSignerKey(await formatSignerKey(signer));
    expect(await signNote("x\n", again)).toBe(await signNote("x\n", signer));
  });

  test("tampering, unknown keys and malformed notes are rejected", async () => {
    const { signer, verifierKey } = await generateSigner("k1");
    const other = await generateSigner("k2");
    const verifier = await parseVerifierKey(verifierKey);
    const note = await signCheckpoint({ origin: "o", size: 3, rootHash: root }, signer);
    const tampered = note.replace("\n3\n", "\n4\n");
    await expect(verifyNote(tampered, verifier)).rejects.toThrow("invalid signature");
    await expect(verifyNote(note, await parseVerifierKey(other.verifierKey))).rejects.toThrow("no signature by a known key");
    await expect(verifyNote(note.replace("\u2014", "-"), verifier)).rejects.toThrow("malformed signature line");
    await expect(verifyNote(note.slice(0, -1), verifier)).rejects.toThrow("end with a newline");
    await expect(verifyNote(note.replace("\n\n", "\n"), verifier)).rejects.toThrow(VerificationError);
    // A signature under the right name but another key's hash is ignored, not trusted.
    const foreign = await signNote(formatCheckpoint({ origin: "o", size: 3, rootHash: root }), { ...other.signer, name: "k1" });
    await expect(verifyNote(foreign, verifier)).rejects.toThrow("no signature by a known key");
    // Extra signatures by unknown keys are fine.
    const cosigned = await signCheckpoint({ origin: "o", size: 3, rootHash: root }, [other.signer, signer]);
    expect((await verifyNote(cosigned, verifier)).size).toBe(3);
  });

  test("a verifier key whose base64 contains '+' parses (key of transparency-dev/formats' tests)", async () => {
    const verifier = await parseVerifierKey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
    expect(verifier.name).toBe("TEST");
    expect(toHex(verifier.keyHash)).toBe("7997405c");
  });

  test("bad verifier keys are refused", async () => {
    await expect(parseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")).rejects.toThrow("does not match");
    await expect(parseVerifierKey("PeterNeumann+c74f20a3")).rejects.toThrow("name+hash+key");
    await expect(parseVerifierKey("PeterNeumann+c74f20a3+AhpjZA==")).rejects.toThrow("0x01");
    await expect(generateSigner("has space")).rejects.toThrow("key name");
  });
});

describe("signing guard", () => {
  const store = new MemoryTreeStore();
  const tree = MerkleTree.open({ hasher, store });
  tree.appendLeaves(Array.from({ length: 20 }, (_, i) => new Uint8Array([i])));
  const at = (size: number): Checkpoint => ({ origin: "o", size, rootHash: tree.rootAt(size) });

  test("allows the first checkpoint and consistent extensions", () => {
    expect(decideSigning(undefined, at(5), [], hasher)).toEqual({ allowed: true });
    expect(decideSigning(at(5), at(13), tree.consistencyProof(5, 13), hasher)).toEqual({ allowed: true });
    expect(decideSigning(at(13), at(13), [], hasher)).toEqual({ allowed: true });
    expect(decideSigning(at(0), at(13), [], hasher)).toEqual({ allowed: true });
  });

  test("refuses a smaller tree, a fork, a changed origin or a bad proof", () => {
    const forked: Checkpoint = { origin: "o", size: 13, rootHash: hasher.hashLeaf(new Uint8Array([9])) };
    const smaller = decideSigning(at(13), at(5), [], hasher);
    expect(smaller.allowed).toBe(false);
    expect(decideSigning(at(5), forked, tree.consistencyProof(5, 13), hasher).allowed).toBe(false);
    expect(decideSigning(at(13), forked, [], hasher).allowed).toBe(false);
    expect(decideSigning(at(5), { ...at(13), origin: "p" }, tree.consistencyProof(5, 13), hasher).allowed).toBe(false);
    const refused = decideSigning(at(5), at(13), tree.consistencyProof(6, 13), hasher);
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) expect(refused.reason).toContain("inconsistent with the last signed checkpoint");
  });
});
