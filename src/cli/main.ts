#!/usr/bin/env bun
/**
 * @module cli/main. `scribe`, the command-line client of Scribe Ledger: put and get values, and
 * verify them on this side of the wire with src/client (entry → leaf → inclusion → signed
 * checkpoint → value hash), follow checkpoints with consistency proofs from a state file, and
 * audit the whole log (src/client/audit.ts). Thin on purpose: it parses arguments, calls the
 * client library and prints. Exit codes: 0 ok, 1 verification failure or error, 2 usage error.
 */

import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { auditLedger, auditPageEntriesMax, auditTiles, entryFromJson, httpAuditSource, httpTileSource, LedgerClient, loadHasher, parseVerifierKey, verifyKeyResponse, type VerifiedKey } from "../client/index.ts";
import { directoryTileSource } from "../client/tile-directory.ts";
import type { Entry } from "../ledger/entry.ts";
import { isScribeError, toHex } from "../lib/index.ts";
import { progressReporter } from "./progress.ts";
import { readStateFile, StateFileError, StateFilePersistence } from "./state-file.ts";

const usage = `scribe: the Scribe Ledger command-line client

Usage:
  scribe put KEY VALUE [--content-type TYPE]       store VALUE (text) under KEY
  scribe put KEY --file PATH [--content-type TYPE] store the bytes of PATH ("-" = stdin)
  scribe get KEY [--version N | --at INDEX] [--verify]
                                                    write the raw value to stdout
  scribe verify KEY [--version N]                  verify the key's entry and value here
  scribe checkpoint [--raw]                        fetch, verify and print the signed checkpoint
  scribe audit [--page N]                          recompute and check the whole log
  scribe audit --tiles URL|DIR                     the same from C2SP tiles alone (a bucket, a copy
                                                    of one, or a node's /tile/...): no node needed

Options:
  --server URL        the node (default $SCRIBE_SERVER or http://127.0.0.1:8001); an API key
                      for a node with security.api_keys comes from $SCRIBE_API_KEY
  --key VERIFIER_KEY  the checkpoint verifier key to trust ("name+hash+base64")
  --key-file PATH     read the verifier key from a file
  --origin ORIGIN     refuse checkpoints of any other log origin
  --state FILE        keep the trusted key and checkpoint here; every call checks that the
                      server's checkpoint is consistent with it, then moves it forward
  -h, --help          this help

Without --key, --key-file or a state file, the key is fetched from the server (GET
/checkpoint/key) and trusted on first use, with a warning.

Exit status: 0 success, 1 verification failure (or a server or network error), 2 usage error.
`;

/** A command-line mistake: exit status 2. */
class UsageError extends Error {}
/** Evidence that the ledger is not what it claims: exit status 1. */
class FailedError extends Error {}

const optionSpec = {
  server: { type: "string" },
  key: { type: "string" },
  "key-file": { type: "string" },
  origin: { type: "string" },
  state: { type: "string" },
  file: { type: "string" },
  "content-type": { type: "string" },
  version: { type: "string" },
  at: { type: "string" },
  page: { type: "string" },
  tiles: { type: "string" },
  verify: { type: "boolean" },
  raw: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Options = { [K in keyof typeof optionSpec]?: (typeof optionSpec)[K]["type"] extends "boolean" ? boolean : string };

/** Which options each command accepts, beyond the connection and trust options. */
const commandOptions: Record<string, (keyof Options)[]> = {
  put: ["file", "content-type"],
  get: ["version", "at", "verify"],
  verify: ["version"],
  checkpoint: ["raw"],
  audit: ["page", "tiles"],
};
const commonOptions: (keyof Options)[] = ["server", "key", "key-file", "origin", "state", "help"];

function positiveInteger(text: string | undefined, name: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) throw new UsageError(`--${name} wants an integer >= ${min}, got ${JSON.stringify(text)}`);
  return Number(text);
}

function keyPath(key: string): string {
  return `/kv/${encodeURIComponent(key)}`;
}

/** The connection: server URL, trusted key (pinned, remembered or fetched), trusted state. */
interface Context {
  server: string;
  options: Options;
  /** Resolves the trusted key and state on first use (put and plain get need neither). */
  trust(): Promise<Trust>;
}

