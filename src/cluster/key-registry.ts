/**
 * @module key-registry. Keeps the replicated identity (identity.ts) complete, after every Ready:
 * - the leader fixes the origin once, when none is committed: `security.checkpoint_origin`, else
 *   the origin a restore took from the bucket, else the origin of this node's last signed
 *   checkpoint (a data directory from before clusters had one identity keeps its origin), else
 *   `scribe-ledger/<cluster id>` with a random cluster id made now;
 * - each member registers its own verifier key when the identity lacks it or holds another one:
 *   the leader proposes it; a follower sends it to the leader (POST /cluster/keys) with a proof of
 *   possession (a note signed by the key, binding it to the origin and the node id), which the
 *   leader checks before it proposes it;
 * - the leader writes the key history: when every voter has a key and the voters' key set differs
 *   from the newest epoch's, it makes the next keys note (policy.ts), signed by a majority of the
 *   previous epoch's members (epoch 0: of its own), each member checking the set against its own
 *   applied state (POST /cluster/cosign {keys_body}), and proposes it.
 * Each task runs once at a time and backs off after a failure.
 */

import { isScribeError, ScribeError, toHex, utf8 } from "../lib/index.ts";
import { parseVerifierKey } from "../crypto/index.ts";
import { formatKeysBody, openNote, parseKeysBody, requiredCount, sameKeys, signNote, splitNote, type KeySet } from "../merkle/index.ts";
import type { CheckpointSigner } from "./checkpoints.ts";
import { registrationBody } from "./checkpoints.ts";
import type { ClusterIdentity, IdentityChanges } from "./identity.ts";
import type { Logger } from "./logger.ts";
import { registerKey, requestKeysSignature } from "./peer-client.ts";

/** Pause after a failed task before it is tried again. */
const retryMs = 1000;
/** Longest a member waits for its own applied state to match a keys note it is asked to sign. */
const keysWaitMsMax = 5000;
/** Longest one call to another member (a key registration, a keys note signature) may take. */
const callMsMax = 5000;

export interface KeyRegistryOptions {
  selfId: number;
  signer: CheckpointSigner;
  identity: ClusterIdentity;
  /** security.checkpoint_origin, or "". */
  configuredOrigin: string;
  /** The origin a restore from S3 recorded (meta), if any. */
  restoredOrigin: () => string | undefined;
  voters: () => readonly number[];
  clientOf: (id: number) => string | undefined;
  isLeader: () => boolean;
  leaderClient: () => string | undefined;
  /** Proposes an identity change and resolves once it is applied. */
  propose: (changes: IdentityChanges) => Promise<void>;
  logger: Logger;
  now: () => number;
  /**
   * Resolves once `ready()` holds, checked after each Ready the node handles (waiters.ts, the
   * driver's one deadline mechanism); rejects with a `timeout` ScribeError at `deadlineMs`.
   */
  until: (ready: () => boolean, deadlineMs: number, what: string) => Promise<void>;
}

export class KeyRegistry {
  private busy = new Set<string>();
  private notBefore = new Map<string, number>();

  constructor(private readonly options: KeyRegistryOptions) {}

  /** After each Ready: starts whichever task is due and not already running. */
  check(): void {
    const { identity, isLeader, signer, selfId } = this.options;
    if (isLeader() && identity.origin === undefined) this.run("origin", () => this.fixOrigin());
    else if (identity.origin !== undefined && identity.keyOf(selfId) !== signer.verifierKey) this.run("register", () => this.register());
    else if (isLeader() && identity.origin !== undefined) this.run("epoch", () => this.nextEpoch());
  }

  private run(task: string, fn: () => Promise<void>): void {
    if (this.busy.has(task) || (this.notBefore.get(task) ?? 0) > this.options.now()) return;
    this.busy.add(task);
    fn()
      .catch((error: Error) => {
        this.notBefore.set(task, this.options.now() + retryMs);
        this.options.logger.warn({ task, err: error.message }, "checkpoint identity: task failed; retrying");
      })
      .finally(() => this.busy.delete(task));
  }

