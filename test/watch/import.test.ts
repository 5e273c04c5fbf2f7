/**
 * ScribeLedger.importEntries, what `scribe mirror` applies verified ranges with: entries of one
 * ledger imported into another keep their indexes, timestamps and versions, and the two trees
 * end equal; a range that does not start at the ledger's size, a value that is not its entry's,
 * or a leaf that re-applying does not reproduce is refused with verification_failed, and
 * nothing of that call is kept.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ScribeLedger, type ImportRecord } from "../../src/embedded.ts";
import { encodeEntry } from "../../src/ledger/index.ts";
import { isScribeError, toHex, utf8 } from "../../src/lib/index.ts";
import { createNativeHasher } from "../../src/crypto/index.ts";
import { tempDir } from "../support/node-process.ts";

const sourceDir = tempDir("scribe-import-source-");
const targetDir = tempDir("scribe-import-target-");
const hasher = createNativeHasher();
let source: ScribeLedger;
let target: ScribeLedger;

beforeAll(async () => {
  source = await ScribeLedger.open(sourceDir.path);
  target = await ScribeLedger.open(targetDir.path);
  for (let i = 0; i < 30; i++) await source.put(`k/${i % 4}`, `value ${i}`, { contentType: i % 2 ? "text/plain" : "application/x-test" });
  await source.delete("k/1");
  await source.batch([{ op: "put", key: "k/1", value: "back" }, { op: "delete", key: "k/2" }]);
});
afterAll(async () => {
  await source.close();
  await target.close();
  sourceDir.remove();
  targetDir.remove();
});

async function records(from: number, count: number): Promise<ImportRecord[]> {
  return Promise.all(
    source.entries(from, count).map(async (entry) => {
      const value = entry.op === "put" ? (await source.get(entry.key, { at: entry.index }))!.bytes : new Uint8Array(0);
      return { entry, value };
    }),
  );
}

function refusal(run: () => void): string {
  try {
    run();
  } catch (error) {
    if (isScribeError(error)) return error.code;
    throw error;
  }
  return "accepted";
}

test("imported entries keep their indexes, timestamps and versions; the trees end equal", async () => {
  target.importEntries(await records(0, 20));
  target.importEntries(await records(20, source.size - 20));
  expect(target.size).toBe(source.size);
  expect(toHex(target.root())).toBe(toHex(source.root()));
  expect(target.entries(0, 100)).toEqual(source.entries(0, 100));
  expect((await target.get("k/1"))?.text()).toBe("back");
  expect(await target.get("k/2")).toBeUndefined();
  const theirs = await source.checkpoint();
  const mine = await target.checkpoint();
  expect([mine.size, toHex(mine.rootHash)]).toEqual([theirs.size, toHex(theirs.rootHash)]);
  expect(mine.note).not.toBe(theirs.note); // signed with the target's own key
});

test("a range that does not fit, a wrong value or a wrong leaf is refused and nothing of it is kept", async () => {
  for (let i = 0; i < 5; i++) await source.put(`more/${i}`, `more ${i}`);
  const size = target.size;
  const next = await records(size, 5);
  expect(refusal(() => target.importEntries(next.slice(1)))).toBe("verification_failed");
  const wrongValue = next.map((r, i) => (i === 3 ? { ...r, value: utf8("not the value") } : r));
  expect(refusal(() => target.importEntries(wrongValue))).toBe("verification_failed");
  const wrongLeaf = next.map((r, i) => (i === 2 ? { ...r, leafHash: new Uint8Array(32).fill(1) } : r));
  expect(refusal(() => target.importEntries(wrongLeaf))).toBe("verification_failed");
  // An altered entry given with the source's leaf: re-applying it cannot reproduce that leaf.
  const wrongTime = next.map((r, i) => (i === 4 ? { ...r, leafHash: hasher.hashLeaf(encodeEntry(r.entry)), entry: { ...r.entry, timestampMs: r.entry.timestampMs + 1 } } : r));
  expect(refusal(() => target.importEntries(wrongTime))).toBe("verification_failed");
  expect(target.size).toBe(size);
  target.importEntries(next);
  expect(toHex(target.root())).toBe(toHex(source.root()));
});