interface Trust {
  client: LedgerClient;
  verifierKey: string;
}

function stderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** `Authorization: Bearer $SCRIBE_API_KEY` when that is set (nodes with security.api_keys). */
function authHeaders(): Record<string, string> {
  const key = process.env.SCRIBE_API_KEY;
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function request(server: string, path: string, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(`${server}${path}`, { ...init, headers: { ...authHeaders(), ...(init?.headers as Record<string, string> | undefined) } });
  } catch (error) {
    throw new Error(`cannot reach ${server}: ${(error as Error).message}`);
  }
  if (response.ok) return response;
  const text = await response.text();
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof body.error === "string") message = `${body.error}${typeof body.code === "string" ? ` (${body.code})` : ""}`;
  } catch {
    // not JSON: keep the text
  }
  throw new Error(`${init?.method ?? "GET"} ${path}: ${response.status} ${message}`);
}

async function resolveVerifierKey(server: string, options: Options): Promise<string> {
  if (options.key !== undefined && options["key-file"] !== undefined) throw new UsageError("give --key or --key-file, not both");
  let pinned = options.key?.trim();
  if (options["key-file"] !== undefined) {
    const file = Bun.file(options["key-file"]);
    if (!(await file.exists())) throw new UsageError(`--key-file ${options["key-file"]} does not exist`);
    pinned = (await file.text()).trim();
  }
  const state = options.state === undefined ? undefined : readStateFile(options.state);
  if (pinned !== undefined) {
    try {
      await parseVerifierKey(pinned);
    } catch (error) {
      throw new UsageError(`the verifier key is malformed: ${(error as Error).message}`);
    }
    if (state && state.verifier_key !== pinned) throw new FailedError(`the state file ${options.state} trusts verifier key ${state.verifier_key}, not ${pinned}`);
    return pinned;
  }
  if (state) return state.verifier_key;
  const fetched = (await (await request(server, "/checkpoint/key")).text()).trim();
  stderr(`scribe: warning: no verifier key given; trusting the server's key ${fetched} on first use${options.state ? ` (remembered in ${options.state})` : ""}. Pin it with --key.`);
  return fetched;
}

function connect(options: Options): Context {
  const server = (options.server ?? process.env.SCRIBE_SERVER ?? "http://127.0.0.1:8001").replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(server)) throw new UsageError(`--server wants an http(s) URL, got ${JSON.stringify(server)}`);
  let trust: Promise<Trust> | undefined;
  const resolve = async (): Promise<Trust> => {
    const verifierKey = await resolveVerifierKey(server, options);
    const persistence = options.state === undefined ? undefined : new StateFilePersistence(options.state, server, verifierKey);
    persistence?.saveKeyOnly();
    const client = await LedgerClient.create({ baseUrl: server, headers: authHeaders(), verifierKeys: [verifierKey], origin: options.origin, persistence, hasher: await loadHasher() });
    return { client, verifierKey };
  };
  return { server, options, trust: () => (trust ??= resolve()) };
}

async function put(ctx: Context, positionals: string[]): Promise<void> {
  const [key, text, ...rest] = positionals;
  if (key === undefined) throw new UsageError("put wants a KEY");
  if (rest.length > 0) throw new UsageError(`put takes KEY and one VALUE, got extra ${JSON.stringify(rest.join(" "))}`);
  const file = ctx.options.file;
  if ((text === undefined) === (file === undefined)) throw new UsageError("put wants either a VALUE or --file PATH");
  let body: Uint8Array;
  if (file !== undefined) {
    if (file === "-") body = new Uint8Array(await new Response(Bun.stdin.stream()).arrayBuffer());
    else {
      const handle = Bun.file(file);
      if (!(await handle.exists())) throw new UsageError(`--file ${file} does not exist`);
      body = await handle.bytes();
    }
  } else {
    body = new TextEncoder().encode(text);
  }
  const contentType = ctx.options["content-type"] ?? (file === undefined ? "text/plain; charset=utf-8" : "application/octet-stream");
  const response = await request(ctx.server, keyPath(key), { method: "PUT", body: body as Uint8Array<ArrayBuffer>, headers: { "content-type": contentType } });
  process.stdout.write(`${await response.text()}\n`);
}

