/**
 * @module node-signing. The node's checkpoints and signing keys, wired to the rest of the node:
 * the cluster's quorum checkpoints (cosigning.ts, with external witnesses from witnesses.ts), its
 * members' keys and the keys notes of each key-set epoch (key-registry.ts), both replicated through
 * identity entries (entry kind 3, identity.ts) this node proposes as leader. ClusterNode hands the
 * service's checkpoint, cosign and identity questions to it.
 */

import type { Config } from "../config/index.ts";
import { isScribeError, ScribeError } from "../lib/index.ts";
import type { SignedCheckpoint } from "../ledger/index.ts";
import type { RawNode } from "../raft/index.ts";
import type { AddressBook } from "./address-book.ts";
import { CheckpointService } from "./cosigning.ts";
import { identityEntryData } from "./entry-data.ts";
import { restoredOriginMeta, type ClusterIdentity, type IdentityChanges } from "./identity.ts";
import { KeyRegistry } from "./key-registry.ts";
import type { Leadership } from "./leadership.ts";
import type { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";
import type { Waiters } from "./waiters.ts";
import { WitnessSubmitter } from "./witnesses.ts";

export interface NodeSigningOptions {
  config: Config;
  logger: Logger;
  now: () => number;
  ledger: LedgerState;
  identity: ClusterIdentity;
  /** The Raft core: the membership, and the proposal of identity changes. */
  core: Pick<RawNode, "membership" | "propose">;
  addresses: AddressBook;
  leadership: Leadership;
  waiters: Waiters;
  /** Runs the Ready loop soon (after an identity proposal). */
  schedule: () => void;
  /** Test hook: as leader, ask for forked checkpoints (ClusterNodeOptions.testHooks). */
  forkCheckpoints: boolean;
}

export class NodeSigning {
  /** The cluster's quorum checkpoints (rounds on the leader, adoption on followers). */
  readonly checkpoints: CheckpointService;
  readonly keys: KeyRegistry;

  constructor(private readonly options: NodeSigningOptions) {
    const { config, logger, now, ledger, identity, core, addresses, leadership, waiters } = options;
    const ledgerTree = () => ledger.tree;
    const voters = () => core.membership().voters;
    const clientOf = (id: number) => addresses.of(id)?.client;
    const isLeader = () => leadership.isLeader();
    const leaderClient = () => (leadership.isLeader() ? undefined : leadership.leaderClient());
    const until = (ready: () => boolean, deadlineMs: number, what: string) => waiters.until(ready, deadlineMs, () => new ScribeError("timeout", `timed out waiting for ${what}`));
    this.checkpoints = new CheckpointService({
      selfId: config.node.id,
      signer: ledger.checkpoints,
      identity,
      tree: ledgerTree,
      store: ledger.store,
      voters,
      members: () => [...core.membership().voters, ...core.membership().learners],
      clientOf,
      isLeader,
      leaderClient,
      witnesses: config.witness.endpoints.length === 0 ? undefined : new WitnessSubmitter({ endpoints: config.witness.endpoints, keys: config.witness.keys, timeoutMs: config.witness.timeout_secs * 1000, tree: ledgerTree, logger }),
      logger,
      now,
      until,
      intervalMs: config.security.cosign_interval_ms,
      timeoutMs: config.api.write_timeout_secs * 1000,
      forkCheckpoints: options.forkCheckpoints,
    });
    this.keys = new KeyRegistry({
      selfId: config.node.id,
      signer: ledger.checkpoints,
      identity,
      configuredOrigin: config.security.checkpoint_origin,
      restoredOrigin: () => {
        const origin = ledger.store.meta(restoredOriginMeta);
        return typeof origin === "string" ? origin : undefined;
      },
      voters,
      clientOf,
      isLeader,
      leaderClient,
      propose: (changes) => this.proposeIdentity(changes),
      logger,
      now,
      until,
    });
  }

  /** Proposes an identity change (entry kind 3) and waits until it is applied. */
  private async proposeIdentity(changes: IdentityChanges): Promise<void> {
    const { leadership, core, config } = this.options;
    if (!leadership.isLeader()) throw leadership.notLeader();
    const result = core.propose([identityEntryData(changes)]);
    if (!result.ok) throw new ScribeError(result.reason === "not_leader" ? "not_leader" : "unavailable", `identity proposal refused: ${result.reason}`);
    this.options.schedule();
    await this.options.waiters.untilApplied(result.lastIndex, this.options.now() + config.api.write_timeout_secs * 1000, "the identity change");
  }

  /** A configured origin that differs from the cluster's fixed one is ignored: say so once. */
  warnAboutOrigin(): void {
    const configured = this.options.config.security.checkpoint_origin;
    const origin = this.options.identity.origin;
    if (configured !== "" && origin !== undefined && configured !== origin) {
      this.options.logger.warn({ configured, origin }, "security.checkpoint_origin differs from the cluster's origin, fixed when it was bootstrapped; the cluster's is used");
    }
  }

  /** A quorum checkpoint covering `size` leaves, or (failing that) the newest one this node has. */
  async checkpoint(size: number): Promise<SignedCheckpoint> {
    try {
      return await this.checkpoints.covering(size);
    } catch (error) {
      // An answer never claims more than the node knows: the newest quorum checkpoint it has.
      const served = this.checkpoints.latest();
      if (served && isScribeError(error)) return served;
      throw error;
    }
  }

  /** The checkpoint keys of the current voters. */
  checkpointKeys(): string[] {
    return this.options.identity.keysOf(this.options.core.membership().voters).map((k) => k.key);
  }

  keyHistory(): { origin: string | null; epochs: readonly string[] } {
    return { origin: this.options.identity.origin ?? null, epochs: this.options.identity.epochs };
  }

  /** POST /cluster/cosign: a checkpoint body or a keys note to sign, or a quorum checkpoint to adopt. */
  async cosign(request: { body?: string; keys_body?: string; latest?: string }): Promise<Record<string, unknown>> {
    if (request.body !== undefined) return { signature: await this.checkpoints.cosign(request.body) };
    if (request.keys_body !== undefined) return { signature: await this.keys.signKeysBody(request.keys_body) };
    if (request.latest !== undefined) return { size: (await this.checkpoints.receive(request.latest)).checkpoint.size };
    throw new ScribeError("invalid_request", "give body, keys_body or latest");
  }

  /** "checkpoints" in /metrics. */
  metrics(): Record<string, unknown> {
    const identity = this.options.identity;
    return { origin: identity.origin ?? null, voter_keys: this.checkpointKeys().length, key_epochs: identity.epochs.length, ...this.checkpoints.metrics() };
  }
}
