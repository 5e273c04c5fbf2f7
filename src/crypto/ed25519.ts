/**
 * @module crypto/ed25519. Ed25519 and SHA-256 through WebCrypto (`crypto.subtle`, global in Bun,
 * Node and browsers): the implementation of src/merkle's injected `Ed25519`, and the signed-note
 * key functions bound to it (parse, import, generate), for the node and the client alike.
 */

import { assert, fromBase64 } from "../lib/index.ts";
import { CosignatureKeys, NoteKeys, type CosignatureVerifier, type Ed25519, type Ed25519PrivateKey, type NoteSigner, type NoteVerifier } from "../merkle/index.ts";

const ed25519KeyBytes = 32;

async function publicKeyOf(privateKey: CryptoKey): Promise<Uint8Array> {
  // WebCrypto derives the public part through JWK: "x" is the base64url public key.
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const x = (jwk.x ?? "").replace(/-/g, "+").replace(/_/g, "/");
  const publicKey = fromBase64(x + "=".repeat((4 - (x.length % 4)) % 4));
  assert(publicKey && publicKey.length === ed25519KeyBytes, "could not derive the Ed25519 public key");
  return publicKey;
}

function privateKeyOf(privateKey: CryptoKey, publicKey: Uint8Array): Ed25519PrivateKey {
  return {
    publicKey,
    sign: async (message) => new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, privateKey, message as BufferSource)),
    exportPkcs8: async () => new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey)),
  };
}

/** src/merkle's Ed25519 over WebCrypto. */
export const webCryptoEd25519: Ed25519 = {
  sha256: async (data) => new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource)),
  async importPublicKey(publicKey) {
    const key = await crypto.subtle.importKey("raw", publicKey as BufferSource, { name: "Ed25519" }, true, ["verify"]);
    return { verify: (message, signature) => crypto.subtle.verify({ name: "Ed25519" }, key, signature as BufferSource, message as BufferSource) };
  },
  async importPkcs8(pkcs8) {
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as BufferSource, { name: "Ed25519" }, true, ["sign"]);
    return privateKeyOf(privateKey, await publicKeyOf(privateKey));
  },
  async generate() {
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    return privateKeyOf(pair.privateKey, new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)));
  },
};

/** Note keys over WebCrypto; the functions below are its methods. */
export const noteKeys = new NoteKeys(webCryptoEd25519);

/** The 4-byte C2SP key hash of an Ed25519 key: SHA-256(name || "\n" || 0x01 || public key)[0:4]. */
export const keyHash = (name: string, publicKey: Uint8Array): Promise<Uint8Array> => noteKeys.keyHash(name, publicKey);
/** Creates a verifier from raw public key bytes. */
export const verifierFromPublicKey = (name: string, publicKey: Uint8Array): Promise<NoteVerifier> => noteKeys.verifierFromPublicKey(name, publicKey);
/** Parses "<name>+<hex key hash>+<base64(0x01 || public key)>"; throws on any mismatch. */
export const parseVerifierKey = (text: string): Promise<NoteVerifier> => noteKeys.parseVerifierKey(text);
/** Imports a signer from a PKCS #8 DER Ed25519 private key. */
export const signerFromPkcs8 = (name: string, pkcs8: Uint8Array): Promise<NoteSigner> => noteKeys.signerFromPkcs8(name, pkcs8);
/** Imports a signer from a raw 32-byte Ed25519 seed. */
export const signerFromSeed = (name: string, seed: Uint8Array): Promise<NoteSigner> => noteKeys.signerFromSeed(name, seed);
/** Parses "PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>". */
export const parseSignerKey = (text: string): Promise<NoteSigner> => noteKeys.parseSignerKey(text);
/** Generates a fresh Ed25519 key pair; returns the signer and its verifier key string. */
export const generateSigner = (name: string): Promise<{ signer: NoteSigner; verifierKey: string }> => noteKeys.generateSigner(name);

/** cosignature/v1 (C2SP tlog-cosignature) key functions over WebCrypto. */
export const cosignatureKeys = new CosignatureKeys(webCryptoEd25519);

/** The key ID of a cosignature/v1 key: SHA-256(name || "\n" || 0x04 || public key)[0:4]. */
export const cosignatureKeyId = (name: string, publicKey: Uint8Array): Promise<Uint8Array> => cosignatureKeys.keyId(name, publicKey);
/** A cosignature verifier from a cosigner's name and raw Ed25519 public key. */
export const cosignatureVerifierFromPublicKey = (name: string, publicKey: Uint8Array): Promise<CosignatureVerifier> => cosignatureKeys.verifierFromPublicKey(name, publicKey);
/** Parses a cosigner vkey "<name>+<hex key ID>+<base64(0x04 || key)>"; throws on any mismatch. */
export const parseCosignatureVerifierKey = (text: string): Promise<CosignatureVerifier> => cosignatureKeys.parseVerifierKey(text);
/** A cosignature/v1 signature line by `signer` at `timestampSecs` (for witnesses and tools). */
export const cosignLine = (body: string, signer: Pick<NoteSigner, "name" | "publicKey" | "sign">, timestampSecs: number): Promise<string> => cosignatureKeys.cosignLine(body, signer, timestampSecs);
