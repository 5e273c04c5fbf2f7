/**
 * The replicated log identity (src/cluster/identity.ts): what committed identity entries do, the
 * same on every replica, and the persisted state's format. Entries go through the real entry
 * encoding (entry-data.ts) and the persisted state through JSON, as the node stores them.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { generateSigner } from "../../src/crypto/index.ts";
import { decodeEntryData, identityEntryData } from "../../src/cluster/entry-data.ts";
import { ClusterIdentity, emptyIdentity, parseIdentityChanges, parseIdentityState, type IdentityChanges, type IdentityState } from "../../src/cluster/identity.ts";
import { formatKeysBody, signNote, type NoteSigner } from "../../src/merkle/index.ts";

const origin = "scribe-ledger/0123456789abcdef";
let keys: string[] = [];
let signers: NoteSigner[] = [];

beforeAll(async () => {
  const generated = await Promise.all([1, 2, 3, 4].map((id) => generateSigner(`node-${id}.test`)));
  signers = generated.map((g) => g.signer);
  keys = generated.map((g) => g.verifierKey);
});

/** A keys note of `logOrigin` at `epoch` listing `listed`, signed by the first key. */
async function keysNote(epoch: number, listed: string[], logOrigin = origin): Promise<string> {
  return signNote(formatKeysBody({ origin: logOrigin, epoch, keys: listed }), signers[0]!);
}

/** What a member applies: the entry through its Raft data encoding and back. */
function committed(changes: unknown): IdentityChanges {
  const content = decodeEntryData(identityEntryData(changes as IdentityChanges));
  if (content.kind !== "identity") throw new Error("not an identity entry");
  return content.changes;
}

/** The persisted form: state() as JSON, read back. */
function persisted(identity: ClusterIdentity): IdentityState {
  return parseIdentityState(JSON.parse(JSON.stringify(identity.state())));
}

describe("applying committed entries", () => {
  test("the first origin applied wins; later ones change nothing", () => {
    const identity = new ClusterIdentity(undefined);
    expect(identity.origin).toBeUndefined();
    expect(identity.apply(committed({ origin }))).toBe(true);
    expect(identity.version).toBe(1);
    expect(identity.apply(committed({ origin: "scribe-ledger/other" }))).toBe(false);
    expect(identity.apply(committed({ origin }))).toBe(false);
    expect(identity.origin).toBe(origin);
    expect(identity.version).toBe(1);
  });

  test("a later origin's entry still registers its keys (a second leader's proposal that lost the race)", () => {
    const identity = new ClusterIdentity({ origin, keys: {}, epochs: [] });
    expect(identity.apply(committed({ origin: "scribe-ledger/late", keys: { "2": keys[1] } }))).toBe(true);
    expect(identity.origin).toBe(origin);
    expect(identity.keyOf(2)).toBe(keys[1]);
  });

  test("keys are set, replaced and forgotten; a change to the same value is no change", () => {
    const identity = new ClusterIdentity(undefined);
    identity.apply(committed({ origin, keys: { "3": keys[2], "1": keys[0] } }));
    expect(identity.keysOf([3, 2, 1])).toEqual([
      { id: 1, key: keys[0]! },
      { id: 3, key: keys[2]! },
    ]);
    const version = identity.version;
    expect(identity.apply(committed({ keys: { "1": keys[0] } }))).toBe(false);
    expect(identity.apply(committed({ keys: { "2": null } }))).toBe(false);
    expect(identity.version).toBe(version);
    expect(identity.apply(committed({ keys: { "1": keys[3], "3": null } }))).toBe(true);
    expect(identity.keyOf(1)).toBe(keys[3]);
    expect(identity.keyOf(3)).toBeUndefined();
    expect(identity.keysOf([1, 3])).toEqual([{ id: 1, key: keys[3]! }]);
  });

  test("a keys note is taken only as the next epoch of this origin", async () => {
    const identity = new ClusterIdentity(undefined);
    const epoch0 = await keysNote(0, [keys[0]!]);
    expect(identity.apply(committed({ keys_note: epoch0 }))).toBe(false); // no origin yet
    identity.apply(committed({ origin }));
    expect(identity.apply(committed({ keys_note: await keysNote(1, [keys[0]!]) }))).toBe(false); // skips epoch 0
    expect(identity.apply(committed({ keys_note: await keysNote(0, [keys[0]!], "scribe-ledger/other") }))).toBe(false);
    expect(identity.apply(committed({ keys_note: epoch0 }))).toBe(true);
    expect(identity.apply(committed({ keys_note: epoch0 }))).toBe(false); // epoch 0 again
    expect(identity.apply(committed({ keys_note: "not a note" }))).toBe(false);
    expect(identity.apply(committed({ keys_note: `${"x\n"}\n\u2014 a AAAAAAAA\n` }))).toBe(false);
    const epoch1 = await keysNote(1, [keys[0]!, keys[1]!]);
    expect(identity.apply(committed({ keys_note: epoch1 }))).toBe(true);
    expect(identity.epochs).toEqual([epoch0, epoch1]);
  });

  test("a malformed entry changes nothing, not even its well-formed parts", () => {
    const malformed: unknown[] = [
      null,
      "origin",
      42,
      [{ origin }],
      { origin: 7 },
      { origin: "" },
      { origin: "two\nlines" },
      { origin, keys: [keys[0]] },
      { origin, keys: "abc" },
      { origin, keys: { "0": keys[0] } },
      { origin, keys: { "01": keys[0] } },
      { origin, keys: { "-1": keys[0] } },
      { origin, keys: { x: keys[0] } },
      { origin, keys: { "1": 5 } },
      { origin, keys: { "1": "not a key" } },
      { origin, keys: { "1": `${keys[0]}\nextra` } },
      { origin, keys_note: 1 },
    ];
    for (const entry of malformed) {
      const identity = new ClusterIdentity(undefined);
      expect(parseIdentityChanges(entry), JSON.stringify(entry)).toBeUndefined();
      expect(identity.apply(committed(entry)), JSON.stringify(entry)).toBe(false);
      expect(identity.state()).toEqual(emptyIdentity);
      expect(identity.version).toBe(0);
    }
  });

  test("fields this version does not know are ignored, the rest applies", () => {
    const identity = new ClusterIdentity(undefined);
    expect(identity.apply(committed({ origin, future_field: { any: "thing" } }))).toBe(true);
    expect(identity.origin).toBe(origin);
  });

  test("the same entries give the same state on every replica, across a restart from the persisted state", async () => {
    const entries: unknown[] = [
      { origin, keys: { "1": keys[0] } },
      { keys: { "2": keys[1] } },
      { origin: "scribe-ledger/ignored", keys: { "3": keys[2] } },
      { keys_note: await keysNote(0, [keys[0]!, keys[1]!, keys[2]!]) },
      null,
      { keys: { "9": "bad" } },
      { keys: { "2": null, "4": keys[3] } },
      { keys_note: await keysNote(2, [keys[0]!]) },
      { keys_note: await keysNote(1, [keys[0]!, keys[2]!, keys[3]!]) },
    ];
    const a = new ClusterIdentity(undefined);
    let b = new ClusterIdentity(undefined);
    entries.forEach((entry, i) => {
      a.apply(committed(entry));
      b.apply(committed(entry));
      // b restarts after every third entry: it reopens from what it persisted.
      if (i % 3 === 2) b = new ClusterIdentity(persisted(b));
    });
    expect(JSON.stringify(b.state())).toBe(JSON.stringify(a.state()));
    expect(a.state()).toEqual({ origin, keys: { "1": keys[0]!, "3": keys[2]!, "4": keys[3]! }, epochs: [(entries[3] as { keys_note: string }).keys_note, (entries[8] as { keys_note: string }).keys_note] });
  });

  test("state() and replace() copy: callers cannot change the identity behind its back", () => {
    const identity = new ClusterIdentity(undefined);
    identity.apply(committed({ origin, keys: { "1": keys[0] } }));
    const copy = identity.state();
    copy.keys["1"] = keys[1]!;
    copy.origin = "scribe-ledger/other";
    expect(identity.keyOf(1)).toBe(keys[0]);
    const initial: IdentityState = { origin, keys: { "1": keys[0]! }, epochs: [] };
    const opened = new ClusterIdentity(initial);
    initial.keys["1"] = keys[1]!;
    expect(opened.keyOf(1)).toBe(keys[0]);
    const replacement: IdentityState = { origin: "scribe-ledger/peer", keys: { "2": keys[1]! }, epochs: [] };
    const version = identity.version;
    identity.replace(replacement);
    replacement.keys["2"] = keys[2]!;
    expect(identity.origin).toBe("scribe-ledger/peer");
    expect(identity.keyOf(2)).toBe(keys[1]);
    expect(identity.keyOf(1)).toBeUndefined();
    expect(identity.version).toBe(version + 1);
  });
});

