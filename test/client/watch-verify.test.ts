/**
 * WatchVerifier against real streams of an in-process node (real SQLite), replayed line by line:
 * an honest stream verifies at every starting index; each lie a node could tell is refused — a
 * proof chained to the wrong size, a next_index that skips or hides entries, a frontier that is
 * not the client's own tree, a line after the final one, an entry out of order under a prefix —
 * and nothing of a refused stream is handed out.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { loadHasher, parseVerifierKey, VerificationError, WatchVerifier, type NoteVerifier, type WatchEvent } from "../../src/client/index.ts";
import { makeApp } from "../support/app.ts";

let t: Awaited<ReturnType<typeof makeApp>>;
let verifiers: NoteVerifier[];
const total = 40;

beforeAll(async () => {
  t = await makeApp();
  for (let i = 0; i < total; i++) expect((await t.call("PUT", `/kv/${i % 3 ? "a" : "b"}/${i % 5}`, { body: `value ${i}` })).status).toBe(200);
  verifiers = [await parseVerifierKey(t.node.verifierKey)];
});
afterAll(() => t.close());

async function lines(query: string): Promise<Record<string, unknown>[]> {
  const text = await (await t.call("GET", `/watch?${query}`)).text();
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function run(verifier: WatchVerifier, stream: readonly Record<string, unknown>[]): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  for (const line of stream) {
    const event = await verifier.accept(line, JSON.stringify(line).length);
    if (event) events.push(event);
  }
  return events;
}

const verifier = async (options: Partial<ConstructorParameters<typeof WatchVerifier>[0]> & { from: number }) => new WatchVerifier({ verifiers, hasher: await loadHasher(), ...options });

test("an honest full stream verifies from every starting index", async () => {
  for (const from of [0, 1, 7, 16, 31, total]) {
    const events = await run(await verifier({ from }), await lines(`from=${from}&until=${total}&values=true`));
    const checkpoints = events.filter((e) => e.kind === "checkpoint");
    expect(checkpoints.flatMap((e) => e.entries.map((w) => w.entry.index))).toEqual(Array.from({ length: total - from }, (_, i) => from + i));
    expect(events.at(-1)).toMatchObject({ kind: "end", reason: "until", resumeFrom: total, unverified: 0 });
  }
});

test("a proof chained to another size than the last verified checkpoint is refused", async () => {
  const stream = await lines(`from=10&until=${total}&checkpoint_size=5`);
  // The client says it trusts size 5 but the node proves from 0 (or the other way round).
  await expect(run(await verifier({ from: 10 }), stream)).rejects.toThrow(/proof starts at size 5, but the last verified checkpoint has size 0/);
  const tree = t.node.tree;
  await expect(run(await verifier({ from: 10, anchor: { size: 5, rootHash: tree.rootAt(6) } }), stream)).rejects.toBeInstanceOf(VerificationError);
  const events = await run(await verifier({ from: 10, anchor: { size: 5, rootHash: tree.rootAt(5) } }), stream);
  expect(events.find((e) => e.kind === "checkpoint")).toMatchObject({ checkpoint: { consistentWith: 5 } });
});

test("a next_index that skips entries or hides some is refused, and nothing is handed out", async () => {
  const stream = await lines(`from=0&until=${total}`);
  const checkpointAt = stream.findIndex((line) => "checkpoint" in line);
  const lie = (next: number) => stream.map((line, i) => (i === checkpointAt ? { ...line, next_index: next } : line));
  await expect(run(await verifier({ from: 0 }), lie(total - 1))).rejects.toThrow(/next_index/);
  await expect(run(await verifier({ from: 0 }), lie(total + 1))).rejects.toBeInstanceOf(VerificationError);
  // Entries after the last checkpoint are never handed out when the end line is not reached.
  const v = await verifier({ from: 0 });
  await expect(run(v, [...stream.slice(0, checkpointAt), { ...stream[checkpointAt]!, position_proof: ["00".repeat(32)] }])).rejects.toBeInstanceOf(VerificationError);
  expect(v.nextIndex).toBe(0);
});

test("a frontier that is not the client's own tree is refused (a mirror of another log)", async () => {
  const stream = await lines(`from=8&until=${total}`);
  const own = t.node.tree.compactRange(8);
  await run(await verifier({ from: 8, frontier: own }), stream);
  const other = own.map((hash, i) => (i === 0 ? new Uint8Array(32).fill(7) : hash));
  await expect(run(await verifier({ from: 8, frontier: other }), stream)).rejects.toThrow(/not the one this client holds/);
});

test("a line after the final one, or a prefix entry out of order or outside the prefix, is refused", async () => {
  const stream = await lines(`from=0&until=${total}`);
  await expect(run(await verifier({ from: 0 }), [...stream, stream.at(-1)!])).rejects.toThrow(/after its final line/);
  const prefixed = await lines(`from=0&prefix=a/&until=${total}`);
  const entries = prefixed.filter((line) => typeof line.index === "number");
  expect(entries.length).toBeGreaterThan(10);
  const swapped = prefixed.map((line) => (line === entries[1] ? entries[2]! : line === entries[2] ? entries[1]! : line));
  await expect(run(await verifier({ from: 0, prefix: "a/" }), swapped)).rejects.toThrow(/out of order/);
  await expect(run(await verifier({ from: 0, prefix: "a/1" }), prefixed)).rejects.toThrow(/not under the prefix/);
  const events = await run(await verifier({ from: 0, prefix: "a/" }), prefixed);
  expect(events.filter((e) => e.kind === "checkpoint").flatMap((e) => e.entries.map((w) => w.entry.key.slice(0, 2)))).toEqual(entries.map(() => "a/"));
});
