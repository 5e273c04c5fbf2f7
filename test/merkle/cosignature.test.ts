/**
 * C2SP tlog-cosignature `cosignature/v1` (src/merkle/cosignature.ts), checked against the spec's
 * text and against bytes made by other implementations:
 * - the signed message of the spec's example ("cosignature/v1\ntime 1679315147\n" + body);
 * - a cosigner vkey of transparency-dev/formats' tests (its key ID must recompute);
 * - timestamps of the spec's example line and of transparency-dev/formats' CosignatureTimestamp test;
 * - a known answer made with OpenSSL's Ed25519 (a deterministic signature) from the seed of Go's
 *   sumdb/note example key (PeterNeumann), over the spec's example checkpoint at the spec's time:
 *   the key ID computed with Python's hashlib, the line assembled by hand from the spec's layout.
 */

import { describe, expect, test } from "bun:test";
import { fromBase64, fromUtf8, toHex } from "../../src/lib/index.ts";
import {
  cosignatureKeyId,
  cosignatureVerifierFromPublicKey,
  cosignLine,
  generateSigner,
  keyHash,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  signerFromSeed,
} from "../../src/crypto/index.ts";
import {
  cosignatureMessage,
  cosignatureOf,
  cosignatureTimestamp,
  formatCosignatureVerifierKey,
  isCosignatureVerifierKey,
  signNote,
  splitNote,
  VerificationError,
} from "../../src/merkle/index.ts";

/** The checkpoint and time of the spec's example. */
const specBody = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const specTime = 1679315147;
/** The witness line of the spec's example (its key is not published: only its layout is checked). */
const specWitnessLine = "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

/** Go's sumdb/note example key: "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALV..." (0x01 || seed). */
const goSeed = fromBase64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")!.subarray(1);
/** The same key as a cosigner named witness.example.com/w1 (key ID by hashlib, signature by OpenSSL). */
const knownVkey = "witness.example.com/w1+d46a2b1b+BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const knownLine = "\u2014 witness.example.com/w1 1GorGwAAAABkGFDLJeR//pqzhnEKVvEm2wWbh2RJ6oru5+cUUfm5X9NnlaGr8aSH9QE5RVZD4QGlxl2F5UpVIIi94p178KLfqPPsAA==\n";

/** A cosigner vkey of transparency-dev/formats' TestCoSigV1NewVerifier ("native algEd25519CosignatureV1"). */
const formatsVkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

/** The bytes after the key ID of a signature line. */
function signatureOfLine(line: string): Uint8Array {
  return splitNote(`${specBody}\n${line}`).signatures[0]!.signature;
}

describe("the signed message", () => {
  test("is the header line, the time line and the whole body, as in the spec's example", () => {
    const expected = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    expect(fromUtf8(cosignatureMessage(specBody, specTime))).toBe(expected);
    // No leading zeroes, and extension lines are part of the message.
    expect(fromUtf8(cosignatureMessage(`${specBody}ext\n`, 0))).toBe(`cosignature/v1\ntime 0\n${specBody}ext\n`);
  });

  test("refuses a timestamp that is not a non-negative safe integer", () => {
    expect(() => cosignatureMessage(specBody, -1)).toThrow("bad cosignature timestamp");
    expect(() => cosignatureMessage(specBody, 1.5)).toThrow("bad cosignature timestamp");
    expect(() => cosignatureMessage(specBody, 2 ** 53)).toThrow("bad cosignature timestamp");
  });
});

