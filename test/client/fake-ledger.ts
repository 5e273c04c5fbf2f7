/**
 * @module fake-ledger. A tiny in-memory ledger that answers with the HTTP JSON shapes of
 * /verify/:key, /proof/inclusion and /proof/consistency, so client tests need no server.
 */

import { encodeEntry, type Entry } from "../../src/ledger/entry.ts";
import { utf8 } from "../../src/lib/index.ts";
import { MemoryTreeStore, MerkleTree, signCheckpoint, type NoteSigner } from "../../src/merkle/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";
import {
  consistencyProofToJson,
  entryToJson,
  inclusionProofToJson,
  keyProofToJson,
  type ConsistencyProofJson,
  type VerifyResponseJson,
} from "../../src/client/index.ts";

export const origin = "scribe.test/ledger";

export class FakeLedger {
  readonly hasher = createNativeHasher();
  readonly tree = MerkleTree.open({ hasher: this.hasher, store: new MemoryTreeStore() });
  readonly entries: Entry[] = [];
  readonly values: Uint8Array[] = [];
  private readonly latest = new Map<string, number>();

  constructor(readonly signer: NoteSigner) {}

  put(key: string, value: string | Uint8Array, op: "put" | "delete" = "put"): Entry {
    const bytes = op === "delete" ? new Uint8Array(0) : typeof value === "string" ? utf8(value) : value;
    const entry: Entry = {
      index: this.entries.length,
      op,
      key,
      valueHash: this.hasher.digest(bytes),
      valueBytes: bytes.length,
      contentType: op === "delete" ? "" : "text/plain",
      timestampMs: 1_750_000_000_000 + this.entries.length,
      prevIndex: this.latest.get(key) ?? -1,
    };
    this.entries.push(entry);
    this.values.push(bytes);
    this.latest.set(key, entry.index);
    this.tree.appendLeaves([encodeEntry(entry)]);
    return entry;
  }

  checkpoint(size = this.tree.size): Promise<string> {
    return signCheckpoint({ origin, size, rootHash: this.tree.rootAt(size) }, this.signer);
  }

  async verify(key: string, size = this.tree.size): Promise<VerifyResponseJson> {
    const index = this.latest.get(key)!;
    const entry = this.entries[index]!;
    return {
      key,
      verified: true,
      proof: keyProofToJson({
        leafIndex: index,
        treeSize: size,
        rootHash: this.tree.rootAt(size),
        siblings: this.tree.inclusionProof(index, size),
        leafHash: this.tree.leafHash(index),
      }),
      entry: entryToJson(entry),
      checkpoint: await this.checkpoint(size),
      error: null,
    };
  }

  inclusion(index: number, size: number) {
    return inclusionProofToJson({ leafIndex: index, treeSize: size, rootHash: this.tree.rootAt(size), siblings: this.tree.inclusionProof(index, size) });
  }

  consistency = async (from: number, to: number): Promise<ConsistencyProofJson> =>
    consistencyProofToJson({ from, to, fromRoot: this.tree.rootAt(from), toRoot: this.tree.rootAt(to), proof: this.tree.consistencyProof(from, to) });

  history(key: string): Entry[] {
    return this.entries.filter((entry) => entry.key === key);
  }
}
