/**
 * @module config/secret. How strong `discovery.cluster_secret` must be, and how to make one.
 *
 * The secret keys the Raft handshake proofs and the node-to-node HTTP signatures (HMAC-SHA256).
 * Anyone who records one proof can test guesses of the secret offline, as fast as they can compute
 * HMACs, so the secret must be unguessable: at least 128 bits of entropy. `newClusterSecret` (the
 * `scribe-node gen-secret` command) makes one of 256 bits.
 *
 * Text cannot prove it was drawn at random, so `assessSecret` estimates from above what a guesser
 * would need, in the style of password-strength estimators, and refuses what is obviously weak:
 *
 *  - the alphabet is guessed from the characters used: hex digits only → 16 symbols, decimal
 *    digits only → 10, otherwise the sum of the classes present (26 lower case, 26 upper case,
 *    10 digits, 33 ASCII punctuation and space, 100 for anything beyond ASCII);
 *  - one character repeated, or far fewer distinct characters than a random string of that length
 *    and alphabet would show (under half the expected number), is refused outright;
 *  - the text is read left to right as a sequence of tokens, each costing bits: a common word or
 *    placeholder ("changeme", "secret", "cluster", …) costs one pick from the word list; a run of
 *    4 or more characters stepping by -1, 0 or +1 ("1234", "aaaa", "dcba") costs one character and
 *    a direction; a repeat of 4 or more characters seen earlier costs where it was seen and its
 *    length; any other character costs log2(alphabet) bits. The sum is the estimate.
 *
 * A random secret's estimate is close to its true entropy (a chance word or run in it costs only a
 * few bits); a hand-made one's is usually far above its true entropy, so passing is necessary, not
 * sufficient: make secrets with `scribe-node gen-secret` (or `openssl rand -hex 32`).
 */

import { randomBytes } from "node:crypto";
import { commonWords } from "./common-words.ts";

/** The entropy a cluster secret must carry: beyond offline guessing for the foreseeable future. */
export const clusterSecretBitsMin = 128;
/** Random bytes in a secret made by `newClusterSecret`: twice the floor, so it passes with room. */
export const generatedSecretBytes = 32;
/** Characters of a secret that are analysed (the pattern search is quadratic); more are never needed. */
const analyzedCharsMax = 1024;
/** Runs and repeats shorter than this are left to chance: random text has many 2- and 3-character ones. */
const patternCharsMin = 4;
/** Attempts of `newClusterSecret` to draw a secret the estimate accepts (one practically always suffices). */
const generateAttemptsMax = 8;

/** Words are matched up to this length (the longest in the list). */
const wordLengthMax = Math.max(...commonWords.map((w) => w.length));
const wordSet = new Set(commonWords);
const wordBits = Math.log2(commonWords.length);

export interface SecretStrength {
  /** Estimated entropy in bits (rounded down). */
  bits: number;
  /** Why the secret is too weak; undefined when it is strong enough. Never quotes the secret. */
  weakness: string | undefined;
}

/** Estimates a secret's entropy and says why it is too weak, if it is (see the module comment). */
export function assessSecret(secret: string): SecretStrength {
  const chars = Array.from(secret).slice(0, analyzedCharsMax);
  if (chars.length === 0) return { bits: 0, weakness: "it is empty" };
  const distinct = new Set(chars).size;
  if (distinct === 1) return { bits: 0, weakness: "it is one character repeated" };
  const alphabet = alphabetSize(chars);
  const bitsPerChar = Math.log2(alphabet);
  const estimate = estimateBits(chars, bitsPerChar);
  const bits = Math.floor(estimate.bits);
  const expectedDistinct = alphabet * (1 - (1 - 1 / alphabet) ** chars.length);
  if (distinct < expectedDistinct / 2) {
    return { bits, weakness: `it uses only ${distinct} different characters in ${chars.length}, far fewer than random text would` };
  }
  if (estimate.bits >= clusterSecretBitsMin) return { bits, weakness: undefined };
  const ceilingBits = Math.floor(chars.length * bitsPerChar);
  if (ceilingBits < clusterSecretBitsMin) {
    return { bits, weakness: `it is ${chars.length} characters long: even at random, that many characters of its alphabet (${alphabet} symbols) carry at most ${ceilingBits} bits` };
  }
  if (estimate.words > 0) return { bits, weakness: `it is made of common words or placeholders (estimated ${bits} bits)` };
  return { bits, weakness: `it is made of repeated or sequential runs of characters (estimated ${bits} bits)` };
}