  /** The origin the leader proposes when none is committed (see the module comment). */
  chooseOrigin(): string {
    const { configuredOrigin, restoredOrigin, signer } = this.options;
    if (configuredOrigin !== "") return configuredOrigin;
    const restored = restoredOrigin();
    if (restored) return restored;
    const signed = signer.lastSigned?.checkpoint.origin;
    if (signed) return signed;
    return `scribe-ledger/${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
  }

  private async fixOrigin(): Promise<void> {
    const origin = this.chooseOrigin();
    await this.options.propose({ origin, keys: { [String(this.options.selfId)]: this.options.signer.verifierKey } });
    this.options.logger.info({ origin: this.options.identity.origin }, "checkpoint identity: the cluster's origin is fixed");
  }

  private async register(): Promise<void> {
    const { identity, isLeader, leaderClient, selfId, signer } = this.options;
    const key = signer.verifierKey;
    if (isLeader()) {
      await this.options.propose({ keys: { [String(selfId)]: key } });
    } else {
      const leader = leaderClient();
      if (!leader) throw new ScribeError("no_leader", "no leader to register the checkpoint key with");
      await registerKey(leader, { node_id: selfId, key, proof: await signer.registrationProof(identity.origin!, selfId) }, callMsMax);
      // Registered once applied here too: wait (bounded) so the next check does not send it again;
      // past the bound the next check finds it missing and registers again.
      await this.options.until(() => identity.keyOf(selfId) === key, this.options.now() + keysWaitMsMax, "this member's key applied").catch((error: unknown) => {
        if (!(isScribeError(error) && error.code === "timeout")) throw error;
      });
    }
    this.options.logger.info({ verifier_key: key }, "checkpoint identity: registered this member's key");
  }

  /** Leader: checks a follower's registration (its proof of possession), then proposes it. */
  async registerFor(request: { node_id: number; key: string; proof: string }): Promise<void> {
    const { identity, isLeader } = this.options;
    if (!isLeader()) throw new ScribeError("not_leader", "keys are registered with the leader");
    const origin = identity.origin;
    if (origin === undefined) throw new ScribeError("unavailable", "the cluster's origin is not fixed yet");
    const verifier = await parseVerifierKey(request.key).catch((error: Error) => {
      throw new ScribeError("invalid_request", `bad verifier key: ${error.message}`);
    });
    const opened = await openNote(request.proof, [verifier]).catch((error: Error) => {
      throw new ScribeError("invalid_request", `the proof of possession does not verify with the key: ${error.message}`);
    });
    if (opened.body !== registrationBody(origin, request.node_id, request.key)) throw new ScribeError("invalid_request", "the proof of possession is for another origin, node or key");
    if (identity.keyOf(request.node_id) === request.key) return;
    await this.options.propose({ keys: { [String(request.node_id)]: request.key } });
  }

  /** The voters' key set when every voter has a key; undefined otherwise. */
  private currentKeys(): string[] | undefined {
    const voters = this.options.voters();
    const keys = this.options.identity.keysOf(voters);
    return keys.length === voters.length && keys.length > 0 ? keys.map((k) => k.key) : undefined;
  }

  private async nextEpoch(): Promise<void> {
    const { identity } = this.options;
    const keys = this.currentKeys();
    if (!keys) return;
    const epochs = identity.epochs;
    const previous = epochs.length === 0 ? undefined : parseKeysBody(splitNote(epochs[epochs.length - 1]!).body);
    if (previous && sameKeys(previous.keys, keys)) return;
    const body = formatKeysBody({ origin: identity.origin!, epoch: epochs.length, keys });
    const signers = previous ? previous.keys : keys;
    const lines = await this.gatherKeysSignatures(body, signers);
    const need = requiredCount("majority", signers.length);
    if (lines.length < need) throw new ScribeError("no_quorum", `keys note of epoch ${epochs.length} has ${lines.length} of the ${need} signatures it needs`);
    await this.options.propose({ keys_note: `${body}\n${lines.join("")}` });
    this.options.logger.info({ epoch: epochs.length, keys: keys.length }, "checkpoint identity: a new key-set epoch");
  }

  /** Signature lines on a keys body by the members holding `keys` (this node signs its own). */
  private async gatherKeysSignatures(body: string, keys: readonly string[]): Promise<string[]> {
    const { identity, selfId, signer, clientOf } = this.options;
    const idOf = (key: string) => Object.entries(identity.state().keys).find(([, k]) => k === key)?.[0];
    const results = await Promise.allSettled(
      keys.map(async (key) => {
        const id = Number(idOf(key));
        if (id === selfId) return this.signKeysBody(body);
        const client = Number.isSafeInteger(id) ? clientOf(id) : undefined;
        if (!client) throw new Error(`no address for the holder of ${key}`);
        const line = await requestKeysSignature(client, body, callMsMax);
        const verifier = await parseVerifierKey(key);
        const [signature] = splitNote(`${body}\n${line}`).signatures;
        if (!signature || !(await verifier.verify(utf8(body), signature.signature))) throw new Error(`member ${id}'s keys signature does not verify`);
        return line;
      }),
    );
    return results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  }

  /**
   * A member's signature on a keys body, after its own applied state agrees: the same origin, the
   * next epoch, and exactly its voters' keys (bounded wait for it to apply the change).
   */
  async signKeysBody(body: string): Promise<string> {
    const { identity } = this.options;
    let set: KeySet;
    try {
      set = parseKeysBody(body);
    } catch (error) {
      throw new ScribeError("invalid_request", `not a keys note body: ${(error as Error).message}`);
    }
    const agrees = () => set.origin === identity.origin && set.epoch === identity.epochs.length && sameKeys(set.keys, this.currentKeys() ?? []);
    await this.options.until(agrees, this.options.now() + keysWaitMsMax, `epoch ${set.epoch} of the keys note`).catch((error: unknown) => {
      if (isScribeError(error) && error.code === "timeout") throw new ScribeError("not_caught_up", `this member's key set does not match epoch ${set.epoch} of the keys note`);
      throw error;
    });
    const note = await signNote(body, this.options.signer.signer);
    return note.slice(note.lastIndexOf("\n\n") + 2);
  }
}
