/**
 * @module checkpoints. This member's own checkpoint signature: its Ed25519 key, and the guard
 * that decides whether it may sign a checkpoint body it is asked to sign (cosigning.ts runs the
 * rounds). A member signs (origin, size, root) only when
 * - the origin is the cluster's (or its last signature was under its own pre-cluster origin),
 * - its own tree has `size` leaves and the same root at that size, and
 * - the checkpoint is consistent with the last one it signed (decideSigning), so it never signs
 *   two inconsistent checkpoints, even after a restart, a restored backup or a tampered database.
 * The last signed checkpoint is kept in the database (meta `checkpoint_note`, a note with this
 * member's signature alone). A refusal because the ledger disagrees (another root at that size,
 * or a stored tree that contradicts the last signature) is a disagreement: an error-level alarm,
 * a counter (scribe_ledger_checkpoint_disagreements_total) and a field of /health. Signing
 * requests are serialized.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ScribeError, bytesEqual, toBase64, toHex } from "../lib/index.ts";
import {
  decideSigning,
  formatCheckpoint,
  formatSignerKey,
  formatVerifierKey,
  parseCheckpoint,
  signNote,
  splitNote,
  type Checkpoint,
  type MerkleTree,
  type NoteSigner,
} from "../merkle/index.ts";
import { generateSigner, parseSignerKey } from "../crypto/index.ts";
import type { SignedCheckpoint } from "../ledger/index.ts";
import type { HotStore } from "../storage/index.ts";
import type { Logger } from "./logger.ts";

const lastNoteMeta = "checkpoint_note";

/** Loads the signer from `file`, or generates one there (mode 0600) when the file is absent. */
export async function loadOrCreateSigner(file: string, name: string): Promise<{ signer: NoteSigner; created: boolean }> {
  if (existsSync(file)) {
    const signer = await parseSignerKey(readFileSync(file, "utf8").trim());
    return { signer, created: false };
  }
  const { signer } = await generateSigner(name);
  writeFileSync(file, `${await formatSignerKey(signer)}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  return { signer, created: true };
}

/** The key file used when `security.signing_key_file` is empty. */
export function defaultSigningKeyFile(dataDir: string): string {
  return join(dataDir, "checkpoint-signing.key");
}

/** The last disagreement seen: what /health and /metrics show. */
export interface Disagreement {
  size: number;
  at_ms: number;
  /** This member's root at `size` (hex), null when it could not compute one. */
  own_root: string | null;
  /** The root it was asked to sign (hex). */
  asked_root: string;
  reason: string;
}

export interface SignerOptions {
  tree: () => MerkleTree;
  store: HotStore;
  signer: NoteSigner;
  /** The origin this node signed under before clusters had one identity (scribe-ledger/<address>). */
  legacyOrigin: string;
  logger?: Logger;
  now?: () => number;
}

export class CheckpointSigner {
  private last: SignedCheckpoint | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Why signing is refused (set when the stored tree contradicts the last signed checkpoint). */
  private refusal: string | undefined;
  disagreements = 0;
  lastDisagreement: Disagreement | null = null;

  constructor(private readonly options: SignerOptions) {
    const note = options.store.meta(lastNoteMeta);
    if (typeof note === "string") this.last = { note, checkpoint: parseCheckpoint(splitNote(note).body) };
    this.checkStoredTree();
  }

  /** The verifier key of this member: "<name>+<key hash hex>+<base64(0x01 || public key)>". */
  get verifierKey(): string {
    return formatVerifierKey(this.options.signer);
  }

  get signer(): NoteSigner {
    return this.options.signer;
  }

  /** The last checkpoint this member signed (its own signature alone). */
  get lastSigned(): SignedCheckpoint | undefined {
    return this.last;
  }

  private checkStoredTree(): void {
    if (!this.last) return;
    const tree = this.options.tree();
    const { size, rootHash } = this.last.checkpoint;
    if (tree.size < size) {
      this.refusal = `the ledger has ${tree.size} entries but a checkpoint of size ${size} was signed before`;
    } else if (!bytesEqual(tree.rootAt(size), rootHash)) {
      this.refusal = `the stored tree's root at size ${size} differs from the signed checkpoint`;
    }
    if (this.refusal) this.disagree({ size, own_root: tree.size >= size ? toHex(tree.rootAt(size)) : null, asked_root: toHex(rootHash), reason: this.refusal });
  }

  private disagree(fields: Omit<Disagreement, "at_ms">): ScribeError {
    this.disagreements++;
    this.lastDisagreement = { ...fields, at_ms: (this.options.now ?? Date.now)() };
    this.options.logger?.error({ size: fields.size, own_root: fields.own_root, asked_root: fields.asked_root, reason: fields.reason }, "CHECKPOINT DISAGREEMENT: this member's ledger disagrees with a checkpoint; refusing to sign");
    return new ScribeError("checkpoint_disagreement", `refusing to sign a checkpoint of size ${fields.size}: ${fields.reason}`, { size: fields.size, own_root: fields.own_root, asked_root: fields.asked_root });
  }

  /**
   * Signs a checkpoint body after the checks of the module comment; returns this member's
   * signature line. Precondition: the caller waited until the tree has `checkpoint.size` leaves
   * (not_caught_up otherwise). `expectedOrigin` is the cluster's origin.
   */
  sign(checkpoint: Checkpoint, expectedOrigin: string): Promise<string> {
    const next = this.chain.then(() => this.signNow(checkpoint, expectedOrigin));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async signNow(checkpoint: Checkpoint, expectedOrigin: string): Promise<string> {
    const { size, rootHash } = checkpoint;
    if (checkpoint.origin !== expectedOrigin) throw new ScribeError("invalid_request", `refusing to sign a checkpoint for origin ${JSON.stringify(checkpoint.origin)}: this cluster's origin is ${JSON.stringify(expectedOrigin)}`);
    if (this.refusal) throw this.disagree({ size, own_root: null, asked_root: toHex(rootHash), reason: this.refusal });
    const tree = this.options.tree();
    if (size > tree.size) throw new ScribeError("not_caught_up", `cannot sign a checkpoint of size ${size}: this member has applied ${tree.size} entries`);
    const own = tree.rootAt(size);
    if (!bytesEqual(own, rootHash)) throw this.disagree({ size, own_root: toHex(own), asked_root: toHex(rootHash), reason: `this member's root at size ${size} is ${toBase64(own)}, the checkpoint says ${toBase64(rootHash)}` });
    const last = this.last?.checkpoint;
    // A signature under this node's own pre-cluster origin carries over to the cluster's origin once.
    const lastSameOrigin = last && last.origin === this.options.legacyOrigin ? { ...last, origin: checkpoint.origin } : last;
    if (lastSameOrigin) {
      const [older, newer] = size < lastSameOrigin.size ? [checkpoint, lastSameOrigin] : [lastSameOrigin, checkpoint];
      const decision = decideSigning(older, newer, tree.consistencyProof(older.size, newer.size), tree.hasher);
      if (!decision.allowed) {
        if (decision.reason.startsWith("origin")) throw new ScribeError("invalid_request", `refusing to sign: ${decision.reason}`);
        throw this.disagree({ size, own_root: toHex(own), asked_root: toHex(rootHash), reason: decision.reason });
      }
    }
    const body = formatCheckpoint(checkpoint);
    const note = await signNote(body, this.options.signer);
    if (!last || size > last.size || last.origin !== checkpoint.origin) {
      this.options.store.setMeta(lastNoteMeta, note);
      this.last = { note, checkpoint };
    }
    return signatureLineOf(note);
  }

  /**
   * Test hook (TEST_SCRIBE_HOOKS=fork_checkpoints): signs a body WITHOUT the checks, as a
   * compromised node would; nothing is recorded. Never reached otherwise.
   */
  async signUnchecked(checkpoint: Checkpoint): Promise<string> {
    return signatureLineOf(await signNote(formatCheckpoint(checkpoint), this.options.signer));
  }

  /** A proof of possession of this key for a registration: a note signed by it. */
  async registrationProof(origin: string, nodeId: number): Promise<string> {
    return signNote(registrationBody(origin, nodeId, this.verifierKey), this.options.signer);
  }
}

/** The body a member signs to register its key: it binds the key to the origin and node id. */
export function registrationBody(origin: string, nodeId: number, key: string): string {
  return `scribe-ledger/key-registration/v1\n${origin}\nnode ${nodeId}\n${key}\n`;
}

/** The single signature line of a note signed by one key. */
export function signatureLineOf(note: string): string {
  const at = note.lastIndexOf("\n\n");
  return note.slice(at + 2);
}
