/**
 * `scribe` as a user runs it: a real node process, real CLI processes. Every command in text and
 * in `-o json`: values round-trip byte for byte, receipts, history, key listing across pages,
 * verification on an honest node, trust options and the state file, and the compiled binary.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigner } from "../../src/crypto/index.ts";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { fill, repoRoot, scribe } from "./support.ts";

const dir = tempDir("scribe-cli-");
const work = tempDir("scribe-cli-work-");
let node: NodeProcess;
let server: string[];
let pinned: string[];

beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path });
  server = ["--server", node.url];
  const key = (await (await fetch(`${node.url}/checkpoint/key`)).text()).trim();
  pinned = [...server, "--key", key];
});
afterAll(async () => {
  await node.kill("SIGTERM");
  dir.remove();
  work.remove();
});

/** Runs scribe with `-o json` and parses its stdout as one JSON document. */
async function json(args: string[]): Promise<Record<string, unknown>> {
  const result = await scribe([...args, "-o", "json"]);
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdoutText.endsWith("\n")).toBe(true);
  expect(result.stdoutText.trimEnd().includes("\n")).toBe(false); // one document on one line
  return JSON.parse(result.stdoutText) as Record<string, unknown>;
}

const receiptShape = { key: expect.any(String), op: expect.any(String), index: expect.any(Number), version: expect.any(Number), leaf_hash: expect.stringMatching(/^[0-9a-f]{64}$/), tree_size: expect.any(Number), timestamp_ms: expect.any(Number) };

describe("put, get and delete", () => {
  test("a text value round-trips exactly; the receipt in text and in json", async () => {
    const put = await scribe(["put", "greeting", "hello, world", ...server]);
    expect(put.exitCode, put.stderr).toBe(0);
    expect(put.stdoutText).toMatch(/^put greeting: version 1 at index \d+ \(tree size \d+\), leaf [0-9a-f]{64}\n$/);
    expect(put.stderr).toBe("");
    const get = await scribe(["get", "greeting", ...server]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdoutText).toBe("hello, world");
    const response = await fetch(`${node.url}/greeting`);
    expect(response.headers.get("content-type")).toStartWith("text/plain");
    const receipt = await json(["put", "greeting-2", "hi", ...server]);
    expect(receipt).toEqual({ ...receiptShape, key: "greeting-2", op: "put", version: 1 });
  });

  test("a binary file round-trips byte for byte (every byte value, 64 KiB)", async () => {
    const bytes = new Uint8Array(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
    const file = join(work.path, "blob.bin");
    writeFileSync(file, bytes);
    const put = await scribe(["put", "blobs/one", "--file", file, ...server]);
    expect(put.exitCode, put.stderr).toBe(0);
    const get = await scribe(["get", "blobs/one", ...server]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdout).toEqual(bytes);
    expect((await fetch(`${node.url}/kv/blobs/one`)).headers.get("content-type")).toBe("application/octet-stream");
    const document = await json(["get", "blobs/one", ...server]);
    expect(document.value).toBeUndefined(); // not UTF-8 text
    expect(Buffer.from(document.value_base64 as string, "base64")).toEqual(Buffer.from(bytes));
    expect(document.value_bytes).toBe(bytes.length);
  });

  test("--file - reads stdin; --content-type is stored", async () => {
    const bytes = new Uint8Array([0, 255, 10, 13, 0, 1]);
    const put = await scribe(["put", "png", "--file", "-", "--content-type", "image/png", ...server], { stdin: bytes });
    expect(put.exitCode, put.stderr).toBe(0);
    expect((await scribe(["get", "png", ...server])).stdout).toEqual(bytes);
    expect((await fetch(`${node.url}/png`)).headers.get("content-type")).toBe("image/png");
  });

  test("--version, --at and --consistency read history; get -o json describes the value", async () => {
    await scribe(["put", "counter", "one", ...server]);
    const second = await json(["put", "counter", "two", ...server]);
    expect((await scribe(["get", "counter", "--version", "1", ...server])).stdoutText).toBe("one");
    expect((await scribe(["get", "counter", ...server])).stdoutText).toBe("two");
    expect((await scribe(["get", "counter", "--at", String((second.index as number) - 1), ...server])).stdoutText).toBe("one");
    expect((await scribe(["get", "counter", "--consistency", "stale", ...server])).stdoutText).toBe("two");
    expect(await json(["get", "counter", ...server])).toEqual({
      key: "counter",
      index: second.index,
      version: 2,
      content_type: "text/plain; charset=utf-8",
      value_sha256: new Bun.CryptoHasher("sha256").update("two").digest("hex"),
      value_bytes: 3,
      value: "two",
      value_base64: btoa("two"),
    });
  });

  test("delete appends a tombstone: text and json receipts; the key then reads as not found", async () => {
    await scribe(["put", "doomed", "x", ...server]);
    const deleted = await scribe(["delete", "doomed", ...server]);
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.stdoutText).toMatch(/^deleted doomed: version 2 at index \d+/);
    expect((await scribe(["get", "doomed", ...server])).exitCode).toBe(3);
    await scribe(["put", "doomed", "y", ...server]);
    expect(await json(["delete", "doomed", ...server])).toEqual({ ...receiptShape, key: "doomed", op: "delete", version: 4 });
  });

  test("--if-version makes a write conditional: it holds, or nothing is written (exit 5)", async () => {
    expect((await scribe(["put", "cas", "1", "--if-version", "0", ...server])).exitCode).toBe(0);
    const stale = await scribe(["put", "cas", "2", "--if-version", "0", ...server]);
    expect(stale.exitCode).toBe(5);
    expect(stale.stderr).toContain("412");
    expect(stale.stderr).toContain("precondition_failed");
    expect((await scribe(["put", "cas", "2", "--if-version", "1", ...server])).exitCode).toBe(0);
    expect((await scribe(["delete", "cas", "--if-version", "1", ...server])).exitCode).toBe(5);
    expect((await scribe(["get", "cas", ...server])).stdoutText).toBe("2");
  });

  test("SCRIBE_SERVER and SCRIBE_ENDPOINTS set the node", async () => {
    expect((await scribe(["get", "greeting"], { env: { SCRIBE_SERVER: node.url } })).stdoutText).toBe("hello, world");
    expect((await scribe(["get", "greeting"], { env: { SCRIBE_ENDPOINTS: node.url } })).stdoutText).toBe("hello, world");
  });
});

