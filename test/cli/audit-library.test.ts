/**
 * src/client/audit.ts as a library, against an in-memory ledger whose answers a test can corrupt.
 * For every position of a small log and every kind of corruption, the audit must fail and name
 * exactly that index (the localisation by consistency proofs is checked exhaustively, not by
 * example); a lying consistency proof can never turn a bad log into a pass; the trusted state
 * moves forward only after a passing audit. Also the progress bar a terminal sees.
 */
import { expect, test } from "bun:test";
import { auditLedger, entryToJson, MemoryPersistence, parseVerifierKey, TrustedState, type AuditSource } from "../../src/client/index.ts";
import { toBase64 } from "../../src/lib/index.ts";
import { type NoteVerifier } from "../../src/merkle/index.ts";
import { generateSigner } from "../../src/crypto/index.ts";
import { FakeLedger, origin } from "../client/fake-ledger.ts";
import { progressReporter } from "../../src/cli/progress.ts";

const { signer, verifierKey } = await generateSigner("audit-test");
const verifiers: NoteVerifier[] = [await parseVerifierKey(verifierKey)];

type Item = Record<string, unknown>;

function ledgerOf(count: number): FakeLedger {
  const ledger = new FakeLedger(signer);
  for (let i = 0; i < count; i++) {
    if (i % 5 === 4) ledger.put(`k${(i - 1) % 4}`, "", "delete");
    else ledger.put(`k${i % 4}`, `value ${i}`);
  }
  return ledger;
}

/** An AuditSource over `ledger`, with `corrupt` applied to every served entry item. */
function sourceOf(ledger: FakeLedger, corrupt: (item: Item) => Item = (item) => item, log: string[] = []): AuditSource {
  return {
    checkpoint: () => ledger.checkpoint(),
    entries: async (from, limit) => {
      log.push(`entries ${from} ${limit}`);
      const entries = ledger.entries.slice(from, from + limit).map((entry) => corrupt({ ...entryToJson(entry), leaf_hash: "00".repeat(32), value_base64: toBase64(ledger.values[entry.index]!) }));
      return { from, entries };
    },
    consistency: async (from, to) => {
      log.push(`consistency ${from} ${to}`);
      return ledger.consistency(from, to);
    },
  };
}

test("an honest log passes, whatever the page size; the server's leaf_hash is never used", async () => {
  const ledger = ledgerOf(97);
  for (const pageEntries of [1, 7, 96, 97, 500]) {
    const progress: number[] = [];
    const result = await auditLedger({ source: sourceOf(ledger), verifiers, origin, pageEntries, onProgress: (p) => progress.push(p.entries) });
    expect(result.ok).toBe(true);
    if (!result.ok) continue;
    expect(result.stats).toMatchObject({ entries: 97, keys: 4, deletes: 19, puts: 78 });
    expect(progress.at(-1)).toBe(97);
    expect(progress.length).toBe(Math.ceil(97 / pageEntries));
  }
});

test("pages shrink while values are large and regrow after them", async () => {
  const ledger = new FakeLedger(signer);
  for (let i = 0; i < 40; i++) ledger.put(`k${i}`, i >= 10 && i < 20 ? new Uint8Array(1000).fill(i) : `small ${i}`);
  const log: string[] = [];
  const result = await auditLedger({ source: sourceOf(ledger, undefined, log), verifiers, origin, pageEntries: 8, pageValueBytesTarget: 2000 });
  expect(result.ok).toBe(true);
  const limits = log.filter((line) => line.startsWith("entries")).map((line) => Number(line.split(" ")[2]));
  expect(Math.min(...limits)).toBe(2); // 2000 target bytes / 1000-byte values
  expect(limits.at(-1)).toBeGreaterThan(2);
});

const corruptions: [string, (item: Item) => Item, string][] = [
  ["value bytes", (item) => (item.op === "put" ? { ...item, value_base64: toBase64(new TextEncoder().encode("forged!")) } : { ...item, value_base64: "AA==" }), "value"],
  ["content type", (item) => ({ ...item, content_type: item.op === "put" ? "text/html" : "x" }), "leaf"],
  ["timestamp", (item) => ({ ...item, timestamp_ms: (item.timestamp_ms as number) + 1 }), "leaf"],
  ["value hash and bytes together", (item) => (item.op === "put" ? { ...item, value_hash: "ab".repeat(32), value_bytes: 7, value_base64: "" } : { ...item, timestamp_ms: 1 }), "value|leaf"],
  ["key", (item) => ({ ...item, key: "intruder" }), "leaf"],
  ["missing value", (item) => ({ ...item, value_base64: null }), "value"],
  ["malformed entry", (item) => ({ ...item, value_hash: "nothex" }), "entry"],
];

test("every corruption at every index is caught and the exact index is named", async () => {
  const ledger = ledgerOf(37);
  for (const [name, corrupt, kinds] of corruptions) {
    for (let bad = 0; bad < 37; bad++) {
      const result = await auditLedger({ source: sourceOf(ledger, (item) => (item.index === bad ? corrupt(item) : item)), verifiers, origin, pageEntries: 10 });
      const label = `${name} at ${bad}`;
      expect(result.ok, label).toBe(false);
      if (result.ok) continue;
      expect(result.failure.index, `${label}: ${result.failure.message}`).toBe(bad);
      expect(result.failure.kind, label).toMatch(new RegExp(`^(${kinds})$`));
    }
  }
});

