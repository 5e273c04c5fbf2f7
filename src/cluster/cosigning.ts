/**
 * @module cosigning. The cluster's checkpoints: one note body (origin, size, root) signed by a
 * majority of the voters, each after checking it against its own ledger (checkpoints.ts).
 *
 * On the leader, a round builds the body for a size it has applied, signs it itself and asks
 * every other voter (POST /cluster/cosign) for its signature line; each line is verified against
 * the member's registered key (identity.ts). With the lines of a majority, the note is the
 * cluster's checkpoint: external witnesses add their cosignatures (witnesses.ts), then it is
 * served, kept in the database (meta `checkpoint_quorum`) and handed to every member (the same
 * route, `latest`), which checks it against its own tree and serves it too. Rounds run every
 * `security.cosign_interval_ms` while the tree grows, and on demand: a request that needs a
 * checkpoint of at least N leaves joins the round in flight or starts one, on the leader, or asks
 * the leader from a follower (POST /cluster/checkpoint); rounds never overlap. A single node is a
 * one-voter group: the same path, its own signature is the majority, no network. The cold tier's
 * bucket checkpoint is a round for exactly the bucket's size (`exactly`), never served as latest;
 * witnesses never see it (they only cosign sizes at least as large as the last they saw, and they
 * see the latest rounds), so the bucket also gets `witnessedExtension`: the newest served
 * checkpoint, witnessed, with a consistency proof from the bucket's size (merkle/witnessed.ts).
 */

import type { SignedCheckpoint } from "../ledger/index.ts";
import { isScribeError, ScribeError, utf8 } from "../lib/index.ts";
import { parseVerifierKey } from "../crypto/index.ts";
import { formatCheckpoint, formatWitnessedExtension, parseCheckpoint, requiredCount, splitNote, verifyCheckpointPolicy, type Checkpoint, type MerkleTree, type NoteVerifier } from "../merkle/index.ts";
import type { HotStore } from "../storage/index.ts";
import type { CheckpointSigner } from "./checkpoints.ts";
import type { ClusterIdentity } from "./identity.ts";
import type { Logger } from "./logger.ts";
import { publishCheckpoint, requestCheckpoint, requestCosignature } from "./peer-client.ts";
import type { WitnessSubmitter } from "./witnesses.ts";

const servedMeta = "checkpoint_quorum";
/** Longest a member waits to have applied the size it is asked to sign. */
const applyWaitMsMax = 5000;
/** Longest a leader waits for one member's signature line (a dead member fails fast; a stalled one costs this). */
const memberCallMsMax = 3000;
/** Once a majority signed, how long the round still waits for the other members' lines. */
const stragglerGraceMs = 50;
/** Most parsed member keys cached (a cluster has a handful; removed members' keys linger). */
const verifierCacheMax = 1024;

export interface CosigningOptions {
  selfId: number;
  signer: CheckpointSigner;
  identity: ClusterIdentity;
  tree: () => MerkleTree;
  store: Pick<HotStore, "meta" | "setMeta">;
  /** The current voters, and everyone to hand a new checkpoint to (voters and learners). */
  voters: () => readonly number[];
  members: () => readonly number[];
  clientOf: (id: number) => string | undefined;
  isLeader: () => boolean;
  /** The leader's client address when another node leads; undefined when none is known. */
  leaderClient: () => string | undefined;
  witnesses?: WitnessSubmitter;
  logger: Logger;
  now: () => number;
  /**
   * Resolves once `ready()` holds, checked after each Ready the node handles (waiters.ts, the
   * driver's one deadline mechanism); rejects with a `timeout` ScribeError at `deadlineMs`.
   */
  until: (ready: () => boolean, deadlineMs: number, what: string) => Promise<void>;
  /** security.cosign_interval_ms: how often the leader starts a round while the tree grows. */
  intervalMs: number;
  /** The most an on-demand request waits for its checkpoint. */
  timeoutMs: number;
  /** Test hook: this leader builds forked bodies (another root) and signs them unchecked. */
  forkCheckpoints?: boolean;
}

export class CheckpointService {
  private served: SignedCheckpoint | undefined;
  private inflight: Promise<SignedCheckpoint> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly verifiers = new Map<string, NoteVerifier>();
  private lastRoundError: string | undefined;
  readonly counters = { rounds: 0, rounds_failed: 0, published: 0, adopted: 0 };

  constructor(private readonly options: CosigningOptions) {
    const note = options.store.meta(servedMeta);
    if (typeof note === "string") this.served = { note, checkpoint: parseCheckpoint(splitNote(note).body) };
  }

