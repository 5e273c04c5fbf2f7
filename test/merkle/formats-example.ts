/**
 * @module formats-example. Computes the worked example of docs/FORMATS.md with the project's
 * own code; formats.test.ts checks that every value printed in the document is still true.
 * Run `bun test/merkle/formats-example.ts` to print the values.
 */

import { encodeEntry, type Entry } from "../../src/ledger/entry.ts";
import { toBase64, toHex, utf8 } from "../../src/lib/index.ts";
import { entryToJson, inclusionProofToJson, consistencyProofToJson } from "../../src/client/index.ts";
import {
  encodeEntryBundle,
  formatCheckpoint,
  formatVerifierKey,
  MemoryTreeStore,
  MerkleTree,
  nodeRunReader,
  readHashTile,
  signNote,
} from "../../src/merkle/index.ts";
import { createNativeHasher, signerFromSeed } from "../../src/crypto/index.ts";

export const exampleSeed = Uint8Array.from({ length: 32 }, (_, i) => i);
export const exampleKeyName = "scribe.example";
export const exampleOrigin = "scribe.example/ledger";

export async function computeFormatsExample(): Promise<Record<string, string>> {
  const hasher = createNativeHasher();
  const hello = utf8("hello");
  const world = utf8("hello, world");
  const entries: Entry[] = [
    { index: 0, op: "put", key: "greeting", valueHash: hasher.digest(hello), valueBytes: hello.length, contentType: "text/plain", timestampMs: 1764000000000, prevIndex: -1 },
    { index: 1, op: "put", key: "greeting", valueHash: hasher.digest(world), valueBytes: world.length, contentType: "text/plain", timestampMs: 1764000000500, prevIndex: 0 },
    { index: 2, op: "delete", key: "greeting", valueHash: hasher.digest(new Uint8Array(0)), valueBytes: 0, contentType: "", timestampMs: 1764000001000, prevIndex: 1 },
  ];
  const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
  tree.appendLeaves(entries.map(encodeEntry));
  const signer = await signerFromSeed(exampleKeyName, exampleSeed);
  const body = formatCheckpoint({ origin: exampleOrigin, size: 3, rootHash: tree.root() });
  const note = await signNote(body, signer);
  const values: Record<string, string> = {
    "entry0.value_hash": toHex(entries[0]!.valueHash),
    "entry0.encoding": toHex(encodeEntry(entries[0]!)),
    "leaf0": toHex(tree.leafHash(0)),
    "leaf1": toHex(tree.leafHash(1)),
    "leaf2": toHex(tree.leafHash(2)),
    "node(level 1, index 0)": toHex(hasher.hashChildren(tree.leafHash(0), tree.leafHash(1))),
    "root(2)": toHex(tree.rootAt(2)),
    "root(3)": toHex(tree.root()),
    "root(3) base64": toBase64(tree.root()),
    "inclusion(1, 3)": tree.inclusionProof(1, 3).map(toHex).join(", "),
    "consistency(2, 3)": tree.consistencyProof(2, 3).map(toHex).join(", "),
    "verifier key": formatVerifierKey(signer),
    "signature line": note.trimEnd().split("\n").at(-1)!,
    "entry0 JSON": JSON.stringify(entryToJson(entries[0]!)),
    "inclusion JSON": JSON.stringify(inclusionProofToJson({ leafIndex: 1, treeSize: 3, rootHash: tree.root(), siblings: tree.inclusionProof(1, 3) })),
    "consistency JSON": JSON.stringify(consistencyProofToJson({ from: 2, to: 3, fromRoot: tree.rootAt(2), toRoot: tree.root(), proof: tree.consistencyProof(2, 3) })),
    "tile/0/000.p/3": toHex(readHashTile(nodeRunReader(tree.store), { level: 0, index: 0, width: 3 })!),
    "tile/entries/000.p/3": toHex(encodeEntryBundle(entries.map(encodeEntry))),
  };
  return values;
}

if (import.meta.main) {
  for (const [name, value] of Object.entries(await computeFormatsExample())) console.log(`${name} = ${value}`);
}
