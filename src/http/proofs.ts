/**
 * @module proofs. The handlers of the verifiable-ledger routes: /verify/*, /proof/inclusion,
 * /proof/consistency, /checkpoint. Proofs come from the node's Merkle tree (O(log n) stored
 * hashes each); JSON shapes are those of src/ledger/json.ts, so clients parse what servers write.
 */

import { consistencyProofToJson, encodeEntry, entryToJson, inclusionProofToJson, keyProofToJson, valueMismatch, type ConsistencyProofJson, type LedgerService } from "../ledger/index.ts";
import { bytesEqual, isScribeError, ScribeError, toHex } from "../lib/index.ts";
import { verifyInclusion } from "../merkle/index.ts";
import { parseConsistency, parseNonNegative } from "./parse.ts";

type Query = Record<string, string | undefined>;

/** Reads an optional non-negative integer query parameter (400 invalid_range when malformed). */
function optionalIndex(query: Query, name: string): number | undefined {
  const text = query[name];
  return text === undefined ? undefined : parseNonNegative(text, name, "invalid_range");
}

function requiredIndex(query: Query, name: string): number {
  const value = optionalIndex(query, name);
  if (value === undefined) throw new ScribeError("invalid_range", `the query parameter ${name} is required`);
  return value;
}

/**
 * GET /verify/*: the key's entry (latest, or `?version=N`; after the read barrier of
 * `?consistency=`), an inclusion proof against the latest signed checkpoint, and the server's own
 * verdict. Clients should verify on their own.
 */
export async function verifyKey(service: LedgerService, key: string, query: Query): Promise<Record<string, unknown>> {
  const version = query.version === undefined ? undefined : parseNonNegative(query.version, "version", "invalid_version");
  if (version === 0) throw new ScribeError("invalid_version", "version must be 1 or more, got 0");
  // As GET /kv: by default the entry of a write acknowledged anywhere before this request began.
  await service.readBarrier(parseConsistency(query.consistency));
  const entry = service.entryOf(key, version);
  // A quorum checkpoint that covers the entry (a cosigning round when the newest does not yet).
  const { note, checkpoint } = await service.checkpointCovering(entry.index + 1);
  const tree = service.tree;
  const leafHash = tree.hasher.hashLeaf(encodeEntry(entry));
  const siblings = tree.inclusionProof(entry.index, checkpoint.size);
  const problems: string[] = [];
  if (!bytesEqual(tree.leafHash(entry.index), leafHash)) problems.push(`entry ${entry.index} does not match its leaf in the tree`);
  if (entry.op === "put") {
    let value: Uint8Array | undefined;
    try {
      value = await service.valueAt(entry);
    } catch (error) {
      const corrupt = isScribeError(error) && (error.code === "corrupt_value" || error.code === "corrupt_entry");
      problems.push(corrupt ? error.message : `the value of entry ${entry.index} cannot be read: ${(error as Error).message}`);
    }
    if (value && valueMismatch(entry, value, tree.hasher)) problems.push(`the stored value of entry ${entry.index} does not match its value hash`);
  }
  try {
    verifyInclusion(tree.hasher, entry.index, checkpoint.size, leafHash, siblings, checkpoint.rootHash);
  } catch (error) {
    problems.push(`inclusion proof of entry ${entry.index} fails against the checkpoint: ${(error as Error).message}`);
  }
  return {
    key,
    verified: problems.length === 0,
    proof: keyProofToJson({ leafIndex: entry.index, treeSize: checkpoint.size, rootHash: checkpoint.rootHash, siblings, leafHash }),
    entry: { ...entryToJson(entry), version: entry.version },
    checkpoint: note,
    error: problems.length === 0 ? null : problems.join("; "),
  };
}

/**
 * Refuses a tree size beyond the ledger, after making sure this node is not merely behind: a size
 * beyond its own tree (a checkpoint another member served, not applied here yet) first passes the
 * linearizable read barrier, which waits until this node has applied what the cluster committed.
 */
async function coverSize(service: LedgerService, size: number, name: string): Promise<void> {
  if (size <= service.tree.size) return;
  await service.readBarrier("linearizable");
  const current = service.tree.size;
  if (size > current) throw new ScribeError("invalid_range", `${name}${name === "to" ? "=" : " "}${size} is beyond the tree's size ${current}`);
}

/** The size of the newest quorum checkpoint served (made now when there is none yet). */
async function servedSize(service: LedgerService): Promise<number> {
  return (service.latestCheckpoint() ?? (await service.checkpoint())).checkpoint.size;
}

/** GET /proof/inclusion?index=&tree_size= (tree_size defaults to the latest checkpoint's). */
export async function inclusionProof(service: LedgerService, query: Query): Promise<Record<string, unknown>> {
  const index = requiredIndex(query, "index");
  const size = optionalIndex(query, "tree_size") ?? (await servedSize(service));
  await coverSize(service, size, "tree_size");
  if (index >= size) throw new ScribeError("invalid_range", `index ${index} is not below tree_size ${size}`);
  const tree = service.tree;
  const json = inclusionProofToJson({ leafIndex: index, treeSize: size, rootHash: tree.rootAt(size), siblings: tree.inclusionProof(index, size) });
  return { ...json, leaf_hash: toHex(tree.leafHash(index)) };
}

/** GET /proof/consistency?from=&to= (to defaults to the latest checkpoint's size). */
export async function consistencyProof(service: LedgerService, query: Query): Promise<ConsistencyProofJson> {
  const from = requiredIndex(query, "from");
  const to = optionalIndex(query, "to") ?? (await servedSize(service));
  await coverSize(service, to, "to");
  if (from > to) throw new ScribeError("invalid_range", `from=${from} is beyond to=${to}`);
  const tree = service.tree;
  return consistencyProofToJson({ from, to, fromRoot: tree.rootAt(from), toRoot: tree.rootAt(to), proof: tree.consistencyProof(from, to) });
}