describe("the persisted state", () => {
  test("round-trips through JSON, and reads the empty and older forms", async () => {
    const identity = new ClusterIdentity(undefined);
    identity.apply(committed({ origin, keys: { "1": keys[0], "2": keys[1] } }));
    identity.apply(committed({ keys_note: await keysNote(0, [keys[0]!, keys[1]!]) }));
    const read = persisted(identity);
    expect(read).toEqual(identity.state());
    expect(new ClusterIdentity(read).state()).toEqual(identity.state());
    expect(parseIdentityState({})).toEqual(emptyIdentity);
    expect(parseIdentityState({ origin: null, keys: {}, epochs: [] })).toEqual(emptyIdentity);
  });

  test("a state of the wrong shape is refused, naming the field; nothing is dropped silently", () => {
    const good = () => ({ origin, keys: { "1": keys[0] }, epochs: [] as unknown[] });
    const cases: [unknown, string][] = [
      [null, "must be an object"],
      ["identity", "must be an object"],
      [[good()], "identity must be an object"],
      [{ ...good(), origin: 5 }, "origin"],
      [{ ...good(), origin: "" }, "origin"],
      [{ ...good(), keys: [keys[0]] }, "keys must be an object"],
      [{ ...good(), keys: { "1": 5 } }, 'node "1"'],
      [{ ...good(), keys: { "1": "nope" } }, 'node "1"'],
      [{ ...good(), keys: { abc: keys[0] } }, 'node "abc"'],
      [{ ...good(), epochs: "note" }, "epochs"],
      [{ ...good(), epochs: ["note", 3] }, "epochs"],
      [{ ...good(), epochs: new Array(100_001).fill("n") }, "at most 100000"],
    ];
    for (const [value, reason] of cases) expect(() => parseIdentityState(value), JSON.stringify(value)?.slice(0, 80)).toThrow(reason);
  });
});
