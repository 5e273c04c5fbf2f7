/**
 * @module note. C2SP signed notes with Ed25519 keys, compatible with Go's
 * golang.org/x/mod/sumdb/note. The Ed25519 and SHA-256 primitives are injected (`Ed25519`; the
 * WebCrypto implementation and the key functions bound to it are in src/crypto/ed25519.ts), so
 * this module stays pure.
 *
 * A signed note is a body (lines ending in "\n"), one empty line, then one line per signature:
 *   "— <key name> <base64(key hash (4 bytes) || Ed25519 signature (64 bytes))>\n"
 * with key hash = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[0:4].
 * Verifier keys are "<name>+<8 hex digits of key hash>+<base64(0x01 || public key)>" and signer
 * keys "PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || 32-byte seed)>".
 */

import { assert, bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from "../lib/index.ts";
import { VerificationError } from "./verify.ts";

/** Ed25519 signature algorithm identifier of C2SP signed notes. */
export const ed25519AlgorithmId = 0x01;
/** Longest note we will open: checkpoints are a few hundred bytes. */
export const noteBytesMax = 1 << 20;
/** Most signature lines a note may carry (Go's note package stops at 100 as well). */
export const noteSignaturesMax = 100;
const keyHashBytes = 4;
const ed25519SignatureBytes = 64;
const ed25519KeyBytes = 32;
const emDash = "\u2014";
/** DER prefix of a PKCS #8 Ed25519 private key; the 32-byte seed follows. */
export const pkcs8Ed25519Prefix = fromHex("302e020100300506032b657004220420")!;

function fail(message: string): never {
  throw new VerificationError(message);
}

/** An imported Ed25519 public key. */
export interface Ed25519PublicKey {
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** An imported Ed25519 private key with its 32-byte public key. */
export interface Ed25519PrivateKey {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** PKCS #8 DER of the private key. */
  exportPkcs8(): Promise<Uint8Array>;
}

/**
 * The Ed25519 and SHA-256 primitives signed notes need. Injected: the cores do no crypto I/O and
 * draw no randomness themselves (src/crypto/ed25519.ts implements this over WebCrypto).
 */
export interface Ed25519 {
  /** SHA-256 of `data` (for key hashes). */
  sha256(data: Uint8Array): Promise<Uint8Array>;
  /** Imports a raw 32-byte public key for verifying. */
  importPublicKey(publicKey: Uint8Array): Promise<Ed25519PublicKey>;
  /** Imports a PKCS #8 DER private key for signing; rejects a key that is not Ed25519. */
  importPkcs8(pkcs8: Uint8Array): Promise<Ed25519PrivateKey>;
  /** Generates a fresh key pair (the one place randomness is drawn). */
  generate(): Promise<Ed25519PrivateKey>;
}

/** A key name is non-empty and has no whitespace, control characters or "+". */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0000-\u001f\u007f]/u.test(name);
}

