/**
 * @module cosignature. C2SP tlog-cosignature `cosignature/v1` (Ed25519, signature type 0x04): the
 * statement by a cosigner (an external witness) that, as of a time, a checkpoint is the largest
 * consistent tree head it has observed for the log. A cosignature is a signed-note signature line
 *   "— <cosigner name> base64(key ID (4) || timestamp (uint64, big-endian) || Ed25519 signature (64))"
 * with key ID = SHA-256(name || "\n" || 0x04 || 32-byte public key)[0:4], over the message
 *   "cosignature/v1\n" || "time <timestamp>\n" || <the whole checkpoint body>.
 * Verifier keys use the note vkey format with type byte 0x04: "<name>+<hex key ID>+<base64(0x04 || key)>".
 * The timestamp is always given by the caller: this module reads no clock. Ed25519 and SHA-256
 * are injected (`CosignatureKeys` over note.ts's `Ed25519`; src/crypto binds it to WebCrypto).
 */

import { assert, bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from "../lib/index.ts";
import { isValidKeyName, type Ed25519, type NoteSignature, type NoteSigner } from "./note.ts";
import { VerificationError } from "./verify.ts";

/** Signature type byte of cosignature/v1 (Ed25519) in key IDs and vkeys. */
export const cosignatureAlgorithmId = 0x04;
const keyIdBytes = 4;
const timestampBytes = 8;
const ed25519SignatureBytes = 64;
const ed25519KeyBytes = 32;
/** The spec bounds a timestamp by 2^63 - 1; seconds since 1970 this large never occur in practice. */
const timestampMax = Number.MAX_SAFE_INTEGER;

function fail(message: string): never {
  throw new VerificationError(message);
}


/** The message a cosignature/v1 signs: header line, time line, then the checkpoint body. */
export function cosignatureMessage(body: string, timestampSecs: number): Uint8Array {
  assert(Number.isSafeInteger(timestampSecs) && timestampSecs >= 0, `bad cosignature timestamp ${timestampSecs}`);
  return utf8(`cosignature/v1\ntime ${timestampSecs}\n${body}`);
}

export interface CosignatureVerifier {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Verifies one signature line's bytes over `body`; returns its timestamp, or undefined when it does not verify. */
  verify(body: string, signature: Uint8Array): Promise<number | undefined>;
}

/** The vkey of a cosigner: "<name>+<hex key ID>+<base64(0x04 || public key)>". */
export function formatCosignatureVerifierKey(verifier: Pick<CosignatureVerifier, "name" | "keyId" | "publicKey">): string {
  return `${verifier.name}+${toHex(verifier.keyId)}+${toBase64(concatBytes([new Uint8Array([cosignatureAlgorithmId]), verifier.publicKey]))}`;
}

/**
 * The timestamp of a cosignature/v1 signature (the bytes after the key ID: 8-byte big-endian
 * timestamp, 64-byte Ed25519 signature), unverified; undefined when the bytes are not that shape
 * or the timestamp is beyond what this module represents exactly (`timestampMax`).
 */
export function cosignatureTimestamp(signature: Uint8Array): number | undefined {
  if (signature.length !== timestampBytes + ed25519SignatureBytes) return undefined;
  const view = new DataView(signature.buffer, signature.byteOffset, timestampBytes);
  const value = view.getUint32(0) * 2 ** 32 + view.getUint32(4);
  return value <= timestampMax ? value : undefined;
}

/** True when a vkey's type byte says cosignature/v1 (0x04). */
export function isCosignatureVerifierKey(text: string): boolean {
  const parts = text.split("+");
  if (parts.length < 3) return false;
  const key = fromBase64(parts.slice(2).join("+"));
  return key !== undefined && key.length === 1 + ed25519KeyBytes && key[0] === cosignatureAlgorithmId;
}

/** The cosignature/v1 key functions over an injected Ed25519 (src/crypto binds them to WebCrypto). */
export class CosignatureKeys {
  constructor(private readonly ed25519: Ed25519) {}

  /** The key ID of a cosignature/v1 key: SHA-256(name || "\n" || 0x04 || public key)[0:4]. */
  async keyId(name: string, publicKey: Uint8Array): Promise<Uint8Array> {
    assert(publicKey.length === ed25519KeyBytes, `Ed25519 public key must be ${ed25519KeyBytes} bytes`);
    return (await this.ed25519.sha256(concatBytes([utf8(name), new Uint8Array([0x0a, cosignatureAlgorithmId]), publicKey]))).slice(0, keyIdBytes);
  }

  /** A cosignature verifier from a cosigner's name and raw Ed25519 public key. */
  async verifierFromPublicKey(name: string, publicKey: Uint8Array): Promise<CosignatureVerifier> {
    if (!isValidKeyName(name)) fail(`bad key name ${JSON.stringify(name)}`);
    if (publicKey.length !== ed25519KeyBytes) fail(`Ed25519 public key must be ${ed25519KeyBytes} bytes, got ${publicKey.length}`);
    const key = await this.ed25519.importPublicKey(publicKey);
    return {
      name,
      keyId: await this.keyId(name, publicKey),
      publicKey: publicKey.slice(),
      async verify(body, signature) {
        const timestamp = cosignatureTimestamp(signature);
        if (timestamp === undefined) return undefined;
        const ok = await key.verify(cosignatureMessage(body, timestamp), signature.subarray(timestampBytes));
        return ok ? timestamp : undefined;
      },
    };
  }

  /** Parses a cosigner vkey "<name>+<hex key ID>+<base64(0x04 || key)>"; throws on any mismatch. */
  async parseVerifierKey(text: string): Promise<CosignatureVerifier> {
    const first = text.indexOf("+");
    const second = first < 0 ? -1 : text.indexOf("+", first + 1);
    if (second < 0) fail("cosigner key must be name+keyid+key");
    const name = text.slice(0, first);
    const idHex = text.slice(first + 1, second);
    const key = fromBase64(text.slice(second + 1));
    const id = fromHex(idHex);
    if (!id || id.length !== keyIdBytes) fail(`cosigner key ID must be ${keyIdBytes * 2} hex digits, got ${JSON.stringify(idHex)}`);
    if (!key || key.length !== 1 + ed25519KeyBytes || key[0] !== cosignatureAlgorithmId) fail("cosigner key must be base64 of 0x04 followed by a 32-byte Ed25519 public key");
    const verifier = await this.verifierFromPublicKey(name, key.subarray(1));
    if (!bytesEqual(verifier.keyId, id)) fail(`cosigner key ID ${idHex} does not match its name and key (want ${toHex(verifier.keyId)})`);
    return verifier;
  }

  /**
   * A cosignature/v1 signature line by an Ed25519 key (a NoteSigner's key, used under the
   * cosignature key ID), at `timestampSecs`. For the witness in the tests and for tools.
   */
  async cosignLine(body: string, signer: Pick<NoteSigner, "name" | "publicKey" | "sign">, timestampSecs: number): Promise<string> {
    const timestamp = new Uint8Array(timestampBytes);
    const view = new DataView(timestamp.buffer);
    view.setUint32(0, Math.floor(timestampSecs / 2 ** 32));
    view.setUint32(4, timestampSecs % 2 ** 32);
    const signature = await signer.sign(cosignatureMessage(body, timestampSecs));
    const keyId = await this.keyId(signer.name, signer.publicKey);
    return `\u2014 ${signer.name} ${toBase64(concatBytes([keyId, timestamp, signature]))}\n`;
  }
}

/** The signature of `signatures` made by `verifier` (same name and key ID), if any. */
export function cosignatureOf(signatures: readonly NoteSignature[], verifier: Pick<CosignatureVerifier, "name" | "keyId">): NoteSignature | undefined {
  return signatures.find((s) => s.name === verifier.name && bytesEqual(s.keyHash, verifier.keyId));
}
