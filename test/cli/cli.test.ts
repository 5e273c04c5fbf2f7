/**
 * `scribe` as a user runs it: a real node process, real CLI processes. Values round-trip byte
 * for byte, verification passes on an honest node, trust options behave, and mistakes in the
 * command line exit 2 while failed verifications exit 1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigner } from "../../src/merkle/index.ts";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { cliPath, repoRoot, scribe } from "./support.ts";

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

describe("put and get", () => {
  test("a text value round-trips exactly, with a JSON receipt", async () => {
    const put = await scribe(["put", "greeting", "hello, world", ...server]);
    expect(put.exitCode, put.stderr).toBe(0);
    const receipt = JSON.parse(put.stdoutText);
    expect(receipt).toMatchObject({ key: "greeting", op: "put", version: 1 });
    expect(put.stderr).toBe("");
    const get = await scribe(["get", "greeting", ...server]);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdoutText).toBe("hello, world");
    const response = await fetch(`${node.url}/greeting`);
    expect(response.headers.get("content-type")).toStartWith("text/plain");
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
  });

  test("--file - reads stdin; --content-type is stored", async () => {
    const bytes = new Uint8Array([0, 255, 10, 13, 0, 1]);
    const put = await scribe(["put", "png", "--file", "-", "--content-type", "image/png", ...server], { stdin: bytes });
    expect(put.exitCode, put.stderr).toBe(0);
    expect((await scribe(["get", "png", ...server])).stdout).toEqual(bytes);
    expect((await fetch(`${node.url}/png`)).headers.get("content-type")).toBe("image/png");
  });

  test("--version and --at read history", async () => {
    await scribe(["put", "counter", "one", ...server]);
    const second = JSON.parse((await scribe(["put", "counter", "two", ...server])).stdoutText);
    expect((await scribe(["get", "counter", "--version", "1", ...server])).stdoutText).toBe("one");
    expect((await scribe(["get", "counter", ...server])).stdoutText).toBe("two");
    expect((await scribe(["get", "counter", "--at", String(second.index - 1), ...server])).stdoutText).toBe("one");
  });

  test("a missing key exits 1 with the server's message", async () => {
    const get = await scribe(["get", "no-such-key", ...server]);
    expect(get.exitCode).toBe(1);
    expect(get.stderr).toContain("scribe: GET /kv/no-such-key: 404");
    expect(get.stdout.length).toBe(0);
  });

  test("SCRIBE_SERVER sets the server", async () => {
    const get = await scribe(["get", "greeting"], { env: { SCRIBE_SERVER: node.url } });
    expect(get.stdoutText).toBe("hello, world");
  });
});

describe("verify", () => {
  test("an honest node's key verifies on the client, with a pinned key and no warning", async () => {
    const result = await scribe(["verify", "greeting", ...pinned]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdoutText).toStartWith('VERIFIED key "greeting"');
    expect(result.stdoutText).toContain("the fetched value matches");
  });

  test("older versions, deletes and binary values verify; get --verify checks before writing", async () => {
    expect((await scribe(["verify", "counter", "--version", "1", ...pinned])).exitCode).toBe(0);
    await scribe(["put", "gone", "x", ...server]);
    await fetch(`${node.url}/gone`, { method: "DELETE" });
    const deleted = await scribe(["verify", "gone", ...pinned]);
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.stdoutText).toContain("delete");
    const blob = await scribe(["get", "blobs/one", "--verify", ...pinned]);
    expect(blob.exitCode, blob.stderr).toBe(0);
    expect(blob.stdout.length).toBe(64 * 1024);
    expect(blob.stderr).toContain("scribe: verified: index");
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
  });
});

describe("checkpoint and the state file", () => {
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
    const { verifierKey } = await generateSigner("someone-else");
    const conflicting = await scribe(["checkpoint", ...server, "--state", state, "--key", verifierKey]);
    expect(conflicting.exitCode).toBe(1);
    expect(conflicting.stderr).toContain("trusts verifier key");
  });
});

describe("usage errors exit 2", () => {
  const cases: [string, string[], string][] = [
    ["no command", [], "no command given"],
    ["unknown command", ["frobnicate"], 'unknown command "frobnicate"'],
    ["unknown option", ["get", "k", "--bogus"], "bogus"],
    ["option of another command", ["get", "k", "--file", "x"], "get does not take --file"],
    ["get without a key", ["get"], "get wants exactly one KEY"],
    ["put with a value and a file", ["put", "k", "v", "--file", "x"], "either a VALUE or --file"],
    ["a bad version", ["verify", "k", "--version", "abc"], "--version wants an integer"],
    ["version and at", ["get", "k", "--version", "1", "--at", "2"], "not both"],
    ["a bad server", ["get", "k", "--server", "ftp://x"], "--server wants an http(s) URL"],
    ["a malformed key", ["verify", "k", "--key", "nonsense"], "verifier key is malformed"],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const result = await scribe(args);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toStartWith("scribe: ");
      expect(result.stderr).toContain(message);
    });
  }

  test("--help prints usage and exits 0", async () => {
    const result = await scribe(["--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdoutText).toContain("scribe audit");
  });

  test("an unreachable server exits 1", async () => {
    const result = await scribe(["get", "k", "--server", "http://127.0.0.1:9"]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("cannot reach http://127.0.0.1:9");
  });
});

test("the CLI compiles to a single executable (bun build --compile) that verifies", async () => {
  const outfile = join(work.path, "scribe");
  const build = Bun.spawnSync(["bun", "build", "--compile", "--minify", cliPath, "--outfile", outfile], { cwd: repoRoot, stderr: "pipe" });
  expect(build.exitCode, build.stderr.toString()).toBe(0);
  const key = pinned[pinned.indexOf("--key") + 1]!;
  const run = Bun.spawnSync([outfile, "verify", "greeting", "--server", node.url, "--key", key]);
  expect(run.exitCode, run.stderr.toString()).toBe(0);
  expect(run.stdout.toString()).toStartWith('VERIFIED key "greeting"');
});