export interface NoteSigner {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** PKCS #8 DER of the private key, for storage elsewhere. */
  exportPkcs8(): Promise<Uint8Array>;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly publicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** Formats a verifier key string: "<name>+<hex key hash>+<base64(0x01 || public key)>". */
export function formatVerifierKey(verifier: Pick<NoteVerifier, "name" | "keyHash" | "publicKey">): string {
  return `${verifier.name}+${toHex(verifier.keyHash)}+${toBase64(concatBytes([new Uint8Array([ed25519AlgorithmId]), verifier.publicKey]))}`;
}

/** Splits at the first count - 1 "+" signs; undefined when there are fewer. */
function splitPlus(text: string, count: number): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (let i = 0; i < count - 1; i++) {
    const at = rest.indexOf("+");
    if (at < 0) return undefined;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

/** Formats a signer as a "PRIVATE+KEY+..." string (holds the secret seed: store it like a password). */
export async function formatSignerKey(signer: NoteSigner): Promise<string> {
  const pkcs8 = await signer.exportPkcs8();
  assert(pkcs8.length === pkcs8Ed25519Prefix.length + ed25519KeyBytes && bytesEqual(pkcs8.subarray(0, pkcs8Ed25519Prefix.length), pkcs8Ed25519Prefix), "unexpected PKCS #8 layout");
  const seed = pkcs8.subarray(pkcs8Ed25519Prefix.length);
  return `PRIVATE+KEY+${signer.name}+${toHex(signer.keyHash)}+${toBase64(concatBytes([new Uint8Array([ed25519AlgorithmId]), seed]))}`;
}

/**
 * Note keys over an injected Ed25519: key hashes, verifiers and signers imported, parsed or
 * generated. src/crypto/ed25519.ts binds one to WebCrypto and exports its methods as functions.
 */
export class NoteKeys {
  constructor(private readonly ed25519: Ed25519) {}

  /** The 4-byte C2SP key hash of an Ed25519 key: SHA-256(name || "\n" || 0x01 || public key)[0:4]. */
  async keyHash(name: string, publicKey: Uint8Array): Promise<Uint8Array> {
    assert(publicKey.length === ed25519KeyBytes, `Ed25519 public key must be ${ed25519KeyBytes} bytes`);
    const digest = await this.ed25519.sha256(concatBytes([utf8(name), new Uint8Array([0x0a, ed25519AlgorithmId]), publicKey]));
    return digest.slice(0, keyHashBytes);
  }

  /** Creates a verifier from raw public key bytes. */
  async verifierFromPublicKey(name: string, publicKey: Uint8Array): Promise<NoteVerifier> {
    if (!isValidKeyName(name)) fail(`bad key name ${JSON.stringify(name)}`);
    if (publicKey.length !== ed25519KeyBytes) fail(`Ed25519 public key must be ${ed25519KeyBytes} bytes, got ${publicKey.length}`);
    const key = await this.ed25519.importPublicKey(publicKey);
    const hash = await this.keyHash(name, publicKey);
    return {
      name,
      keyHash: hash,
      publicKey: publicKey.slice(),
      verify: async (message, signature) => signature.length === ed25519SignatureBytes && key.verify(message, signature),
    };
  }

  /** Parses "<name>+<hex key hash>+<base64(0x01 || public key)>"; throws on any mismatch. */
  async parseVerifierKey(text: string): Promise<NoteVerifier> {
    // The base64 key may itself contain "+": split at the first two only.
    const parts = splitPlus(text, 3);
    if (!parts) fail("verifier key must be name+hash+key");
    const [name, hashHex, keyText] = parts;
    const hash = fromHex(hashHex);
    if (!hash || hash.length !== keyHashBytes) fail(`verifier key hash must be ${keyHashBytes * 2} hex digits, got ${JSON.stringify(hashHex)}`);
    const key = fromBase64(keyText);
    if (!key || key.length !== 1 + ed25519KeyBytes || key[0] !== ed25519AlgorithmId) fail("verifier key must be base64 of 0x01 followed by a 32-byte Ed25519 public key");
    const verifier = await this.verifierFromPublicKey(name, key.subarray(1));
    if (!bytesEqual(verifier.keyHash, hash)) fail(`verifier key hash ${hashHex} does not match its name and key (want ${toHex(verifier.keyHash)})`);
    return verifier;
  }

  private async signerFromKey(name: string, privateKey: Ed25519PrivateKey): Promise<NoteSigner> {
    const hash = await this.keyHash(name, privateKey.publicKey);
    return {
      name,
      keyHash: hash,
      publicKey: privateKey.publicKey,
      sign: (message) => privateKey.sign(message),
      exportPkcs8: () => privateKey.exportPkcs8(),
    };
  }

  /** Imports a signer from a PKCS #8 DER Ed25519 private key. */
  async signerFromPkcs8(name: string, pkcs8: Uint8Array): Promise<NoteSigner> {
    if (!isValidKeyName(name)) fail(`bad key name ${JSON.stringify(name)}`);
    return this.signerFromKey(name, await this.ed25519.importPkcs8(pkcs8));
  }

  /** Imports a signer from a raw 32-byte Ed25519 seed. */
  async signerFromSeed(name: string, seed: Uint8Array): Promise<NoteSigner> {
    if (seed.length !== ed25519KeyBytes) fail(`Ed25519 seed must be ${ed25519KeyBytes} bytes, got ${seed.length}`);
    return this.signerFromPkcs8(name, concatBytes([pkcs8Ed25519Prefix, seed]));
  }

  /** Parses "PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>". */
  async parseSignerKey(text: string): Promise<NoteSigner> {
    const parts = splitPlus(text, 5);
    if (!parts || parts[0] !== "PRIVATE" || parts[1] !== "KEY") fail("signer key must be PRIVATE+KEY+name+hash+key");
    const [, , name, hashHex, keyText] = parts;
    const key = fromBase64(keyText);
    if (!key || key.length !== 1 + ed25519KeyBytes || key[0] !== ed25519AlgorithmId) fail("signer key must be base64 of 0x01 followed by a 32-byte Ed25519 seed");
    const signer = await this.signerFromSeed(name, key.subarray(1));
    if (toHex(signer.keyHash) !== hashHex) fail(`signer key hash ${hashHex} does not match its key (want ${toHex(signer.keyHash)})`);
    return signer;
  }

  /** Generates a fresh Ed25519 key pair; returns the signer and its verifier key string. */
  async generateSigner(name: string): Promise<{ signer: NoteSigner; verifierKey: string }> {
    if (!isValidKeyName(name)) fail(`bad key name ${JSON.stringify(name)}`);
    const signer = await this.signerFromKey(name, await this.ed25519.generate());
    return { signer, verifierKey: formatVerifierKey(signer) };
  }
}

// Signed notes

/** Signs a note body (non-empty, ending in "\n", no empty line) with each signer, in order. */
export async function signNote(body: string, signers: NoteSigner | readonly NoteSigner[]): Promise<string> {
  checkNoteBody(body);
  const message = utf8(body);
  let note = `${body}\n`;
  for (const signer of Array.isArray(signers) ? signers : [signers as NoteSigner]) {
    const signature = await signer.sign(message);
    note += `${emDash} ${signer.name} ${toBase64(concatBytes([signer.keyHash, signature]))}\n`;
  }
  return note;
}

function checkNoteBody(body: string): void {
  if (body.length === 0 || !body.endsWith("\n")) fail("note body must be non-empty and end with a newline");
  if (body.includes("\n\n") || body.startsWith("\n")) fail("note body must not contain an empty line");
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(body)) fail("note body must not contain control characters other than newline");
}

export interface NoteSignature {
  readonly name: string;
  readonly keyHash: Uint8Array;
  readonly signature: Uint8Array;
}

export interface OpenedNote {
  readonly body: string;
  /** Names of the known keys whose signatures verified. */
  readonly verifiedBy: string[];
  /** Every signature line, verified or not. */
  readonly signatures: NoteSignature[];
}

/** Splits a signed note into its body and signature lines without verifying anything. */
export function splitNote(text: string): { body: string; signatures: NoteSignature[] } {
  if (text.length > noteBytesMax) fail(`note is ${text.length} characters, at most ${noteBytesMax} allowed`);
  const split = text.lastIndexOf("\n\n");
  if (split < 0) fail("note has no signature block (no empty line)");
  const body = text.slice(0, split + 1);
  checkNoteBody(body);
  const block = text.slice(split + 2);
  if (!block.endsWith("\n")) fail("note must end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > noteSignaturesMax) fail(`note has ${lines.length} signatures, at most ${noteSignaturesMax} allowed`);
  const signatures = lines.map((line) => {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match) fail(`malformed signature line ${JSON.stringify(line)}`);
    const name = match[1]!;
    const bytes = fromBase64(match[2]!);
    if (!isValidKeyName(name) || !bytes || bytes.length <= keyHashBytes) fail(`malformed signature line ${JSON.stringify(line)}`);
    return { name, keyHash: bytes.slice(0, keyHashBytes), signature: bytes.slice(keyHashBytes) };
  });
  return { body, signatures };
}

/**
 * Opens a signed note: every signature by a known key (same name and key hash) must verify, and
 * at least one must be present. Signatures by unknown keys are ignored.
 */
export async function openNote(text: string, verifiers: readonly NoteVerifier[]): Promise<OpenedNote> {
  const { body, signatures } = splitNote(text);
  const message = utf8(body);
  const verifiedBy: string[] = [];
  for (const signature of signatures) {
    const verifier = verifiers.find((v) => v.name === signature.name && bytesEqual(v.keyHash, signature.keyHash));
    if (!verifier) continue;
    if (!(await verifier.verify(message, signature.signature))) fail(`invalid signature by key ${signature.name}+${toHex(signature.keyHash)}`);
    if (!verifiedBy.includes(verifier.name)) verifiedBy.push(verifier.name);
  }
  if (verifiedBy.length === 0) {
    const seen = signatures.map((s) => `${s.name}+${toHex(s.keyHash)}`).join(", ") || "none";
    fail(`note has no signature by a known key (signed by: ${seen})`);
  }
  return { body, verifiedBy, signatures };
}
