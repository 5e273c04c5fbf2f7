/**
 * The ledger's head and value caches are filled by reads, not by writes, and never serve a stale
 * head: a read after any write (of a key the cache holds or not, in one batch or several, after a
 * delete, after a batch whose transaction failed) sees the ledger as committed.
 */
import { expect, test } from "bun:test";
import type { LedgerState } from "../../src/cluster/ledger-state.ts";
import type { Command } from "../../src/ledger/index.ts";
import { utf8 } from "../../src/lib/index.ts";
import { tempLedgers } from "./ledger-support.ts";

const openLedger = tempLedgers();

function put(key: string, value: string): Command["ops"][number] {
  const bytes = utf8(value);
  return { op: "put", key, value: bytes, valueHash: Bun.SHA256.hash(bytes) as Uint8Array, contentType: "text/plain" };
}

function write(ledger: LedgerState, ...commands: Command["ops"][]): void {
  const outcomes = ledger.writeAlone(ledger.prepare(commands.map((ops) => ({ timestampMs: 1_000, ops }))));
  for (const outcome of outcomes) expect(outcome.ok).toBe(true);
}

async function read(ledger: LedgerState, key: string): Promise<string> {
  const { value } = await ledger.get(key);
  return new TextDecoder().decode(value);
}

/** `ledger.get(key)` as a promise: a cached read or a refusal comes back synchronously (thrown). */
const got = async (ledger: LedgerState, key: string) => ledger.get(key);

const caches = (ledger: LedgerState) => (ledger.metrics() as { cache: { heads: { size: number }; values: { size: number } } }).cache;

test("written keys and values are cached when read, and a read after a write sees it whether the key was cached or not", async () => {
  const ledger = await openLedger();
  write(ledger, Array.from({ length: 100 }, (_, i) => put(`k${i}`, `v${i}`)));
  expect(caches(ledger).heads.size).toBe(0);
  expect(caches(ledger).values.size).toBe(0);

  expect(await read(ledger, "k1")).toBe("v1");
  expect(await read(ledger, "k1")).toBe("v1");
  expect(caches(ledger).heads.size).toBe(1);
  expect(caches(ledger).values.size).toBe(1);

  // k1 is cached, k2 is not: both overwritten, in one batch and in separate ones.
  write(ledger, [put("k1", "one"), put("k2", "two")]);
  expect(await read(ledger, "k1")).toBe("one");
  expect(await read(ledger, "k2")).toBe("two");
  write(ledger, [put("k1", "uno")], [put("k2", "dos")], [put("k1", "eins")]);
  expect(await read(ledger, "k1")).toBe("eins");
  expect(await read(ledger, "k2")).toBe("dos");
  expect((await ledger.get("k1")).entry.version).toBe(4);

  // A delete of a cached key is seen at once.
  write(ledger, [{ op: "delete", key: "k1" }]);
  await expect(got(ledger, "k1")).rejects.toMatchObject({ code: "deleted" });
  write(ledger, [put("k1", "back")]);
  expect(await read(ledger, "k1")).toBe("back");
  expect((await ledger.get("k1")).entry.version).toBe(6);
});

test("a batch whose transaction failed leaves every read as committed before it", async () => {
  const ledger = await openLedger();
  write(ledger, [put("a", "1"), put("b", "1")]);
  expect(await read(ledger, "a")).toBe("1"); // a cached, b not
  // SQLite refuses the batch's third row: the transaction rolls back.
  ledger.store.db.exec("CREATE TRIGGER refuse_c BEFORE INSERT ON entries WHEN NEW.key = 'c' BEGIN SELECT RAISE(ABORT, 'refused'); END");
  expect(() => ledger.writeAlone(ledger.prepare([{ timestampMs: 2_000, ops: [put("a", "2"), put("b", "2"), put("c", "2")] }]))).toThrow("refused");
  ledger.store.db.exec("DROP TRIGGER refuse_c");
  expect(await read(ledger, "a")).toBe("1");
  expect(await read(ledger, "b")).toBe("1");
  await expect(got(ledger, "c")).rejects.toMatchObject({ code: "not_found" });
  write(ledger, [put("a", "3"), put("c", "3")]);
  expect(await read(ledger, "a")).toBe("3");
  expect(await read(ledger, "c")).toBe("3");
});
