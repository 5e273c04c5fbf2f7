/**
 * A tampered stream is refused. A proxy between the client and a real node rewrites the GET
 * /watch stream on the fly — a value's byte, an entry forged with a consistent leaf hash, a
 * dropped entry, a checkpoint's root, a frontier hash, a consistency or inclusion proof — and
 * `scribe watch` exits 1, `scribe mirror` exits 1 with nothing of the tampered range applied (its
 * ledger and its recorded checkpoint unchanged), the library throws a VerificationError; through
 * an honest proxy the same commands succeed. An unreachable node is exit 4.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readLines, VerificationError } from "../../src/client/index.ts";
import { mirrorStateFile } from "../../src/cli/commands/mirror.ts";
import { ScribeLedger } from "../../src/embedded.ts";
import { encodeEntry } from "../../src/ledger/index.ts";
import { fromBase64, fromHex, toBase64, toHex, utf8 } from "../../src/lib/index.ts";
import { createNativeHasher, generateSigner } from "../../src/crypto/index.ts";
import { entryFromJson } from "../../src/ledger/index.ts";
import { fill, scribe } from "../cli/support.ts";
import { freePort, spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { collectWatch } from "./support.ts";

type Mode = "none" | "value" | "entry" | "drop" | "note" | "frontier" | "consistency" | "inclusion";

const hasher = createNativeHasher();
const dir = tempDir("scribe-tamper-");
const mirrorDir = tempDir("scribe-tamper-mirror-");
let node: NodeProcess;
let proxy: ReturnType<typeof Bun.serve>;
let mode: Mode = "none";
/** Lines of this index and above are the ones tampered with. */
let fromIndex = 0;
let key = "";

const flipHex = (hex: string) => `${hex[0] === "0" ? "1" : "0"}${hex.slice(1)}`;

/** Rewrites one line of a watch stream per the current mode; undefined drops it. `state.done` once one line was changed. */
function tamper(line: Record<string, unknown>, state: { done: boolean }): Record<string, unknown> | undefined {
  if (state.done || mode === "none") return line;
  const isEntry = typeof line.index === "number";
  if (isEntry && (line.index as number) < fromIndex) return line;
  const change = (changed: Record<string, unknown> | undefined) => {
    state.done = true;
    return changed;
  };
  if (isEntry && mode === "value" && typeof line.value_base64 === "string" && line.op === "put") {
    const value = fromBase64(line.value_base64)!;
    value[0] ^= 0x01;
    return change({ ...line, value_base64: toBase64(value) });
  }
  if (isEntry && mode === "entry") {
    // A forgery a careless check would take: the leaf hash recomputed to match the altered entry.
    const forged = { ...line, timestamp_ms: (line.timestamp_ms as number) + 1 };
    return change({ ...forged, leaf_hash: toHex(hasher.hashLeaf(encodeEntry(entryFromJson(forged)))) });
  }
  if (isEntry && mode === "drop") return change(undefined);
  if (typeof line.checkpoint !== "string") return line;
  if (mode === "note") {
    const [origin, size, root, ...rest] = (line.checkpoint as string).split("\n");
    const forged = fromBase64(root!)!;
    forged[0] ^= 0x01;
    return change({ ...line, checkpoint: [origin, size, toBase64(forged), ...rest].join("\n") });
  }
  const hashes = (name: string) => (Array.isArray(line[name]) ? (line[name] as unknown[]) : []);
  if (mode === "frontier" && hashes("frontier").length > 0) return change({ ...line, frontier: [flipHex(hashes("frontier")[0] as string), ...hashes("frontier").slice(1)] });
  if (mode === "consistency" && hashes("proof").length > 0) return change({ ...line, proof: [flipHex(hashes("proof")[0] as string), ...hashes("proof").slice(1)] });
  if (mode === "inclusion" && hashes("inclusion").length > 0) {
    const [first, ...others] = hashes("inclusion") as string[][];
    return change({ ...line, inclusion: [[flipHex(first![0]!), ...first!.slice(1)], ...others] });
  }
  return line;
}

/** Forwards every request to the node; a watch stream comes back rewritten line by line. */
async function forward(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  headers.delete("host");
  const upstream = await fetch(`${node.url}${url.pathname}${url.search}`, { method: request.method, headers, body: request.method === "GET" ? undefined : await request.arrayBuffer() });
  const type = upstream.headers.get("content-type") ?? "";
  if (!type.includes("x-ndjson")) return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers: { "content-type": type } });
  const lines = readLines(upstream.body!, 1 << 26);
  const state = { done: false };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const next = await lines.next();
        if (next.done) return controller.close();
        const changed = tamper(JSON.parse(next.value.text) as Record<string, unknown>, state);
        if (changed) return controller.enqueue(utf8(`${JSON.stringify(changed)}\n`));
      }
    },
    cancel: () => void lines.return(undefined),
  });
  return new Response(body, { status: upstream.status, headers: { "content-type": type } });
}

beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path, env: { SCRIBE_LOGGING_LEVEL: "warn" } });
  // Puts, and deletes of keys written before (tombstones have no value).
  await fill(node.url, Array.from({ length: 300 }, (_, i) => (i > 20 && i % 17 === 5 ? { op: "delete", key: `${i % 2 ? "p" : "q"}/${i % 9}` } : { op: "put", key: `${i % 2 ? "p" : "q"}/${i % 9}`, value: `value ${i}` })));
  proxy = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: forward });
  key = (await (await fetch(`${node.url}/checkpoint/key`)).text()).trim();
});
afterAll(async () => {
  proxy.stop(true);
  await node.kill("SIGKILL");
  dir.remove();
  mirrorDir.remove();
});

