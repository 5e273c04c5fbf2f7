/**
 * Trust policies over signed checkpoints and the keys notes of a cluster (src/merkle/policy.ts):
 * thresholds, member and witness signatures counted as a client must count them, and key
 * histories followed from a trusted epoch through forged, shrunk and broken chains.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { cosignLine, cosignatureVerifierFromPublicKey, generateSigner, parseVerifierKey } from "../../src/crypto/index.ts";
import {
  followKeyHistory,
  formatCheckpoint,
  formatKeysBody,
  keysNoteHeader,
  parseKeysBody,
  parseThreshold,
  requiredCount,
  sameKeys,
  signNote,
  splitNote,
  VerificationError,
  verifyCheckpointPolicy,
  verifyNotePolicy,
  type CosignatureVerifier,
  type NoteSigner,
  type NoteVerifier,
} from "../../src/merkle/index.ts";

const origin = "example.test/log";
const body = formatCheckpoint({ origin, size: 7, rootHash: new Uint8Array(32).fill(7) });
const otherBody = formatCheckpoint({ origin, size: 8, rootHash: new Uint8Array(32).fill(8) });

interface Member {
  signer: NoteSigner;
  key: string;
  verifier: NoteVerifier;
}

async function member(name: string): Promise<Member> {
  const { signer, verifierKey } = await generateSigner(name);
  return { signer, key: verifierKey, verifier: await parseVerifierKey(verifierKey) };
}

/** The signature lines of `signers` over `text` (each signs on its own, in order). */
async function lines(text: string, signers: readonly NoteSigner[]): Promise<string> {
  const parts = await Promise.all(signers.map(async (s) => (await signNote(text, s)).slice(text.length + 1)));
  return parts.join("");
}

async function note(text: string, signers: readonly NoteSigner[], extra = ""): Promise<string> {
  return `${text}\n${await lines(text, signers)}${extra}`;
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerificationError);
  return (error as Error).message;
}

let a: Member, b: Member, c: Member, d: Member, e: Member, f: Member, g: Member;
let w1: { signer: NoteSigner; verifier: CosignatureVerifier };
let w2: { signer: NoteSigner; verifier: CosignatureVerifier };

beforeAll(async () => {
  [a, b, c, d, e, f, g] = await Promise.all(["a", "b", "c", "d", "e", "f", "g"].map((n) => member(`node-${n}.example.test`)));
  const witness = async (name: string) => {
    const { signer } = await generateSigner(name);
    return { signer, verifier: await cosignatureVerifierFromPublicKey(name, signer.publicKey) };
  };
  [w1, w2] = await Promise.all([witness("witness.test/w1"), witness("witness.test/w2")]);
});

describe("thresholds", () => {
  test("a majority is more than half; all is every key; a count is itself", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => requiredCount("majority", n))).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(requiredCount("all", 5)).toBe(5);
    expect(requiredCount(2, 5)).toBe(2);
    expect(requiredCount("majority", 0)).toBe(1);
  });

  test("parses majority, all and counts 1..9999; nothing else", () => {
    expect(parseThreshold("majority")).toBe("majority");
    expect(parseThreshold("all")).toBe("all");
    expect(parseThreshold("1")).toBe(1);
    expect(parseThreshold("9999")).toBe(9999);
    for (const bad of ["0", "01", "-1", "1.5", "10000", "", " 2", "2 ", "Majority", "ALL", "1e2", "0x2"]) expect(parseThreshold(bad), bad).toBeUndefined();
  });
});