async function get(ctx: Context, positionals: string[]): Promise<void> {
  const [key, ...rest] = positionals;
  if (key === undefined || rest.length > 0) throw new UsageError("get wants exactly one KEY");
  const version = positiveInteger(ctx.options.version, "version", 1);
  const at = positiveInteger(ctx.options.at, "at", 0);
  if (version !== undefined && at !== undefined) throw new UsageError("give --version or --at, not both");
  const query = version !== undefined ? `?version=${version}` : at !== undefined ? `?at=${at}` : "";
  const response = await request(ctx.server, `${keyPath(key)}${query}`);
  const value = new Uint8Array(await response.arrayBuffer());
  if (ctx.options.verify) {
    const servedVersion = Number(response.headers.get("x-scribe-version"));
    const verified = await verifyKey(ctx, key, servedVersion, value);
    if (String(verified.entry.index) !== response.headers.get("x-scribe-index")) {
      throw new FailedError(`the value was served as index ${response.headers.get("x-scribe-index")}, but version ${servedVersion} of ${JSON.stringify(key)} is at index ${verified.entry.index}`);
    }
    stderr(`scribe: verified: index ${verified.entry.index}, sha256 ${toHex(verified.entry.valueHash)}, in checkpoint of size ${verified.checkpoint.size}`);
  }
  await Bun.write(Bun.stdout, value);
}

/** GET /verify/KEY and, for a put, the value as of the entry's index; verified together here. */
async function verifyKey(ctx: Context, key: string, version: number | undefined, knownValue?: Uint8Array): Promise<VerifiedKey & { serverError: string | null }> {
  const { client, verifierKey } = await ctx.trust();
  const response = (await (await request(ctx.server, `/verify/${encodeURIComponent(key)}${version === undefined ? "" : `?version=${version}`}`)).json()) as Record<string, unknown>;
  const serverError = typeof response.error === "string" ? response.error : null;
  let entry: Entry;
  try {
    entry = entryFromJson(response.entry);
  } catch (error) {
    throw new FailedError(`verification FAILED for key ${JSON.stringify(key)}: the server's entry is malformed: ${(error as Error).message}`);
  }
  let value = knownValue;
  if (value === undefined) {
    if (entry.op === "put") {
      const valueResponse = await request(ctx.server, `${keyPath(key)}?at=${entry.index}`);
      if (valueResponse.headers.get("x-scribe-index") !== String(entry.index)) {
        throw new FailedError(`verification FAILED for key ${JSON.stringify(key)}: asked for the value at index ${entry.index}, the server answered index ${valueResponse.headers.get("x-scribe-index")}`);
      }
      value = new Uint8Array(await valueResponse.arrayBuffer());
    } else {
      value = new Uint8Array(0);
    }
  }
  try {
    const verified = await verifyKeyResponse(response, {
      verifiers: [await parseVerifierKey(verifierKey)],
      origin: ctx.options.origin,
      key,
      value,
      trustedState: client.trustedState,
      fetchConsistency: (from, to) => client.consistency(from, to),
      hasher: await loadHasher(),
    });
    return { ...verified, serverError };
  } catch (error) {
    if (!isScribeError(error) || error.code !== "verification_failed" || !serverError) throw error;
    throw new FailedError(`verification FAILED for key ${JSON.stringify(key)}: ${error.message} (the server itself reports: ${serverError})`);
  }
}

function describeEntry(entry: Entry): string {
  const what = entry.op === "put" ? `put, ${entry.valueBytes} bytes, ${entry.contentType || "no content type"}` : "delete";
  return `index ${entry.index}, ${what}, ${new Date(entry.timestampMs).toISOString()}, previous index ${entry.prevIndex}`;
}

