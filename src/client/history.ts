/**
 * @module client/history. A key's versions form a chain through prevIndex: each version names
 * the index of the one before, and the first names -1. A complete, gap-free chain ending at a
 * verified latest entry proves a history omits nothing (each link is inside a hashed leaf).
 */

import { inclusionProofFromJson, type Entry } from "../ledger/index.ts";
import { VerificationError, type Checkpoint, type Hasher } from "../merkle/index.ts";
import { loadHasher } from "../crypto/index.ts";
import { leafHashOfEntry, verifyInclusionInCheckpoint } from "./verify.ts";

export interface VersionChainOptions {
  /** The key every version must have. Defaults to the first version's key. */
  key?: string;
  /** A verified latest entry (e.g. from verifyKeyResponse): the chain must end exactly at it. */
  latest?: Entry;
}

/**
 * Checks a key's versions, oldest first: same key; the first has prevIndex -1; each next one's
 * prevIndex is the previous one's index. Returns the number of versions; throws otherwise.
 */
export function verifyVersionChain(versions: readonly Entry[], options: VersionChainOptions = {}): number {
  if (versions.length === 0) {
    if (options.latest) throw new VerificationError(`history is empty but the key's latest entry is ${options.latest.index}`);
    return 0;
  }
  const key = options.key ?? versions[0]!.key;
  let previous: Entry | undefined;
  for (const [position, version] of versions.entries()) {
    if (version.key !== key) throw new VerificationError(`version ${position + 1} (index ${version.index}) is for key ${JSON.stringify(version.key)}, not ${JSON.stringify(key)}`);
    const wantedPrev = previous ? previous.index : -1;
    if (version.prevIndex !== wantedPrev) {
      throw new VerificationError(
        previous
          ? `version ${position + 1} (index ${version.index}) links to ${version.prevIndex}, but the previous version is at ${previous.index}: the history omits or reorders versions`
          : `the first version (index ${version.index}) links to ${version.prevIndex}, not -1: older versions are missing`,
      );
    }
    previous = version;
  }
  const last = versions[versions.length - 1]!;
  if (options.latest && (options.latest.index !== last.index || options.latest.key !== key)) {
    throw new VerificationError(`history ends at index ${last.index}, but the verified latest entry is at ${options.latest.index}: newer versions are missing`);
  }
  return versions.length;
}

export interface HistoryOptions extends VersionChainOptions {
  /** A verified checkpoint every version must be included in. */
  checkpoint: Checkpoint;
  /** Fetches GET /proof/inclusion?index=&tree_size= (parsed JSON). */
  fetchInclusion: (index: number, treeSize: number) => Promise<unknown>;
  hasher?: Hasher;
}

/**
 * Verifies a key's history against a verified checkpoint: the version chain (verifyVersionChain)
 * and, for every version, an inclusion proof of its leaf in the checkpoint's tree. Together with a
 * verified latest entry this proves the history is complete and untampered. Returns the count.
 */
export async function verifyHistory(versions: readonly Entry[], options: HistoryOptions): Promise<number> {
  const count = verifyVersionChain(versions, options);
  const hasher = options.hasher ?? (await loadHasher());
  for (const version of versions) {
    if (version.index >= options.checkpoint.size) {
      throw new VerificationError(`version at index ${version.index} is beyond the checkpoint's tree size ${options.checkpoint.size}`);
    }
    const proof = inclusionProofFromJson(await options.fetchInclusion(version.index, options.checkpoint.size));
    if (proof.leafIndex !== version.index) throw new VerificationError(`asked for a proof of leaf ${version.index}, got leaf ${proof.leafIndex}`);
    verifyInclusionInCheckpoint(proof, leafHashOfEntry(version, hasher), options.checkpoint, hasher);
  }
  return count;
}
