import { describe, expect, test } from "bun:test";
import { toHex, utf8 } from "../../src/lib/index.ts";
import {
  entryFromJson,
  entryToJson,
  loadHasher,
  MemoryPersistence,
  parseVerifierKey,
  TrustedState,
  VerificationError,
  verifyEntryLeaf,
  verifyInclusionInCheckpoint,
  verifyKeyResponse,
  verifyNote,
  verifyValue,
  verifyVersionChain,
  verifyHistory,
  consistencyProofFromJson,
  inclusionProofFromJson,
} from "../../src/client/index.ts";
import { generateSigner } from "../../src/crypto/index.ts";
import { FakeLedger, origin } from "./fake-ledger.ts";

const { signer, verifierKey } = await generateSigner("scribe-test");
const verifier = await parseVerifierKey(verifierKey);
const verifiers = [verifier];

function ledgerWith(count: number, fork = ""): FakeLedger {
  const ledger = new FakeLedger(signer);
  for (let i = 0; i < count; i++) ledger.put(`key-${i % 7}`, `value ${i}${fork}`);
  return ledger;
}

describe("entry JSON", () => {
  test("round-trips and uses lowercase hex and snake_case", () => {
    const ledger = ledgerWith(3);
    const json = entryToJson(ledger.entries[2]!);
    expect(Object.keys(json)).toEqual(["index", "op", "key", "value_hash", "value_bytes", "content_type", "timestamp_ms", "prev_index"]);
    expect(json.value_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(entryFromJson(JSON.parse(JSON.stringify(json)))).toEqual(ledger.entries[2]!);
  });

  test("rejects malformed entries with the field's path", () => {
    const good = entryToJson(ledgerWith(1).entries[0]!);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, value_hash: good.value_hash.toUpperCase() }, "entry.value_hash"],
      [{ ...good, value_hash: good.value_hash.slice(2) }, "entry.value_hash"],
      [{ ...good, op: "patch" }, "entry.op"],
      [{ ...good, op: "delete" }, "entry.value_bytes"],
      [{ ...good, prev_index: 0 }, "entry.prev_index"],
      [{ ...good, index: -1 }, "entry.index"],
      [{ ...good, key: "" }, "entry.key"],
      [{ ...good, timestamp_ms: "now" }, "entry.timestamp_ms"],
    ];
    for (const [json, path] of cases) expect(() => entryFromJson(json)).toThrow(path);
  });

  test("proof JSON parsing is strict", () => {
    expect(() => inclusionProofFromJson({ leaf_index: 3, tree_size: 3, root_hash: "00".repeat(32), siblings: [] })).toThrow("leaf_index");
    expect(() => inclusionProofFromJson({ leaf_index: 0, tree_size: 3, root_hash: "00".repeat(32), siblings: ["zz"] })).toThrow("siblings[0]");
    expect(() => consistencyProofFromJson({ from: 5, to: 3, from_root: "00".repeat(32), to_root: "00".repeat(32), proof: [] })).toThrow("consistency.to");
  });
});

describe("value, entry and leaf", () => {
  test("a value matches its entry; a changed value or size does not", async () => {
    const hasher = await loadHasher();
    const ledger = ledgerWith(1);
    const entry = ledger.entries[0]!;
    verifyValue(utf8("value 0"), entry, hasher);
    expect(() => verifyValue(utf8("value 1"), entry, hasher)).toThrow("value hashes to");
    expect(() => verifyValue(utf8("value 00"), entry, hasher)).toThrow("bytes");
    const tombstone = ledger.put("key-0", "", "delete");
    verifyValue(new Uint8Array(0), tombstone, hasher);
    expect(() => verifyValue(utf8("x"), tombstone, hasher)).toThrow("is a delete");
  });

  test("an entry matches its leaf hash; any changed field does not", async () => {
    const hasher = await loadHasher();
    const ledger = ledgerWith(9);
    const entry = ledger.entries[8]!;
    const leaf = ledger.tree.leafHash(8);
    verifyEntryLeaf(entry, leaf, hasher);
    for (const changed of [{ ...entry, timestampMs: entry.timestampMs + 1 }, { ...entry, contentType: "text/html" }, { ...entry, prevIndex: -1 }, { ...entry, key: "key-0" }]) {
      expect(() => verifyEntryLeaf(changed, leaf, hasher)).toThrow(VerificationError);
    }
  });

  test("an inclusion proof must be for the checkpoint's size and root", async () => {
    const hasher = await loadHasher();
    const ledger = ledgerWith(20);
    const checkpoint = await verifyNote(await ledger.checkpoint(), verifiers);
    verifyInclusionInCheckpoint(ledger.inclusion(13, 20), ledger.tree.leafHash(13), checkpoint, hasher);
    expect(() => verifyInclusionInCheckpoint(ledger.inclusion(13, 19), ledger.tree.leafHash(13), checkpoint, hasher)).toThrow("tree size 19");
    expect(() => verifyInclusionInCheckpoint(ledger.inclusion(13, 20), ledger.tree.leafHash(12), checkpoint, hasher)).toThrow("inclusion proof leads to root");
  });
});