describe("key IDs and verifier keys", () => {
  test("a published cosigner vkey parses: its key ID recomputes, and it formats back byte for byte", async () => {
    const verifier = await parseCosignatureVerifierKey(formatsVkey);
    expect(verifier.name).toBe("remora.n621.de");
    expect(toHex(verifier.keyId)).toBe("da77ade7");
    expect(formatCosignatureVerifierKey(verifier)).toBe(formatsVkey);
    expect(toHex(await cosignatureKeyId(verifier.name, verifier.publicKey))).toBe("da77ade7");
    expect(isCosignatureVerifierKey(formatsVkey)).toBe(true);
  });

  test("the known-answer key: key ID over name, newline, 0x04 and the key; the note key hash of the same key differs", async () => {
    const signer = await signerFromSeed("witness.example.com/w1", goSeed);
    const keyId = await cosignatureKeyId(signer.name, signer.publicKey);
    expect(toHex(keyId)).toBe("d46a2b1b");
    expect(formatCosignatureVerifierKey({ name: signer.name, keyId, publicKey: signer.publicKey })).toBe(knownVkey);
    // The same key as a note signer (type 0x01) gets Go's key hash, not the cosignature key ID.
    expect(toHex(await keyHash("PeterNeumann", signer.publicKey))).toBe("c74f20a3");
    expect(toHex(signer.keyHash)).not.toBe("d46a2b1b");
  });

  test("malformed or mismatched vkeys are refused with a reason", async () => {
    const cases: [string, string][] = [
      ["bananas.sigstore.dev+12344556", "name+keyid+key"],
      ["no-plus-at-all", "name+keyid+key"],
      ["rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", "0x04 followed by a 32-byte"],
      ["rekor.sigstore.dev+12345678+AwEB", "0x04 followed by a 32-byte"],
      // A note verifier key (type 0x01) is not a cosigner key.
      ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "0x04 followed by a 32-byte"],
      ["remora.n621.de+NOT_A_NU+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "8 hex digits"],
      ["remora.n621.de+da77ad+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "8 hex digits"],
      ["remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "does not match"],
      // Another name changes the key ID.
      ["remora.n621.dE+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "does not match"],
      ["+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", "bad key name"],
      // One byte short of a key.
      ["remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmg==", "0x04 followed by a 32-byte"],
    ];
    for (const [text, reason] of cases) {
      const error = await parseCosignatureVerifierKey(text).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, text).toBeInstanceOf(VerificationError);
      expect((error as Error).message, text).toContain(reason);
    }
    expect(isCosignatureVerifierKey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")).toBe(false);
    expect(isCosignatureVerifierKey("bananas.sigstore.dev+12344556")).toBe(false);
    expect(isCosignatureVerifierKey("x+12345678+!!!")).toBe(false);
  });

  test("a verifier from a public key refuses a bad name or key length", async () => {
    const { signer } = await generateSigner("w");
    await expect(cosignatureVerifierFromPublicKey("has space", signer.publicKey)).rejects.toThrow("bad key name");
    await expect(cosignatureVerifierFromPublicKey("a+b", signer.publicKey)).rejects.toThrow("bad key name");
    await expect(cosignatureVerifierFromPublicKey("w", signer.publicKey.subarray(1))).rejects.toThrow("32 bytes, got 31");
  });
});

describe("timestamps", () => {
  test("are read from the 8 big-endian bytes after the key ID (the spec's example and transparency-dev/formats' vector)", () => {
    expect(cosignatureTimestamp(signatureOfLine(specWitnessLine))).toBe(specTime);
    const formats = fromBase64("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")!;
    expect(cosignatureTimestamp(formats.subarray(4))).toBe(1727964367);
  });

  test("a signature of another shape has none: a plain Ed25519 note signature, a truncated one", () => {
    // transparency-dev/formats' "wrong type of signature": a 0x01 note signature (4 + 64 bytes).
    const plain = fromBase64("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=")!;
    expect(cosignatureTimestamp(plain.subarray(4))).toBeUndefined();
    expect(cosignatureTimestamp(signatureOfLine(specWitnessLine).subarray(1))).toBeUndefined();
    expect(cosignatureTimestamp(new Uint8Array(8 + 64 + 1))).toBeUndefined();
  });

  test("a timestamp past 2^53 - 1 is refused (the spec allows up to 2^63 - 1; none occurs before the year 285 million)", () => {
    const bytes = new Uint8Array(72);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 2 ** 21); // 2^53
    expect(cosignatureTimestamp(bytes)).toBeUndefined();
    view.setUint32(0, 2 ** 21 - 1);
    view.setUint32(4, 2 ** 32 - 1); // 2^53 - 1
    expect(cosignatureTimestamp(bytes)).toBe(Number.MAX_SAFE_INTEGER);
    view.setUint32(0, 0x7fffffff); // 2^63 - 1 (the spec's bound), still not exact here
    expect(cosignatureTimestamp(bytes)).toBeUndefined();
  });
});

describe("signing and verifying", () => {
  test("reproduces the known answer byte for byte and verifies it, returning the time", async () => {
    const signer = await signerFromSeed("witness.example.com/w1", goSeed);
    expect(await cosignLine(specBody, signer, specTime)).toBe(knownLine);
    const verifier = await parseCosignatureVerifierKey(knownVkey);
    expect(await verifier.verify(specBody, signatureOfLine(knownLine))).toBe(specTime);
  });

  test("does not verify over another body, another time, another key, or broken bytes", async () => {
    const verifier = await parseCosignatureVerifierKey(knownVkey);
    const signature = signatureOfLine(knownLine);
    // Another root, another size, an extension line added: the whole body is signed.
    expect(await verifier.verify(specBody.replace("20852163", "20852164"), signature)).toBeUndefined();
    expect(await verifier.verify(`${specBody}ext\n`, signature)).toBeUndefined();
    // The time is signed too: one second later does not verify.
    const later = signature.slice();
    later[7] = later[7]! + 1;
    expect(await verifier.verify(specBody, later)).toBeUndefined();
    const flipped = signature.slice();
    flipped[40] = flipped[40]! ^ 1;
    expect(await verifier.verify(specBody, flipped)).toBeUndefined();
    expect(await verifier.verify(specBody, signature.subarray(0, 71))).toBeUndefined();
    expect(await verifier.verify(specBody, new Uint8Array(0))).toBeUndefined();
    const other = await generateSigner("witness.example.com/w1");
    const otherVerifier = await cosignatureVerifierFromPublicKey("witness.example.com/w1", other.signer.publicKey);
    expect(await otherVerifier.verify(specBody, signature)).toBeUndefined();
  });

  test("a plain note signature (0x01) by the same key is no cosignature: other message, other key ID", async () => {
    const signer = await signerFromSeed("witness.example.com/w1", goSeed);
    const note = await signNote(specBody, signer);
    const [plain] = splitNote(note).signatures;
    const verifier = await parseCosignatureVerifierKey(knownVkey);
    expect(cosignatureOf(splitNote(note).signatures, verifier)).toBeUndefined();
    expect(await verifier.verify(specBody, plain!.signature)).toBeUndefined();
    // And the note verifier does not accept the cosignature.
    const noteVerifier = await parseVerifierKey(`witness.example.com/w1+${toHex(signer.keyHash)}+${Buffer.from([1, ...signer.publicKey]).toString("base64")}`);
    expect(await noteVerifier.verify(new TextEncoder().encode(specBody), signatureOfLine(knownLine))).toBe(false);
  });

  test("cosignatureOf picks the line with the verifier's name AND key ID", async () => {
    const verifier = await parseCosignatureVerifierKey(knownVkey);
    const other = await generateSigner("witness.example.com/w1");
    const otherLine = await cosignLine(specBody, other.signer, specTime);
    const renamed = knownLine.replace("witness.example.com/w1", "witness.example.com/w2");
    const { signatures } = splitNote(`${specBody}\n${otherLine}${renamed}${specWitnessLine}${knownLine}`);
    const found = cosignatureOf(signatures, verifier);
    expect(found).toBe(signatures[3]);
    expect(cosignatureOf(signatures.slice(0, 3), verifier)).toBeUndefined();
  });

  test("a line made at a time near 2^53 - 1 round-trips its timestamp", async () => {
    const { signer } = await generateSigner("w");
    const verifier = await cosignatureVerifierFromPublicKey("w", signer.publicKey);
    for (const time of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const line = await cosignLine(specBody, signer, time);
      expect(cosignatureTimestamp(signatureOfLine(line))).toBe(time);
      expect(await verifier.verify(specBody, signatureOfLine(line))).toBe(time);
    }
  });
});