describe("member signatures", () => {
  test("a majority of the listed keys passes and names who signed; fewer fail, naming the count", async () => {
    const members = [a.verifier, b.verifier, c.verifier];
    const verdict = await verifyCheckpointPolicy(await note(body, [a.signer, b.signer]), { members });
    expect(verdict.members.sort()).toEqual([a.key, b.key].sort());
    expect(verdict.checkpoint.size).toBe(7);
    expect(verdict.body).toBe(body);
    expect(await rejection(verifyNotePolicy(await note(body, [a.signer]), { members }))).toContain("verified signatures of 1 of the 3 trusted member keys; the policy wants 2");
  });

  test("all, and a count, are thresholds over the same list", async () => {
    const members = [a.verifier, b.verifier, c.verifier];
    const two = await note(body, [a.signer, c.signer]);
    expect(await rejection(verifyNotePolicy(two, { members, membersRequired: "all" }))).toContain("the policy wants 3");
    await verifyNotePolicy(await note(body, [a.signer, b.signer, c.signer]), { members, membersRequired: "all" });
    await verifyNotePolicy(await note(body, [c.signer]), { members, membersRequired: 1 });
    expect(await rejection(verifyNotePolicy(two, { members, membersRequired: 4 }))).toContain("the policy wants 4");
  });

  test("several lines by one key count once", async () => {
    const members = [a.verifier, b.verifier, c.verifier];
    const twice = `${body}\n${await lines(body, [a.signer])}${await lines(body, [a.signer])}`;
    expect(splitNote(twice).signatures.length).toBe(2);
    expect(await rejection(verifyNotePolicy(twice, { members }))).toContain("1 of the 3");
    // A key listed twice is still one key: its one signature is not two of them.
    expect(await rejection(verifyNotePolicy(await note(body, [a.signer]), { members: [a.verifier, a.verifier, b.verifier] }))).toContain("1 of the 3");
  });

  test("lines by keys not on the list are ignored, also one with a listed name but another key", async () => {
    const members = [a.verifier, b.verifier, c.verifier];
    const verdict = await verifyNotePolicy(await note(body, [d.signer, a.signer, e.signer, b.signer]), { members });
    expect(verdict.members.length).toBe(2);
    const impostor = (await generateSigner("node-a.example.test")).signer;
    expect(await rejection(verifyNotePolicy(await note(body, [impostor, b.signer]), { members }))).toContain("1 of the 3");
    expect(await rejection(verifyNotePolicy(await note(body, [d.signer, e.signer]), { members }))).toContain("no signature by a known key");
  });

  test("a line by a listed key over another body fails the note, whatever else signed it", async () => {
    const members = [a.verifier, b.verifier, c.verifier];
    const foreign = await lines(otherBody, [a.signer]);
    const spliced = `${body}\n${await lines(body, [b.signer, c.signer])}${foreign}`;
    expect(await rejection(verifyNotePolicy(spliced, { members }))).toContain(`invalid signature by member key ${a.signer.name}`);
  });

  test("a policy that asks for no member signature is refused", async () => {
    const signed = await note(body, [a.signer]);
    expect(await rejection(verifyNotePolicy(signed, { members: [], membersRequired: "all" }))).toContain("asks for no member signature");
    expect(await rejection(verifyNotePolicy(signed, { members: [] }))).toContain("no signature by a known key");
    expect(await rejection(verifyNotePolicy(signed, { members: [a.verifier], membersRequired: 0 }))).toContain("asks for no member signature");
  });

  test("the checkpoint must have the wanted origin, and a keys note is never a checkpoint", async () => {
    const members = [a.verifier];
    expect(await rejection(verifyCheckpointPolicy(await note(body, [a.signer]), { members, origin: "example.test/other" }))).toContain('wanted "example.test/other"');
    const keysNote = await note(formatKeysBody({ origin, epoch: 0, keys: [a.key] }), [a.signer]);
    await verifyNotePolicy(keysNote, { members });
    await expect(verifyCheckpointPolicy(keysNote, { members })).rejects.toThrow();
  });
});

describe("witness cosignatures", () => {
  const members = () => [a.verifier, b.verifier, c.verifier];

  test("a required witness's cosignature passes with its time; a missing one fails; a count relaxes all", async () => {
    const cosigned = await note(body, [a.signer, b.signer], await cosignLine(body, w1.signer, 1700000000));
    const verdict = await verifyCheckpointPolicy(cosigned, { members: members(), witnesses: [w1.verifier] });
    expect(verdict.witnesses).toEqual([{ name: "witness.test/w1", timestamp: 1700000000 }]);
    expect(await rejection(verifyNotePolicy(cosigned, { members: members(), witnesses: [w1.verifier, w2.verifier] }))).toContain("cosignatures of 1 of the 2 trusted witnesses; the policy wants 2");
    await verifyNotePolicy(cosigned, { members: members(), witnesses: [w1.verifier, w2.verifier], witnessesRequired: 1 });
    expect(await rejection(verifyNotePolicy(cosigned, { members: members(), witnesses: [w2.verifier] }))).toContain("0 of the 1");
  });

  test("member signatures still decide first: witnesses do not replace members", async () => {
    const cosigned = await note(body, [a.signer], await cosignLine(body, w1.signer, 1));
    expect(await rejection(verifyNotePolicy(cosigned, { members: members(), witnesses: [w1.verifier] }))).toContain("the policy wants 2");
  });

  test("a witness listed twice counts once", async () => {
    const cosigned = await note(body, [a.signer, b.signer], await cosignLine(body, w1.signer, 1));
    expect(await rejection(verifyNotePolicy(cosigned, { members: members(), witnesses: [w1.verifier, w1.verifier] }))).toContain("1 of the 2");
  });

  test("a witness line over another body fails the note, also after a good line by the same witness", async () => {
    const good = await cosignLine(body, w1.signer, 5);
    const bad = await cosignLine(otherBody, w1.signer, 6);
    for (const extra of [bad, good + bad, bad + good]) {
      const text = await note(body, [a.signer, b.signer], extra);
      expect(await rejection(verifyNotePolicy(text, { members: members(), witnesses: [w1.verifier] }))).toContain("invalid cosignature by witness witness.test/w1");
    }
  });

  test("a member key's cosignature line is not a member signature, and a witness's note signature is not a cosignature", async () => {
    const memberCosig = await cosignLine(body, a.signer, 1);
    expect(await rejection(verifyNotePolicy(await note(body, [b.signer], memberCosig), { members: members() }))).toContain("1 of the 3");
    const witnessPlain = await lines(body, [w1.signer]);
    expect(await rejection(verifyNotePolicy(await note(body, [a.signer, b.signer], witnessPlain), { members: members(), witnesses: [w1.verifier] }))).toContain("0 of the 1");
  });
});