describe("history", () => {
  test("every version oldest first: a table, or json entries with version and leaf hash", async () => {
    for (const value of ["a", "bb", "ccc"]) await scribe(["put", "story", value, ...server]);
    await scribe(["delete", "story", ...server]);
    const text = await scribe(["history", "story", ...server]);
    expect(text.exitCode, text.stderr).toBe(0);
    const lines = text.stdoutText.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^VERSION +INDEX +OP +TIME +SIZE +CONTENT TYPE +SHA-256$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 3).concat(l.includes("delete") ? [] : [l.split(/ {2,}/)[4]!]))).toEqual([
      ["1", expect.any(String), "put", "1 bytes"],
      ["2", expect.any(String), "put", "2 bytes"],
      ["3", expect.any(String), "put", "3 bytes"],
      ["4", expect.any(String), "delete"],
    ]);
    const document = await json(["history", "story", ...server]);
    const versions = document.versions as Record<string, unknown>[];
    expect(document.key).toBe("story");
    expect(versions.map((v) => [v.version, v.op, v.value_bytes])).toEqual([
      [1, "put", 1],
      [2, "put", 2],
      [3, "put", 3],
      [4, "delete", 0],
    ]);
    expect(versions[1]).toEqual({ version: 2, index: expect.any(Number), op: "put", key: "story", value_hash: expect.stringMatching(/^[0-9a-f]{64}$/), value_bytes: 2, content_type: "text/plain; charset=utf-8", timestamp_ms: expect.any(Number), prev_index: versions[0]!.index, leaf_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const page = await json(["history", "story", "--from-version", "2", "--limit", "2", ...server]);
    expect((page.versions as { version: number }[]).map((v) => v.version)).toEqual([2, 3]);
  });

  test("--verify proves the whole history against a signed checkpoint", async () => {
    const result = await scribe(["history", "story", "--verify", ...pinned]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain("verified: 4 version(s), a complete chain");
    const document = await json(["history", "story", "--verify", ...pinned]);
    expect((document.versions as unknown[]).length).toBe(4);
    expect(document.verified).toEqual({ checkpoint: { origin: expect.stringContaining("scribe-ledger/"), tree_size: expect.any(Number), root_hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  });
});

describe("list", () => {
  test("keys in UTF-8 byte order, tab-separated: key, version, index, live or deleted", async () => {
    for (const key of ["fruit/b", "fruit/a", "fruit/é", "fruit/\uffff", "fruit/\u{1f34e}"]) await scribe(["put", key, "x", ...server]);
    await scribe(["delete", "fruit/b", ...server]);
    const result = await scribe(["list", "fruit/", ...server]);
    expect(result.exitCode, result.stderr).toBe(0);
    const rows = result.stdoutText.trimEnd().split("\n").map((line) => line.split("\t"));
    expect(rows.map((r) => r[0])).toEqual(["fruit/a", "fruit/b", "fruit/é", "fruit/\uffff", "fruit/\u{1f34e}"]);
    expect(rows[1]).toEqual(["fruit/b", "2", expect.stringMatching(/^\d+$/), "deleted"]);
    expect(rows[0]![3]).toBe("live");
    expect((await scribe(["list", "--prefix", "fruit/", "--after", "fruit/b", ...server])).stdoutText.split("\n")[0]).toStartWith("fruit/é\t");
  });

  test("-o json: one document; next is null unless --limit stopped early, and --after continues from it", async () => {
    const all = await json(["list", "fruit/", ...server]);
    expect(all.next).toBeNull();
    expect((all.keys as unknown[]).length).toBe(5);
    expect((all.keys as unknown[])[1]).toEqual({ key: "fruit/b", index: expect.any(Number), version: 2, deleted: true });
    const first = await json(["list", "fruit/", "--limit", "2", ...server]);
    expect((first.keys as { key: string }[]).map((k) => k.key)).toEqual(["fruit/a", "fruit/b"]);
    expect(first.next).toBe("fruit/b");
    const rest = await json(["list", "fruit/", "--after", first.next as string, ...server]);
    expect((rest.keys as { key: string }[]).map((k) => k.key)).toEqual(["fruit/é", "fruit/\uffff", "fruit/\u{1f34e}"]);
    expect(await json(["list", "no-such-prefix/", ...server])).toEqual({ keys: [], next: null });
  });

  test("follows the cursor over several pages of /keys (2500 keys)", async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `bulk/${String(i).padStart(5, "0")}`);
    await fill(node.url, keys.map((key) => ({ op: "put", key, value: "v" })));
    const result = await scribe(["list", "bulk/", ...server]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdoutText.trimEnd().split("\n").map((line) => line.split("\t")[0])).toEqual(keys);
    const limited = await json(["list", "bulk/", "--limit", "1500", ...server]);
    expect((limited.keys as unknown[]).length).toBe(1500);
    expect(limited.next).toBe(keys[1499]);
  });
});

describe("verify", () => {
  test("an honest node's key verifies on the client, with a pinned key and no warning", async () => {
    const result = await scribe(["verify", "greeting", ...pinned]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdoutText).toStartWith('VERIFIED key "greeting"');
    expect(result.stdoutText).toContain("the fetched value matches");
    const document = await json(["verify", "greeting", ...pinned]);
    expect(document).toEqual({
      key: "greeting",
      verified: true,
      entry: { index: expect.any(Number), op: "put", key: "greeting", value_hash: expect.any(String), value_bytes: 12, content_type: "text/plain; charset=utf-8", timestamp_ms: expect.any(Number), prev_index: -1 },
      leaf_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      checkpoint: { origin: expect.any(String), tree_size: expect.any(Number), root_hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
      verifier_keys: [pinned.at(-1)],
      policy: "majority of 1 member key(s)",
      consistent_with: null,
      server_error: null,
    });
  });

  test("older versions, deletes and binary values verify; get --verify checks before writing", async () => {
    expect((await scribe(["verify", "counter", "--version", "1", ...pinned])).exitCode).toBe(0);
    await scribe(["put", "gone", "x", ...server]);
    await scribe(["delete", "gone", ...server]);
    const deleted = await scribe(["verify", "gone", ...pinned]);
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.stdoutText).toContain("delete");
    const blob = await scribe(["get", "blobs/one", "--verify", ...pinned]);
    expect(blob.exitCode, blob.stderr).toBe(0);
    expect(blob.stdout.length).toBe(64 * 1024);
    expect(blob.stderr).toContain("scribe: verified: index");
    const document = await json(["get", "greeting", "--verify", ...pinned]);
    expect(document.verified).toEqual({ checkpoint: expect.objectContaining({ tree_size: expect.any(Number) }), leaf_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  test("without a key, the server's key is trusted on first use with a warning", async () => {
    const result = await scribe(["verify", "greeting", ...server]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain("trusting the server's key");
    expect(result.stderr).toContain("on first use");
  });

  test("a key that did not sign the checkpoint fails verification (exit 1)", async () => {
    const { verifierKey } = await generateSigner("someone-else");
    const result = await scribe(["verify", "greeting", ...server, "--key", verifierKey]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("verification FAILED");
    expect(result.stderr).toContain("no signature by a known key");
    const keyFile = join(work.path, "other.key");
    writeFileSync(keyFile, `${verifierKey}\n`);
    expect((await scribe(["checkpoint", ...server, "--key-file", keyFile])).exitCode).toBe(1);
    expect((await scribe(["get", "greeting", "--verify", ...server, "--key-file", keyFile])).exitCode).toBe(1);
    expect((await scribe(["history", "greeting", "--verify", ...server, "--key-file", keyFile])).exitCode).toBe(1);
    expect((await scribe(["audit", ...server, "--key-file", keyFile])).exitCode).toBe(1);
  });
});

describe("checkpoint, audit and the state file", () => {
  test("checkpoint verifies and prints; the state file remembers the key and moves forward", async () => {
    const state = join(work.path, "state.json");
    const first = await scribe(["checkpoint", ...server, "--state", state]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdoutText).toMatch(/^origin +scribe-ledger\//);
    expect(first.stdoutText).toContain("signature  verified");
    expect(first.stderr).toContain("remembered in");
    await scribe(["put", "later", "y", ...server]);
    const second = await scribe(["checkpoint", ...server, "--state", state]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toBe(""); // the key comes from the state file now
    expect(second.stdoutText).toContain("consistent with the trusted checkpoint of size");
    const raw = await scribe(["checkpoint", "--raw", ...server, "--state", state]);
    expect(raw.stdoutText).toBe(await (await fetch(`${node.url}/checkpoint`)).text());
    const document = await json(["checkpoint", ...server, "--state", state]);
    expect(document).toEqual({ origin: expect.any(String), tree_size: expect.any(Number), root_hash: expect.stringMatching(/^[0-9a-f]{64}$/), note: raw.stdoutText, verifier_keys: [expect.any(String)], policy: "majority of 1 member key(s)", signed_by: [expect.any(String)], consistent_with: document.tree_size });
    const { verifierKey } = await generateSigner("someone-else");
    const conflicting = await scribe(["checkpoint", ...server, "--state", state, "--key", verifierKey]);
    expect(conflicting.exitCode).toBe(1);
    expect(conflicting.stderr).toContain("trusts verifier key");
  });

  test("audit -o json: the counts and the signed checkpoint it matched", async () => {
    const size = Number((await (await fetch(`${node.url}/checkpoint`)).text()).split("\n")[1]);
    const document = await json(["audit", ...pinned]);
    expect(document).toEqual({ ok: true, entries: expect.any(Number), puts: expect.any(Number), deletes: expect.any(Number), keys: expect.any(Number), value_bytes: expect.any(Number), checkpoint: { origin: expect.any(String), tree_size: expect.any(Number), root_hash: expect.any(String) }, trusted_size: null, seconds: expect.any(Number) });
    expect(document.entries).toBeGreaterThanOrEqual(size);
    expect(document.entries).toBe((document.puts as number) + (document.deletes as number));
  });
});

test("bun run build makes dist/scribe: a single executable that verifies", async () => {
  const outdir = join(work.path, "dist");
  const build = Bun.spawnSync(["bun", "run", "build", "--outdir", outdir, "--only", "scribe"], { cwd: repoRoot, stderr: "pipe", stdout: "pipe" });
  expect(build.exitCode, build.stderr.toString()).toBe(0);
  const binary = join(outdir, "scribe");
  const key = pinned[pinned.indexOf("--key") + 1]!;
  const run = Bun.spawnSync([binary, "verify", "greeting", "--server", node.url, "--key", key]);
  expect(run.exitCode, run.stderr.toString()).toBe(0);
  expect(run.stdout.toString()).toStartWith('VERIFIED key "greeting"');
  const version = Bun.spawnSync([binary, "--version"]);
  expect(version.stdout.toString()).toBe(`scribe ${(await Bun.file(join(repoRoot, "package.json")).json()).version}\n`);
  expect(Bun.spawnSync([binary, "get", "no-such-key", "--server", node.url]).exitCode).toBe(3);
});