  start(): void {
    this.timer = setInterval(() => this.periodic(), this.options.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The newest quorum checkpoint this node serves, without waiting (undefined before the first). */
  latest(): SignedCheckpoint | undefined {
    return this.served;
  }

  /** A quorum checkpoint of at least `size` leaves: the served one, or one made now (bounded). */
  async covering(size: number): Promise<SignedCheckpoint> {
    if (this.served && this.served.checkpoint.size >= size) return this.served;
    const deadline = this.options.now() + this.options.timeoutMs;
    if (this.options.isLeader()) return this.leaderCovering(size, deadline);
    const leader = this.options.leaderClient();
    if (!leader) throw new ScribeError("no_leader", "no leader is known to make a checkpoint");
    const note = await requestCheckpoint(leader, size, Math.max(1, deadline - this.options.now()));
    return this.adopt(note, deadline);
  }

  /** A quorum checkpoint of exactly `size` leaves (the cold tier's bucket checkpoint); leader only. */
  async exactly(size: number): Promise<string> {
    if (this.served && this.served.checkpoint.size === size) return this.served.note;
    if (!this.options.isLeader()) throw new ScribeError("not_leader", "only the leader makes checkpoints");
    return (await this.round(size)).note;
  }

  /**
   * The witnessed extension of a checkpoint of `size` leaves (merkle/witnessed.ts), for the cold
   * tier's bucket: the newest quorum checkpoint this node serves (made now when none covers
   * `size`: a latest round, so witnesses are asked), with an RFC 9162 consistency proof from
   * `size` to it. Undefined when this node submits to no witnesses.
   */
  async witnessedExtension(size: number): Promise<{ text: string; size: number } | undefined> {
    if (!this.options.witnesses || size === 0) return undefined;
    const served = await this.covering(size);
    const proof = served.checkpoint.size === size ? [] : this.options.tree().consistencyProof(size, served.checkpoint.size);
    return { text: formatWitnessedExtension({ fromSize: size, proof, note: served.note }), size: served.checkpoint.size };
  }

  private async leaderCovering(size: number, deadline: number): Promise<SignedCheckpoint> {
    for (;;) {
      if (this.served && this.served.checkpoint.size >= size) return this.served;
      if (!this.options.isLeader()) throw new ScribeError("not_leader", "this node stopped leading while making a checkpoint");
      await this.options.until(() => this.options.tree().size >= size && this.options.identity.origin !== undefined, deadline, `a checkpoint of size ${size}`);
      if (this.inflight) {
        await this.inflight.catch(() => undefined);
        continue;
      }
      return this.latestRound();
    }
  }

  private periodic(): void {
    const { isLeader, identity, tree } = this.options;
    if (!isLeader() || this.inflight || identity.origin === undefined) return;
    if (this.served && this.served.checkpoint.size >= tree().size) return;
    this.latestRound().catch(() => undefined);
  }

  /** A round at the leader's whole tree, served and handed to every member when it succeeds. */
  private latestRound(): Promise<SignedCheckpoint> {
    const run = (async () => {
      const signed = await this.round(this.options.tree().size, true);
      this.serve(signed);
      this.publish(signed.note);
      return signed;
    })();
    this.inflight = run;
    run.then(
      () => {
        if (this.lastRoundError) this.options.logger.info({ size: this.served?.checkpoint.size }, "checkpoint cosigning works again");
        this.lastRoundError = undefined;
      },
      (error: Error) => {
        // One warning per kind of failure, not one per interval.
        if (error.message !== this.lastRoundError) this.options.logger.warn({ err: error.message }, "checkpoint cosigning round failed");
        this.lastRoundError = error.message;
      },
    ).finally(() => {
      if (this.inflight === run) this.inflight = undefined;
    });
    return run;
  }

  /** One round: the body for `size`, the signature lines of a majority of voters, witnesses when `latest`. */
  private async round(size: number, latest = false): Promise<SignedCheckpoint> {
    const { identity, tree, signer } = this.options;
    const origin = identity.origin;
    if (origin === undefined) throw new ScribeError("unavailable", "the cluster's origin is not fixed yet");
    this.counters.rounds++;
    const honest: Checkpoint = { origin, size, rootHash: tree().rootAt(size) };
    const checkpoint = this.options.forkCheckpoints ? { ...honest, rootHash: forkedRoot(honest.rootHash) } : honest;
    const voters = this.options.voters();
    const need = requiredCount("majority", voters.length);
    const body = formatCheckpoint(checkpoint);
    const lines = await this.collect(voters, need, (id) => (id === this.options.selfId ? (this.options.forkCheckpoints ? signer.signUnchecked(checkpoint) : signer.sign(checkpoint, origin)) : this.remoteLine(id, body)));
    if (lines.length < need) {
      this.counters.rounds_failed++;
      throw new ScribeError("no_quorum", `the checkpoint of size ${size} has the signatures of ${lines.length} of ${voters.length} voters; ${need} are needed`);
    }
    let note = `${body}\n${lines.join("")}`;
    if (latest && this.options.witnesses) note = await this.options.witnesses.cosign(note, checkpoint);
    return { note, checkpoint };
  }

  /** Asks every voter at once; returns the lines (own first) once all answered, or a majority plus a short grace. */
  private collect(voters: readonly number[], need: number, lineOf: (id: number) => Promise<string>): Promise<string[]> {
    return new Promise((resolve) => {
      const lines = new Map<number, string>();
      let settled = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        resolve(voters.filter((id) => lines.has(id)).sort((a, b) => (a === this.options.selfId ? -1 : b === this.options.selfId ? 1 : a - b)).map((id) => lines.get(id)!));
      };
      if (voters.length === 0) finish();
      for (const id of voters) {
        lineOf(id).then(
          (line) => lines.set(id, line),
          (error: Error) => this.options.logger.debug({ node_id: id, err: error.message }, "a member did not sign the checkpoint"),
        ).finally(() => {
          settled++;
          if (settled === voters.length) finish();
          else if (lines.size >= need) setTimeout(finish, stragglerGraceMs);
        });
      }
    });
  }

  /** A member's signature line, checked against its registered key before it is used. */
  private async remoteLine(id: number, body: string): Promise<string> {
    const key = this.options.identity.keyOf(id);
    const client = this.options.clientOf(id);
    if (!key || !client) throw new ScribeError("unavailable", `member ${id} has no registered key or address`);
    const line = await requestCosignature(client, body, memberCallMsMax);
    const verifier = await this.verifierOf(key);
    const [signature] = splitNote(`${body}\n${line.endsWith("\n") ? line : `${line}\n`}`).signatures;
    if (!signature || signature.name !== verifier.name || !(await verifier.verify(utf8(body), signature.signature))) {
      throw new ScribeError("unavailable", `member ${id} answered a signature that does not verify with its registered key`);
    }
    return line.endsWith("\n") ? line : `${line}\n`;
  }

  private serve(signed: SignedCheckpoint): void {
    if (this.served && this.served.checkpoint.size > signed.checkpoint.size) return;
    this.served = signed;
    this.options.store.setMeta(servedMeta, signed.note);
  }

  private publish(note: string): void {
    for (const id of this.options.members()) {
      if (id === this.options.selfId) continue;
      const client = this.options.clientOf(id);
      if (!client) continue;
      this.counters.published++;
      publishCheckpoint(client, note, memberCallMsMax).catch((error: Error) => this.options.logger.debug({ node_id: id, err: error.message }, "could not hand the checkpoint to a member"));
    }
  }

  // ---- the member's side ------------------------------------------------------------------

  /** POST /cluster/cosign {body}: this member's signature line, after it has applied the size (bounded wait). */
  async cosign(body: string): Promise<string> {
    let checkpoint: Checkpoint;
    try {
      checkpoint = parseCheckpoint(body);
    } catch (error) {
      throw new ScribeError("invalid_request", `not a checkpoint body: ${(error as Error).message}`);
    }
    const origin = this.options.identity.origin;
    if (origin === undefined) throw new ScribeError("unavailable", "this member does not know the cluster's origin yet");
    await this.untilApplied(checkpoint.size, this.options.now() + applyWaitMsMax);
    return this.options.signer.sign(checkpoint, origin);
  }

  /** POST /cluster/cosign {latest}: a quorum checkpoint from the leader, served once checked. */
  async receive(note: string): Promise<SignedCheckpoint> {
    return this.adopt(note, this.options.now() + applyWaitMsMax);
  }

  /** Serves `note` after checking its quorum (this node's view of the voters' keys) and its root against this tree. */
  private async adopt(note: string, deadline: number): Promise<SignedCheckpoint> {
    const { identity, tree } = this.options;
    const members = await Promise.all(identity.keysOf(this.options.voters()).map(({ key }) => this.verifierOf(key)));
    const { checkpoint } = await verifyCheckpointPolicy(note, { members, membersRequired: requiredCount("majority", this.options.voters().length), origin: identity.origin }).catch((error: Error) => {
      throw new ScribeError("verification_failed", `the leader's checkpoint does not verify here: ${error.message}`);
    });
    if (this.served && this.served.checkpoint.size >= checkpoint.size && this.served.checkpoint.size > 0) return this.served;
    await this.untilApplied(checkpoint.size, deadline);
    // Checked by this member's own guard: the same root here, and consistent with what it signed.
    await this.options.signer.sign(checkpoint, checkpoint.origin);
    const signed = { note, checkpoint };
    this.counters.adopted++;
    this.serve(signed);
    return signed;
  }

  private async verifierOf(key: string): Promise<NoteVerifier> {
    let verifier = this.verifiers.get(key);
    if (!verifier) {
      verifier = await parseVerifierKey(key);
      if (this.verifiers.size >= verifierCacheMax) this.verifiers.clear();
      this.verifiers.set(key, verifier);
    }
    return verifier;
  }

  /** Waits (bounded) until this member's tree has `size` leaves; not_caught_up when it does not in time. */
  private async untilApplied(size: number, deadline: number): Promise<void> {
    const { tree } = this.options;
    await this.options.until(() => tree().size >= size, deadline, `size ${size} applied`).catch((error: unknown) => {
      if (isScribeError(error) && error.code === "timeout") throw new ScribeError("not_caught_up", `this member has applied ${tree().size} entries, not ${size}`);
      throw error;
    });
  }

  metrics(): Record<string, unknown> {
    return { ...this.counters, served_size: this.served?.checkpoint.size ?? null, witnesses: this.options.witnesses?.counters };
  }
}

/** The root a forking leader (test hook) puts in its bodies: the real one with its first bit flipped. */
function forkedRoot(root: Uint8Array): Uint8Array {
  const forked = root.slice();
  forked[0] = forked[0]! ^ 0x80;
  return forked;
}