describe("keys notes", () => {
  test("format lists the keys sorted under the header, origin and epoch; parse gives them back", () => {
    const keys = [c.key, a.key, b.key];
    const text = formatKeysBody({ origin, epoch: 3, keys });
    expect(text).toBe(`${keysNoteHeader}\n${origin}\n3\n${[...keys].sort().join("\n")}\n`);
    const set = parseKeysBody(text);
    expect(set).toEqual({ origin, epoch: 3, keys: [...keys].sort() });
    expect(formatKeysBody(set)).toBe(text);
    expect(sameKeys(set.keys, keys)).toBe(true);
    expect(sameKeys(set.keys, [a.key, b.key])).toBe(false);
    expect(sameKeys([a.key, a.key], [a.key, b.key])).toBe(false);
    expect(sameKeys([a.key], [a.key, b.key])).toBe(false);
    expect(sameKeys([b.key, a.key], [a.key, b.key])).toBe(true);
  });

  test("malformed bodies are refused with the reason", () => {
    const keys = [a.key, b.key].sort();
    const cases: [string, string][] = [
      [`${keysNoteHeader}\n${origin}\n0\n${keys[0]}`, "end with a newline"],
      [`scribe-ledger/keys/v2\n${origin}\n0\n${keys[0]}\n`, `start with ${keysNoteHeader}`],
      [`${origin}\n7\nAAAA\n`, `start with ${keysNoteHeader}`],
      [`${keysNoteHeader}\n${origin}\n0\n`, "at least one key"],
      [`${keysNoteHeader}\n${origin}\n01\n${keys[0]}\n`, "bad keys note epoch"],
      [`${keysNoteHeader}\n${origin}\n-1\n${keys[0]}\n`, "bad keys note epoch"],
      [`${keysNoteHeader}\n${origin}\nx\n${keys[0]}\n`, "bad keys note epoch"],
      [`${keysNoteHeader}\n${origin}\n9007199254740993\n${keys[0]}\n`, "bad keys note epoch"],
      [`${keysNoteHeader}\n${origin}\n0\n${keys[1]}\n${keys[0]}\n`, "sorted and distinct"],
      [`${keysNoteHeader}\n${origin}\n0\n${keys[0]}\n${keys[0]}\n`, "sorted and distinct"],
      [`${keysNoteHeader}\n\n0\n${keys[0]}\n`, "bad keys note origin"],
      [`${keysNoteHeader}\n${origin}\n0\nnot a key\n`, "is not a verifier key"],
      [`${keysNoteHeader}\n${origin}\n0\n${keys[0]}\n\n`, "is not a verifier key"],
    ];
    for (const [text, reason] of cases) {
      let message = "";
      try {
        parseKeysBody(text);
      } catch (error) {
        expect(error, text).toBeInstanceOf(VerificationError);
        message = (error as Error).message;
      }
      expect(message, text).toContain(reason);
    }
  });

  test("format refuses what parse would refuse (an invariant, not input)", () => {
    expect(() => formatKeysBody({ origin, epoch: 0, keys: [] })).toThrow("at least one");
    expect(() => formatKeysBody({ origin, epoch: 0, keys: [a.key, a.key] })).toThrow("distinct");
    expect(() => formatKeysBody({ origin, epoch: 0, keys: ["nope"] })).toThrow("verifier keys");
    expect(() => formatKeysBody({ origin: "", epoch: 0, keys: [a.key] })).toThrow("origin");
    expect(() => formatKeysBody({ origin, epoch: -1, keys: [a.key] })).toThrow("epoch");
  });
});

