/**
 * What `scribe` says and how it exits, against a real node: every exit status (0 ok, 1
 * verification failed, 2 usage, 3 not found, 4 unavailable or network, 5 refused) from the
 * commands that can produce it, usage errors in the project's own words (never Node's parseArgs
 * wording), `--help` of every command and `--version`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { generateSigner } from "../../src/crypto/index.ts";
import { freePort, spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";
import { repoRoot, scribe } from "./support.ts";

const dir = tempDir("scribe-cli-exit-");
let node: NodeProcess;
let server: string[];
const commandNames = ["put", "get", "delete", "history", "list", "verify", "checkpoint", "audit", "members", "status"];

beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path });
  server = ["--server", node.url];
  expect((await fetch(`${node.url}/kv/present`, { method: "PUT", body: "here" })).status).toBe(200);
});
afterAll(async () => {
  await node.kill("SIGTERM");
  dir.remove();
});

/** Node's util.parseArgs wording, which must never reach a user. */
const parseArgsWording = /ERR_PARSE_ARGS|Unknown option '|To specify a positional argument|argument missing/;

describe("exit status", () => {
  test("0: success", async () => {
    for (const args of [["get", "present"], ["list"], ["history", "present"], ["members"], ["status"], ["verify", "present"], ["checkpoint"], ["audit"]]) {
      const result = await scribe([...args, ...server]);
      expect(result.exitCode, `${args.join(" ")}: ${result.stderr}`).toBe(0);
    }
  });

  test("1: verification failed (a key that did not sign the checkpoint)", async () => {
    const { verifierKey } = await generateSigner("stranger");
    for (const args of [["verify", "present"], ["get", "present", "--verify"], ["history", "present", "--verify"], ["checkpoint"], ["audit"]]) {
      const result = await scribe([...args, ...server, "--key", verifierKey]);
      expect(result.exitCode, args.join(" ")).toBe(1);
      expect(result.stderr).toContain("no signature by a known key");
    }
  });

  test("3: not found, for every command that reads one key (a missing key is no longer exit 1)", async () => {
    for (const args of [["get", "absent"], ["get", "present", "--version", "9"], ["delete", "absent"], ["history", "absent"], ["verify", "absent"], ["history", "absent", "--verify"]]) {
      const result = await scribe([...args, ...server]);
      expect(result.exitCode, `${args.join(" ")}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toMatch(/^scribe: .*404/m);
      expect(result.stdout.length).toBe(0);
    }
  });

  test("4: no endpoint reachable, for every command", async () => {
    const closed = `http://127.0.0.1:${freePort()}`;
    for (const args of [["put", "k", "v"], ["get", "k"], ["delete", "k"], ["history", "k"], ["list"], ["verify", "k"], ["checkpoint"], ["audit"], ["members"], ["status"]]) {
      const result = await scribe([...args, "--server", closed]);
      expect(result.exitCode, `${args.join(" ")}: ${result.stderr}`).toBe(4);
      expect(result.stderr).toContain(`cannot reach ${closed}`);
    }
  });

  test("4: a node that does not answer within --timeout", async () => {
    // A listener that accepts connections and never answers.
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const result = await scribe(["get", "k", "--server", `http://127.0.0.1:${silent.port}`, "--timeout", "1"]);
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toContain("no complete answer within 1 s");
    } finally {
      silent.stop(true);
    }
  });

  test("2: the node refuses the input as invalid (400)", async () => {
    const result = await scribe(["put", "k".repeat(1025), "v", ...server]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("key_too_large");
    expect((await scribe(["get", "present", "--at", "999999", ...server])).exitCode).toBe(2);
  });

  test("5: refused (a failed --if-version)", async () => {
    const result = await scribe(["put", "present", "again", "--if-version", "7", ...server]);
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toContain("precondition_failed");
  });
});

describe("usage errors exit 2, in scribe's own words", () => {
  const cases: [string, string[], string][] = [
    ["no command", [], "no command given (see scribe --help)"],
    ["unknown command", ["frobnicate"], 'unknown command "frobnicate" (commands: put, get, delete,'],
    ["another unknown command", ["remove", "k"], 'unknown command "remove"'],
    ["unknown option", ["get", "k", "--bogus"], "unknown option --bogus (see scribe get --help)"],
    ["unknown short option", ["get", "k", "-x"], "unknown option -x (see scribe get --help)"],
    ["option of another command", ["get", "k", "--file", "x"], "get does not take --file (see scribe get --help)"],
    ["trust option on a command that does not verify", ["put", "k", "v", "--key", "x"], "put does not take --key"],
    ["--version on a command without it", ["put", "k", "v", "--version", "2"], "scribe --version prints the program's version"],
    ["a missing option value", ["get", "k", "--version"], "--version wants a value (N)"],
    ["a value given to a flag", ["get", "k", "--verify=yes"], '--verify takes no value, got "yes"'],
    ["an option given twice", ["get", "k", "--at", "1", "--at", "2"], "--at is given more than once"],
    ["get without a key", ["get"], "get takes 1 argument, got none (usage: scribe get KEY"],
    ["put with too many arguments", ["put", "k", "v", "w"], 'put takes 1 to 2 arguments, got 3: "k v w"'],
    ["put with a value and a file", ["put", "k", "v", "--file", "x"], "either a VALUE or --file"],
    ["put of a missing file", ["put", "k", "--file", "/no/such/file"], "--file /no/such/file does not exist"],
    ["a bad version", ["verify", "k", "--version", "abc"], '--version wants an integer >= 1, got "abc"'],
    ["version zero", ["get", "k", "--version", "0"], "--version wants an integer >= 1"],
    ["version and at", ["get", "k", "--version", "1", "--at", "2"], "give --version or --at, not both"],
    ["a bad output format", ["list", "-o", "yaml"], '--output wants text or json, got "yaml"'],
    ["a bad consistency", ["get", "k", "--consistency", "eventual"], "--consistency wants linearizable or stale"],
    ["a bad timeout", ["get", "k", "--timeout", "soon"], "--timeout wants an integer 0..86400"],
    ["a bad server", ["get", "k", "--server", "ftp://x"], '--server wants http(s) URLs, got "ftp://x"'],
    ["a bad endpoint in a list", ["get", "k", "--endpoints", "http://127.0.0.1:1,nonsense"], '--endpoints wants http(s) URLs, got "nonsense"'],
    ["both --server and --endpoints", ["get", "k", "--server", "http://a", "--endpoints", "http://b"], "give --endpoints or --server, not both"],
    ["a malformed key", ["verify", "k", "--key", "nonsense"], "verifier key is malformed"],
    ["--key and --key-file", ["verify", "k", "--key", "a", "--key-file", "b"], "give --key or --key-file, not both"],
    ["history --verify with a range", ["history", "k", "--verify", "--limit", "2"], "--verify checks the whole history"],
    ["an audit page out of range", ["audit", "--page", "20000"], "--page wants an integer 1..10000"],
    ["a prefix twice", ["list", "a", "--prefix", "b"], "not both"],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const result = await scribe([...args, ...(args.some((a) => a.startsWith("--server") || a.startsWith("--endpoints")) ? [] : server)]);
      expect(result.exitCode, result.stderr).toBe(2);
      expect(result.stderr).toStartWith("scribe: ");
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toMatch(parseArgsWording);
      expect(result.stdout.length).toBe(0);
    });
  }

  test("a malformed state file is a usage error, and nothing is sent", async () => {
    const state = join(dir.path, "..", `${dir.path.split("/").at(-1)}-bad-state.json`);
    await Bun.write(state, "{not json");
    try {
      const result = await scribe(["verify", "present", ...server, "--state", state]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain("is not valid JSON");
    } finally {
      await Bun.file(state).delete();
    }
  });
});

describe("help and version", () => {
  test("scribe --help lists every command and the exit codes", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const result = await scribe(args);
      expect(result.exitCode).toBe(0);
      for (const name of commandNames) expect(result.stdoutText).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
      for (const code of [0, 1, 2, 3, 4, 5]) expect(result.stdoutText).toMatch(new RegExp(`^  ${code}  \\S`, "m"));
      for (const option of ["--endpoints", "--server", "--api-key", "--output", "--key", "--state"]) expect(result.stdoutText).toContain(option);
    }
  });

  test("scribe COMMAND --help prints that command's usage and options, not the global help", async () => {
    for (const name of commandNames) {
      for (const args of [[name, "--help"], [name, "-h"], ["help", name], [name, "some-key", "--bogus", "--help"]]) {
        const result = await scribe(args);
        expect(result.exitCode, `${args.join(" ")}: ${result.stderr}`).toBe(0);
        expect(result.stdoutText).toStartWith(`scribe ${name}: `);
        expect(result.stdoutText).toContain(`Usage:\n  scribe ${name}`);
        expect(result.stdoutText).not.toContain("Commands:");
        expect(result.stdoutText).toContain("Exit status:");
        expect(result.stdoutText).toContain("--endpoints");
      }
    }
    const put = (await scribe(["put", "--help"])).stdoutText;
    expect(put).toContain("--file PATH");
    expect(put).toContain("--if-version N");
    expect(put).not.toContain("--key-file"); // put verifies nothing
    const get = (await scribe(["get", "--help"])).stdoutText;
    expect(get).toContain("--verify");
    expect(get).toContain("--key-file PATH");
  }, 60_000); // four runs of scribe per command

  test("--version prints the package version; after a command it is that command's option", async () => {
    const version = (await Bun.file(join(repoRoot, "package.json")).json()).version as string;
    for (const args of [["--version"], ["-o", "json", "--version"]]) {
      const result = await scribe(args);
      expect(result.exitCode).toBe(0);
      expect(result.stdoutText).toBe(`scribe ${version}\n`);
    }
    expect((await scribe(["get", "present", "--version", "1", ...server])).stdoutText).toBe("here");
  });
});