describe("GET /verify/:key responses", () => {
  test("a genuine response verifies end to end, with the value", async () => {
    const ledger = ledgerWith(50);
    const response = JSON.parse(JSON.stringify(await ledger.verify("key-3")));
    const result = await verifyKeyResponse(response, { verifiers, origin, key: "key-3", value: utf8("value 45") });
    expect(result.entry.index).toBe(45);
    expect(result.checkpoint.size).toBe(50);
    expect(toHex(result.leafHash)).toBe(toHex(ledger.tree.leafHash(45)));
  });

  test("a lying server is caught, whatever its `verified` flag says", async () => {
    const ledger = ledgerWith(50);
    const genuine = await ledger.verify("key-3");
    const other = (await generateSigner("scribe-test")).signer;
    const forged = new FakeLedger(other);
    for (let i = 0; i < 50; i++) forged.put(`key-${i % 7}`, `value ${i}`);
    const tamper: [string, unknown][] = [
      ["value hash", { ...genuine, entry: { ...genuine.entry, value_hash: "ab".repeat(32) } }],
      ["timestamp", { ...genuine, entry: { ...genuine.entry, timestamp_ms: 1 } }],
      ["leaf index", { ...genuine, proof: { ...genuine.proof, leaf_index: 44 } }],
      ["sibling", { ...genuine, proof: { ...genuine.proof, siblings: [genuine.proof.siblings[1], genuine.proof.siblings[0], ...genuine.proof.siblings.slice(2)] } }],
      ["root", { ...genuine, proof: { ...genuine.proof, root_hash: "00".repeat(32) } }],
      ["key", { ...genuine, key: "key-4" }],
      ["older checkpoint", { ...genuine, checkpoint: await ledger.checkpoint(49) }],
      ["unknown signer", await forged.verify("key-3")],
      ["no checkpoint", { ...genuine, checkpoint: null }],
    ];
    for (const [what, response] of tamper) {
      await expect(verifyKeyResponse(response, { verifiers, origin }), what).rejects.toThrow();
    }
    await expect(verifyKeyResponse(genuine, { verifiers, origin, value: utf8("value 46") })).rejects.toThrow("value hashes to");
    await expect(verifyKeyResponse(genuine, { verifiers, origin: "elsewhere" })).rejects.toThrow("origin");
    const notFound = { key: "nope", verified: false, proof: null, entry: null, checkpoint: null, error: "key not found" };
    await expect(verifyKeyResponse(notFound, { verifiers })).rejects.toThrow("server could not prove key \"nope\": key not found");
  });
});