const proxied = () => `http://127.0.0.1:${proxy.port}`;
const nodeSize = async () => ((await (await fetch(`${node.url}/health`)).json()) as { ledger_size: number }).ledger_size;

test("through an honest proxy scribe watch verifies; each kind of tampering makes it exit 1", async () => {
  const size = await nodeSize();
  mode = "none";
  const honest = await scribe(["watch", "--server", proxied(), "--key", key, "--from", "100", "--until", String(size), "--values", "-o", "json"]);
  expect(honest.exitCode).toBe(0);
  const lines = honest.stdoutText.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines.filter((line) => typeof line.index === "number").map((line) => line.index)).toEqual(Array.from({ length: size - 100 }, (_, i) => 100 + i));
  expect(lines.at(-1)).toMatchObject({ next_index: size, checkpoint: { tree_size: size } });

  fromIndex = 150;
  for (const tampered of ["value", "entry", "drop", "note", "frontier"] as const) {
    mode = tampered;
    const result = await scribe(["watch", "--server", proxied(), "--key", key, "--from", "100", "--until", String(size), "--values", "-o", "json"]);
    expect(result.exitCode, `${tampered}: ${result.stderr}`).toBe(1);
    expect(result.stderr).toContain("verification FAILED");
    // Nothing past the tampered checkpoint range was printed as verified.
    const printed = result.stdoutText.trim() === "" ? [] : result.stdoutText.trim().split("\n").map((line) => JSON.parse(line) as { index?: number });
    expect(printed.every((line) => line.index === undefined || line.index < 150), tampered).toBe(true);
  }
  mode = "none";
}, 60_000);

test("a prefix stream with a flipped inclusion proof is refused by the library", async () => {
  mode = "inclusion";
  fromIndex = 0;
  const size = await nodeSize();
  await expect(collectWatch({ url: proxied(), from: 0, prefix: "p/", until: size })).rejects.toBeInstanceOf(VerificationError);
  mode = "none";
  const honest = await collectWatch({ url: proxied(), from: 0, prefix: "p/", until: size });
  expect(honest.entries.length).toBeGreaterThan(100);
}, 30_000);

test("scribe mirror applies nothing of a tampered range, keeps its recorded checkpoint, and catches up once the stream is honest", async () => {
  mode = "none";
  const first = await scribe(["mirror", "--server", proxied(), "--key", key, "--to", mirrorDir.path, "--once", "-o", "json"]);
  expect(first.exitCode, first.stderr).toBe(0);
  const synced = await nodeSize();
  const recorded = () => JSON.parse(readFileSync(join(mirrorDir.path, mirrorStateFile), "utf8")) as { checkpoint: string; verifier_key: string };
  const noteBefore = recorded().checkpoint;
  expect(noteBefore.split("\n")[1]).toBe(String(synced));

  await fill(node.url, Array.from({ length: 100 }, (_, i) => ({ op: "put", key: `m/${i % 5}`, value: `more ${i}` })));
  fromIndex = synced;
  for (const tampered of ["entry", "value", "consistency", "drop"] as const) {
    mode = tampered;
    const result = await scribe(["mirror", "--server", proxied(), "--to", mirrorDir.path, "--once"]);
    expect(result.exitCode, `${tampered}: ${result.stderr}`).toBe(1);
    expect(result.stderr).toContain("nothing of it applied");
    const ledger = await ScribeLedger.open(mirrorDir.path);
    expect(ledger.size, tampered).toBe(synced);
    await ledger.close();
    expect(recorded().checkpoint).toBe(noteBefore);
  }

  mode = "none";
  const caughtUp = await scribe(["mirror", "--server", proxied(), "--to", mirrorDir.path, "--once", "-o", "json"]);
  expect(caughtUp.exitCode, caughtUp.stderr).toBe(0);
  const size = await nodeSize();
  const report = JSON.parse(caughtUp.stdoutText.trim().split("\n").at(-1)!) as { tree_size: number; root_hash: string; equal: boolean; node_checkpoint: { tree_size: number; root_hash: string } };
  expect(report).toMatchObject({ tree_size: size, equal: true, node_checkpoint: { tree_size: size, root_hash: report.root_hash } });
  const nodeNote = await (await fetch(`${node.url}/checkpoint`)).text();
  expect(toHex(fromBase64(nodeNote.split("\n")[2]!)!)).toBe(report.root_hash);
  expect(fromHex(report.root_hash)).toBeDefined();
}, 90_000);

test("an unreachable node is exit 4 for watch and mirror; a mirror pinned to another key refuses (exit 1)", async () => {
  const nowhere = `http://127.0.0.1:${freePort()}`;
  expect((await scribe(["watch", "--server", nowhere, "--key", key, "--from", "0"])).exitCode).toBe(4);
  const empty = tempDir("scribe-tamper-empty-");
  try {
    // A mirror retries a lost node (watchReconnectAttemptsMax attempts, about 13 s) before it gives up.
    const lost = await scribe(["mirror", "--server", nowhere, "--key", key, "--to", empty.path, "--once"]);
    expect(lost.exitCode).toBe(4);
    expect(lost.stderr).toContain("retrying");
  } finally {
    empty.remove();
  }
  const other = (await generateSigner("someone-else")).verifierKey;
  const result = await scribe(["mirror", "--server", node.url, "--key", other, "--to", mirrorDir.path, "--once"]);
  expect(result.exitCode).toBe(1);
  expect(result.stderr).toContain("trusts verifier keys");
}, 60_000);