/** A new random cluster secret: `generatedSecretBytes` random bytes, base64url without padding (43 characters). */
export function newClusterSecret(): string {
  for (let attempt = 0; attempt < generateAttemptsMax; attempt++) {
    const secret = randomBytes(generatedSecretBytes).toString("base64url");
    if (assessSecret(secret).weakness === undefined) return secret;
  }
  throw new Error(`no acceptable secret in ${generateAttemptsMax} draws of ${generatedSecretBytes} random bytes: the random source is broken`);
}

/** The size of the alphabet the characters seem to be drawn from (see the module comment). */
function alphabetSize(chars: readonly string[]): number {
  const text = chars.join("");
  if (/^[0-9]+$/.test(text)) return 10;
  if (/^[0-9a-f]+$/.test(text) || /^[0-9A-F]+$/.test(text)) return 16;
  let size = 0;
  if (/[a-z]/.test(text)) size += 26;
  if (/[A-Z]/.test(text)) size += 26;
  if (/[0-9]/.test(text)) size += 10;
  if (/[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/.test(text)) size += 33;
  if (/[^\x20-\x7e]/.test(text)) size += 100;
  return size;
}

interface Estimate {
  bits: number;
  /** Common words found. */
  words: number;
}

/** Reads the characters as tokens (word, run, repeat, single character) and sums their costs. */
function estimateBits(chars: readonly string[], bitsPerChar: number): Estimate {
  const codes = chars.map((c) => c.codePointAt(0)!);
  let bits = 0;
  let words = 0;
  let i = 0;
  while (i < chars.length) {
    const word = wordAt(chars, i);
    const run = runAt(codes, i);
    const repeat = repeatAt(codes, i);
    const longest = Math.max(word, run, repeat);
    if (longest === 0) {
      bits += bitsPerChar;
      i += 1;
    } else if (longest === word) {
      bits += wordBits + (chars.slice(i, i + word).some((c) => c !== c.toLowerCase()) ? 1 : 0);
      words++;
      i += word;
    } else if (longest === run) {
      bits += bitsPerChar + Math.log2(3);
      i += run;
    } else {
      bits += Math.log2(i + 1) + Math.log2(repeat);
      i += repeat;
    }
  }
  return { bits, words };
}

/** Length of the longest common word starting at `i` (case-insensitive), or 0. */
function wordAt(chars: readonly string[], i: number): number {
  for (let length = Math.min(wordLengthMax, chars.length - i); length >= 2; length--) {
    if (wordSet.has(chars.slice(i, i + length).join("").toLowerCase())) return length;
  }
  return 0;
}

/** Length of the run starting at `i` whose code points step by -1, 0 or +1, if at least patternCharsMin; else 0. */
function runAt(codes: readonly number[], i: number): number {
  if (i + 1 >= codes.length) return 0;
  const step = codes[i + 1]! - codes[i]!;
  if (step < -1 || step > 1) return 0;
  let end = i + 1;
  while (end + 1 < codes.length && codes[end + 1]! - codes[end]! === step) end++;
  const length = end - i + 1;
  return length >= patternCharsMin ? length : 0;
}

/** Length of the longest stretch starting at `i` that also starts earlier, if at least patternCharsMin; else 0. */
function repeatAt(codes: readonly number[], i: number): number {
  let best = 0;
  for (let j = 0; j < i; j++) {
    let length = 0;
    while (i + length < codes.length && codes[j + length] === codes[i + length]) length++;
    if (length > best) best = length;
  }
  return best >= patternCharsMin ? best : 0;
}