describe("TrustedState", () => {
  test("trusts the first checkpoint, then moves forward only with consistency proofs", async () => {
    const ledger = ledgerWith(10);
    const persistence = new MemoryPersistence();
    const state = new TrustedState({ verifiers, origin, persistence });
    expect(await state.current()).toBeUndefined();
    await state.update(await ledger.checkpoint(), ledger.consistency);
    expect((await state.current())!.size).toBe(10);
    for (let i = 10; i < 37; i++) ledger.put(`k${i}`, "v");
    let asked: [number, number] | undefined;
    await state.update(await ledger.checkpoint(), (from, to) => {
      asked = [from, to];
      return ledger.consistency(from, to);
    });
    expect(asked).toEqual([10, 37]);
    expect((await state.current())!.size).toBe(37);
    expect(persistence.load()).toBe(await ledger.checkpoint(37));

    // An older checkpoint is checked as a prefix but does not roll trust back.
    const older = await state.update(await ledger.checkpoint(20), ledger.consistency);
    expect(older.size).toBe(20);
    expect((await state.current())!.size).toBe(37);

    // A new instance over the same persistence resumes from the saved checkpoint.
    const resumed = new TrustedState({ verifiers, origin, persistence });
    expect((await resumed.current())!.size).toBe(37);
  });

  test("a forked log is rejected, and trust stays where it was", async () => {
    const honest = ledgerWith(30);
    const rewritten = ledgerWith(30, " rewritten");
    const state = new TrustedState({ verifiers, origin });
    await state.update(await honest.checkpoint(), honest.consistency);
    for (let i = 0; i < 5; i++) rewritten.put(`extra-${i}`, "x");
    // The rewritten log signs a bigger checkpoint, but cannot prove it extends what we trust.
    await expect(state.update(await rewritten.checkpoint(), rewritten.consistency)).rejects.toThrow(VerificationError);
    await expect(state.update(await rewritten.checkpoint(30), rewritten.consistency)).rejects.toThrow("fork");
    // A proof for other sizes than asked is refused.
    honest.put("more", "x");
    await expect(state.update(await honest.checkpoint(), (from) => honest.consistency(from, from))).rejects.toThrow("asked for consistency");
    expect((await state.current())!.size).toBe(30);
    await state.update(await honest.checkpoint(), honest.consistency);
    expect((await state.current())!.size).toBe(31);
  });

  test("concurrent updates are applied one at a time", async () => {
    const ledger = ledgerWith(5);
    const state = new TrustedState({ verifiers, origin });
    const notes: string[] = [];
    for (let i = 0; i < 6; i++) {
      notes.push(await ledger.checkpoint());
      ledger.put(`c${i}`, "v");
    }
    const results = await Promise.all(notes.map((note) => state.update(note, ledger.consistency)));
    expect(results.map((c) => c.size)).toEqual([5, 6, 7, 8, 9, 10]);
    expect((await state.current())!.size).toBe(10);
  });
});

describe("version chains", () => {
  const ledger = ledgerWith(40);
  const history = ledger.history("key-2");
  const latest = history[history.length - 1]!;

  test("a complete history verifies and counts versions", () => {
    expect(verifyVersionChain(history, { key: "key-2", latest })).toBe(history.length);
    expect(history.length).toBe(6);
    expect(verifyVersionChain([])).toBe(0);
  });

  test("an omitted, reordered, foreign or truncated version is detected", () => {
    expect(() => verifyVersionChain([history[0]!, ...history.slice(2)])).toThrow("omits or reorders");
    expect(() => verifyVersionChain(history.slice(1))).toThrow("older versions are missing");
    expect(() => verifyVersionChain([history[1]!, history[0]!, ...history.slice(2)])).toThrow();
    expect(() => verifyVersionChain(history.slice(0, -1), { latest })).toThrow("newer versions are missing");
    expect(() => verifyVersionChain([...history, ledger.entries[3]!])).toThrow("key-3");
    expect(() => verifyVersionChain([], { latest })).toThrow("empty");
  });

  test("verifyHistory also proves every version is in the checkpoint's tree", async () => {
    const checkpoint = await verifyNote(await ledger.checkpoint(), verifiers);
    const fetchInclusion = async (index: number, size: number) => ledger.inclusion(index, size);
    expect(await verifyHistory(history, { checkpoint, fetchInclusion, latest })).toBe(6);
    const altered = history.map((entry, i) => (i === 2 ? { ...entry, timestampMs: entry.timestampMs + 1 } : entry));
    await expect(verifyHistory(altered, { checkpoint, fetchInclusion, latest })).rejects.toThrow("inclusion proof leads to root");
    await expect(verifyHistory(history, { checkpoint, fetchInclusion: async (index, size) => ledger.inclusion(index === 2 ? 3 : index, size), latest })).rejects.toThrow("asked for a proof of leaf 2, got leaf 3");
    const smaller = await verifyNote(await ledger.checkpoint(30), verifiers);
    await expect(verifyHistory(history, { checkpoint: smaller, fetchInclusion })).rejects.toThrow("beyond the checkpoint");
  });
});
