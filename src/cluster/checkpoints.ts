/**
 * @module checkpoints. Signs C2SP checkpoints of the node's Merkle tree with its Ed25519 key,
 * lazily: a request for the latest checkpoint signs one when the tree has grown since the last.
 * The last signed checkpoint is kept in the database; before signing, the new tree must be
 * consistent with it (decideSigning), so a node never signs two inconsistent checkpoints, even
 * after a restart, a restored backup or a tampered database. Signing requests are serialized.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ScribeError, bytesEqual } from "../lib/index.ts";
import {
  decideSigning,
  formatSignerKey,
  formatVerifierKey,
  parseCheckpoint,
  signCheckpoint,
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

export class Checkpointer {
  private last: SignedCheckpoint | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Why signing is refused (set when the stored tree contradicts the last signed checkpoint). */
  private refusal: string | undefined;

  constructor(
    private readonly tree: () => MerkleTree,
    private readonly store: HotStore,
    private readonly signer: NoteSigner,
    readonly origin: string,
    private readonly logger?: Logger,
  ) {
    const note = store.meta(lastNoteMeta);
    if (typeof note === "string") this.last = { note, checkpoint: parseCheckpoint(splitNote(note).body) };
    this.checkStoredTree();
  }

  /** The verifier key clients pin: "<name>+<key hash hex>+<base64(0x01 || public key)>". */
  get verifierKey(): string {
    return formatVerifierKey(this.signer);
  }

  /** The last checkpoint signed, without signing a new one. */
  get lastSigned(): SignedCheckpoint | undefined {
    return this.last;
  }

  private checkStoredTree(): void {
    if (!this.last) return;
    const tree = this.tree();
    const { size, rootHash } = this.last.checkpoint;
    if (tree.size < size) {
      this.refusal = `the ledger has ${tree.size} entries but a checkpoint of size ${size} was signed before`;
    } else if (!bytesEqual(tree.rootAt(size), rootHash)) {
      this.refusal = `the stored tree's root at size ${size} differs from the signed checkpoint`;
    }
    if (this.refusal) this.logger?.error({ reason: this.refusal }, "checkpoint signing refused: stored tree contradicts the last signed checkpoint");
  }

  /** A checkpoint covering the whole current tree, signing a new one if the tree grew. */
  latest(): Promise<SignedCheckpoint> {
    const next = this.chain.then(() => this.signCurrent());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * A signed checkpoint of the tree at an earlier `size` (the cold tier publishes one covering
   * exactly what the bucket holds). The tree at `size` is a prefix of the current tree, which
   * was checked against the last signed checkpoint, so this cannot contradict it; it is checked
   * again with a consistency proof when `size` is below the last signed size. It does not become
   * the latest checkpoint.
   */
  signAt(size: number): Promise<SignedCheckpoint> {
    const next = this.chain.then(async () => {
      if (this.refusal) throw new ScribeError("verification_failed", `refusing to sign a checkpoint: ${this.refusal}`);
      const tree = this.tree();
      if (!(Number.isSafeInteger(size) && size >= 0 && size <= tree.size)) throw new ScribeError("invalid_range", `cannot sign a checkpoint of size ${size}: the tree has ${tree.size} leaves`);
      if (this.last && this.last.checkpoint.size === size) return this.last;
      const checkpoint: Checkpoint = { origin: this.origin, size, rootHash: tree.rootAt(size) };
      const last = this.last?.checkpoint;
      if (last && size < last.size) {
        const decision = decideSigning(checkpoint, last, tree.consistencyProof(size, last.size), tree.hasher);
        if (!decision.allowed) throw new ScribeError("verification_failed", `refusing to sign a checkpoint of size ${size}: ${decision.reason}`);
      }
      return { note: await signCheckpoint(checkpoint, this.signer), checkpoint };
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async signCurrent(): Promise<SignedCheckpoint> {
    if (this.refusal) throw new ScribeError("verification_failed", `refusing to sign a checkpoint: ${this.refusal}`);
    const tree = this.tree();
    const size = tree.size;
    if (this.last && this.last.checkpoint.size === size) return this.last;
    const checkpoint: Checkpoint = { origin: this.origin, size, rootHash: tree.root() };
    const lastCheckpoint = this.last?.checkpoint;
    const proof = lastCheckpoint ? tree.consistencyProof(lastCheckpoint.size, size) : [];
    const decision = decideSigning(lastCheckpoint, checkpoint, proof, tree.hasher);
    if (!decision.allowed) {
      this.refusal = decision.reason;
      this.logger?.error({ reason: decision.reason }, "checkpoint signing refused");
      throw new ScribeError("verification_failed", `refusing to sign a checkpoint: ${decision.reason}`);
    }
    const note = await signCheckpoint(checkpoint, this.signer);
    this.store.setMeta(lastNoteMeta, note);
    this.last = { note, checkpoint };
    return this.last;
  }
}