describe("following a key history", () => {
  /** A keys note of `keys` at `epoch`, signed by `signers`. */
  const epochNote = (epoch: number, keys: Member[], signers: Member[], logOrigin = origin) =>
    note(
      formatKeysBody({ origin: logOrigin, epoch, keys: keys.map((m) => m.key) }),
      signers.map((m) => m.signer),
    );

  /** e0 {a,b,c} (self-signed) → e1 {a,b,d} by a,b → e2 {a,d} (b removed) by a,d → e3 {a,d,e} by a,d. */
  async function history(): Promise<string[]> {
    return [await epochNote(0, [a, b, c], [a, b, c]), await epochNote(1, [a, b, d], [a, b]), await epochNote(2, [a, d], [a, d]), await epochNote(3, [a, d, e], [a, d])];
  }

  test("from any epoch the client trusts, to the newest one", async () => {
    const notes = await history();
    for (const trusted of [[a, b, c], [b, d, a], [a, d], [a, d, e]]) {
      const reached = await followKeyHistory(notes, trusted.map((m) => m.key), parseVerifierKey, origin);
      expect(reached.epoch).toBe(3);
      expect(sameKeys(reached.keys, [a.key, d.key, e.key])).toBe(true);
    }
  });

  test("keys that are no epoch of the history are refused", async () => {
    const notes = await history();
    expect(await rejection(followKeyHistory(notes, [a.key, b.key], parseVerifierKey))).toContain("not a key set");
    expect(await rejection(followKeyHistory([], [a.key], parseVerifierKey))).toContain("not a key set");
  });

  test("a forged epoch (signed by its own new keys, or by one old key) stops the chain", async () => {
    const notes = await history();
    const byNewKeys = [notes[0]!, await epochNote(1, [a, f, g], [f, g])];
    expect(await rejection(followKeyHistory(byNewKeys, [a.key, b.key, c.key], parseVerifierKey))).toContain("key history epoch 1");
    const byOne = [notes[0]!, await epochNote(1, [a, f, g], [a, f, g])];
    expect(await rejection(followKeyHistory(byOne, [a.key, b.key, c.key], parseVerifierKey))).toContain("verified signatures of 1 of the 3");
  });

  test("a member removed in one epoch cannot sign the next", async () => {
    const notes = await history();
    // Epoch 2 removed b; epoch 3 signed by a and b is one signature of {a, d}: not a majority.
    const chain = [notes[0]!, notes[1]!, notes[2]!, await epochNote(3, [a, b, g], [a, b])];
    expect(await rejection(followKeyHistory(chain, [a.key, b.key, c.key], parseVerifierKey))).toContain("key history epoch 3");
    // Trusting a later epoch does not reach back: the same chain is refused from epoch 2 too.
    expect(await rejection(followKeyHistory(chain, [a.key, d.key], parseVerifierKey))).toContain("key history epoch 3");
  });

  test("a chain that skips an epoch, or lists one twice, is refused", async () => {
    const notes = await history();
    expect(await rejection(followKeyHistory([notes[0]!, notes[2]!], [a.key, b.key, c.key], parseVerifierKey))).toContain("entry 1 is epoch 2");
    expect(await rejection(followKeyHistory([notes[0]!, notes[1]!, notes[1]!], [a.key, b.key, c.key], parseVerifierKey))).toContain("entry 2 is epoch 1");
  });

  test("every epoch is for one origin, given or not", async () => {
    const notes = await history();
    const foreign = [notes[0]!, await epochNote(1, [a, b, d], [a, b], "example.test/other-log")];
    expect(await rejection(followKeyHistory(foreign, [a.key, b.key, c.key], parseVerifierKey))).toContain("epoch 1 is for origin");
    expect(await rejection(followKeyHistory(notes, [a.key, b.key, c.key], parseVerifierKey, "example.test/other-log"))).toContain("epoch 0 is for origin");
  });

  test("a keys note changed after it was signed does not verify", async () => {
    const notes = await history();
    const signatures = notes[1]!.slice(notes[1]!.lastIndexOf("\n\n") + 2);
    const fixed = `${formatKeysBody({ origin, epoch: 1, keys: [a.key, b.key, g.key] })}\n${signatures}`;
    expect(await rejection(followKeyHistory([notes[0]!, fixed], [a.key, b.key, c.key], parseVerifierKey))).toContain("invalid signature");
  });
});