async function verify(ctx: Context, positionals: string[]): Promise<void> {
  const [key, ...rest] = positionals;
  if (key === undefined || rest.length > 0) throw new UsageError("verify wants exactly one KEY");
  const version = positiveInteger(ctx.options.version, "version", 1);
  const { client, verifierKey } = await ctx.trust();
  const before = await client.trustedState.current();
  let verified: Awaited<ReturnType<typeof verifyKey>>;
  try {
    verified = await verifyKey(ctx, key, version);
  } catch (error) {
    if (isScribeError(error) && error.code === "verification_failed") throw new FailedError(`verification FAILED for key ${JSON.stringify(key)}: ${error.message}`);
    throw error;
  }
  const { entry, leafHash, checkpoint, serverError } = verified;
  const lines = [
    `VERIFIED key ${JSON.stringify(key)}${version === undefined ? " (latest)" : ` version ${version}`}`,
    `  entry       ${describeEntry(entry)}`,
    `  value       sha256 ${toHex(entry.valueHash)}: the fetched value matches`,
    `  leaf        ${toHex(leafHash)} (recomputed from the entry)`,
    `  inclusion   in the tree of ${checkpoint.size} entries, root ${toHex(checkpoint.rootHash)}`,
    `  checkpoint  ${checkpoint.origin}, signature by ${verifierKey.split("+")[0]} verified`,
  ];
  if (before) lines.push(`  consistent  with the trusted checkpoint of size ${before.size}${ctx.options.state ? ` (${ctx.options.state})` : ""}`);
  if (serverError) lines.push(`  note        the server itself reports: ${serverError}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function checkpoint(ctx: Context): Promise<void> {
  const { client, verifierKey } = await ctx.trust();
  const before = await client.trustedState.current();
  const current = await client.refreshCheckpoint().catch((error: unknown) => {
    if (isScribeError(error) && error.code === "verification_failed") throw new FailedError(`checkpoint: ${error.message}`);
    throw error;
  });
  if (ctx.options.raw) {
    process.stdout.write((await client.trustedState.currentNote()) ?? "");
    return;
  }
  const lines = [
    `origin     ${current.origin}`,
    `tree size  ${current.size}`,
    `root       ${toHex(current.rootHash)}`,
    `signature  verified (${verifierKey})`,
  ];
  if (before) lines.push(`consistent with the trusted checkpoint of size ${before.size}${ctx.options.state ? ` (${ctx.options.state})` : ""}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** `audit --tiles URL|DIR`: auditTiles over HTTP(S) or a directory (src/client/tile-audit.ts). */
async function auditFromTiles(ctx: Context, location: string): Promise<void> {
  if (ctx.options.page !== undefined) throw new UsageError("--page does not apply to --tiles");
  const keyGiven = ctx.options.key !== undefined || ctx.options["key-file"] !== undefined || (ctx.options.state !== undefined && readStateFile(ctx.options.state) !== undefined);
  if (!keyGiven) throw new UsageError("audit --tiles needs the verifier key (--key, --key-file, or an existing --state file): a bucket cannot vouch for its own key");
  const http = /^https?:\/\//.test(location);
  if (!http && !existsSync(location)) throw new UsageError(`--tiles ${location} is neither an http(s) URL nor an existing directory`);
  const { client, verifierKey } = await ctx.trust();
  const startedMs = performance.now();
  const progress = progressReporter(process.stderr, startedMs);
  const source = http ? httpTileSource(location, { headers: authHeaders() }) : directoryTileSource(location);
  const result = await auditTiles({
    source,
    verifiers: [await parseVerifierKey(verifierKey)],
    origin: ctx.options.origin,
    trustedState: client.trustedState,
    onProgress: (p) => progress.update(p),
  }).finally(() => progress.done());
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(2);
  if (!result.ok) {
    const { failure } = result;
    const where = [failure.index === null ? "" : ` at index ${failure.index}`, failure.object === null ? "" : ` in ${failure.object}`].join("");
    throw new FailedError(`audit FAILED${where} (${failure.kind}): ${failure.message}`);
  }
  const { stats, checkpoint } = result;
  const lines = [
    `AUDIT OK (tiles at ${source.location}): ${stats.entries} entries (${stats.puts} puts, ${stats.deletes} deletes, ${stats.keys} keys, ${stats.valueBytes} value bytes) in ${seconds}s`,
    `  every bundle entry re-hashed and every key chain followed; the tree rebuilt from them matches every hash tile (${stats.tiles}), and its root the signed checkpoint (${checkpoint.origin}, size ${checkpoint.size})`,
    stats.valuesChecked ? `  ${stats.values} values in ${stats.segments} segments match their entries` : `  values not checked: no manifest.json at ${source.location} (a node's tiles; audit its bucket for the values)`,
  ];
  if (result.trustedSize !== null) lines.push(`  consistent with the trusted checkpoint of size ${result.trustedSize}${ctx.options.state ? `; ${ctx.options.state} now trusts size ${checkpoint.size}` : ""}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function audit(ctx: Context): Promise<void> {
  if (ctx.options.tiles !== undefined) return auditFromTiles(ctx, ctx.options.tiles);
  const pageEntries = positiveInteger(ctx.options.page, "page", 1);
  if (pageEntries !== undefined && pageEntries > auditPageEntriesMax) throw new UsageError(`--page is at most ${auditPageEntriesMax}, got ${pageEntries}`);
  const { client, verifierKey } = await ctx.trust();
  const startedMs = performance.now();
  const progress = progressReporter(process.stderr, startedMs);
  const result = await auditLedger({
    source: httpAuditSource(ctx.server, { headers: authHeaders() }),
    verifiers: [await parseVerifierKey(verifierKey)],
    origin: ctx.options.origin,
    trustedState: client.trustedState,
    pageEntries,
    onProgress: (p) => progress.update(p),
  }).finally(() => progress.done());
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(2);
  if (!result.ok) {
    const where = result.failure.index === null ? "" : ` at index ${result.failure.index}`;
    throw new FailedError(`audit FAILED${where} (${result.failure.kind}): ${result.failure.message}`);
  }
  const { stats } = result;
  const lines = [
    `AUDIT OK: ${stats.entries} entries (${stats.puts} puts, ${stats.deletes} deletes, ${stats.keys} keys, ${stats.valueBytes} value bytes) in ${seconds}s`,
    `  every value hash, leaf and key chain recomputed; root ${toHex(result.checkpoint.rootHash)} equals the signed checkpoint (${result.checkpoint.origin}, size ${result.checkpoint.size})`,
  ];
  const nowTrusted = (await client.trustedState.current())?.size;
  if (result.trustedSize !== null) lines.push(`  consistent with the trusted checkpoint of size ${result.trustedSize}${ctx.options.state ? `; ${ctx.options.state} now trusts size ${nowTrusted}` : ""}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function run(argv: string[]): Promise<void> {
  let parsed: { values: Options; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: optionSpec, allowPositionals: true, strict: true }) as { values: Options; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values: options, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (options.help || command === "help") {
    process.stdout.write(usage);
    return;
  }
  if (command === undefined) throw new UsageError("no command given (try scribe --help)");
  const allowed = commandOptions[command];
  if (!allowed) throw new UsageError(`unknown command ${JSON.stringify(command)} (try scribe --help)`);
  for (const name of Object.keys(options) as (keyof Options)[]) {
    if (!allowed.includes(name) && !commonOptions.includes(name)) throw new UsageError(`${command} does not take --${name}`);
  }
  if (command === "checkpoint" || command === "audit") {
    if (rest.length > 0) throw new UsageError(`${command} takes no arguments, got ${JSON.stringify(rest.join(" "))}`);
  }
  const ctx = connect(options);
  switch (command) {
    case "put":
      return put(ctx, rest);
    case "get":
      return get(ctx, rest);
    case "verify":
      return verify(ctx, rest);
    case "checkpoint":
      return checkpoint(ctx);
    case "audit":
      return audit(ctx);
  }
}

try {
  await run(Bun.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof UsageError) {
    stderr(`scribe: ${message}`);
    process.exit(2);
  }
  if (error instanceof FailedError || error instanceof StateFileError || (isScribeError(error) && error.code === "verification_failed")) {
    stderr(`scribe: ${message}`);
    process.exit(1);
  }
  stderr(`scribe: ${message}`);
  process.exit(1);
}