test("a dropped entry, a reordered page and a short log are named at the first wrong index", async () => {
  const ledger = ledgerOf(30);
  const dropping: AuditSource = { ...sourceOf(ledger), entries: async (from, limit) => ({ entries: ledger.entries.filter((e) => e.index !== 12).slice(from, from + limit).map((e) => ({ ...entryToJson(e), value_base64: toBase64(ledger.values[e.index]!) })) }) };
  const dropped = await auditLedger({ source: dropping, verifiers, origin });
  expect(dropped.ok ? -1 : dropped.failure.index).toBe(12);
  const swapping: AuditSource = { ...sourceOf(ledger), entries: async (from, limit) => {
    const order = ledger.entries.map((e) => e.index);
    [order[5], order[6]] = [order[6]!, order[5]!];
    return { entries: order.slice(from, from + limit).map((i) => ({ ...entryToJson(ledger.entries[i]!), value_base64: toBase64(ledger.values[i]!) })) };
  } };
  const swapped = await auditLedger({ source: swapping, verifiers, origin });
  expect(swapped.ok ? -1 : swapped.failure.index).toBe(5);
  const short: AuditSource = { ...sourceOf(ledger), entries: async (from, limit) => ({ entries: from >= 20 ? [] : (await sourceOf(ledger).entries(from, Math.min(limit, 20 - from)) as { entries: unknown[] }).entries }) };
  const shortResult = await auditLedger({ source: short, verifiers, origin, pageEntries: 8 });
  expect(shortResult.ok).toBe(false);
  if (!shortResult.ok) expect(shortResult.failure).toMatchObject({ kind: "missing", index: 20 });
});

test("a lying consistency proof cannot make a corrupted log pass (it can only blur the index)", async () => {
  const ledger = ledgerOf(40);
  const honest = sourceOf(ledger, (item) => (item.index === 25 ? { ...item, timestamp_ms: 5 } : item));
  const liar: AuditSource = { ...honest, consistency: async (from, to) => ({ ...(await ledger.consistency(from, to)), proof: [] }) };
  const result = await auditLedger({ source: liar, verifiers, origin });
  expect(result.ok).toBe(false);
});

test("the trusted state moves forward only after a passing audit; a rewritten log is refused", async () => {
  const ledger = ledgerOf(20);
  const persistence = new MemoryPersistence();
  const trustedState = new TrustedState({ verifiers, origin, persistence });
  expect((await auditLedger({ source: sourceOf(ledger), verifiers, origin, trustedState })).ok).toBe(true);
  expect((await trustedState.current())?.size).toBe(20);
  for (let i = 0; i < 10; i++) ledger.put(`n${i}`, `more ${i}`);
  const corrupted = await auditLedger({ source: sourceOf(ledger, (item) => (item.index === 27 ? { ...item, key: "x" } : item)), verifiers, origin, trustedState });
  expect(corrupted.ok).toBe(false);
  expect((await trustedState.current())?.size).toBe(20);
  const grown = await auditLedger({ source: sourceOf(ledger), verifiers, origin, trustedState });
  expect(grown.ok && grown.trustedSize).toBe(20);
  expect((await trustedState.current())?.size).toBe(30);

  const forked = ledgerOf(30); // same signer, different history of the same size
  forked.put("extra", "x");
  const result = await auditLedger({ source: sourceOf(forked), verifiers, origin, trustedState });
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.failure.kind).toBe("consistency");
  expect((await trustedState.current())?.size).toBe(30);
});

test("a checkpoint by an unknown key fails as a value, not a throw", async () => {
  const other = await generateSigner("intruder");
  const ledger = new FakeLedger(other.signer);
  ledger.put("a", "1");
  const result = await auditLedger({ source: sourceOf(ledger), verifiers, origin });
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.failure.kind).toBe("checkpoint");
});

test("progress: a redrawn bar on a terminal, at most one line per tenth otherwise", () => {
  const written: string[] = [];
  const tty = progressReporter({ isTTY: true, write: (text: string) => written.push(text) });
  for (let done = 100; done <= 1000; done += 100) tty.update({ entries: done, total: 1000, valueBytes: done * 10 });
  tty.done();
  expect(written[0]).toStartWith("\r\x1b[2Kaudit [");
  expect(written.at(-2)).toContain("100% 1000/1000 entries");
  expect(written.at(-1)).toBe("\n");
  const lines: string[] = [];
  const plain = progressReporter({ isTTY: false, write: (text: string) => lines.push(text) });
  for (let done = 1; done <= 1000; done++) plain.update({ entries: done, total: 1000, valueBytes: 0 });
  plain.done();
  expect(lines.length).toBe(11);
  expect(lines.every((line) => line.startsWith("audit: ") && line.endsWith("\n") && !line.includes("\r"))).toBe(true);
});
