/**
 * @module cli/context. What every command runs with: the node(s) to talk to (`--endpoints`, with
 * failover; `--server` is its alias), the API key, the output format, and — for the commands that
 * verify — the trusted member keys, policy and state: keys pinned with --key / --keys-file,
 * remembered in --state, or fetched from GET /checkpoint/keys and trusted on first use with a
 * warning; a checkpoint must carry the signatures of `--policy` of them (default: a majority) and
 * the cosignatures of `--witness-policy` of the `--witness` keys. A state file follows the
 * cluster's key history when its member set changes.
 */

import { LedgerClient, loadHasher, parseCosignatureVerifierKey, parseThreshold, parseVerifierKey, requestTimeoutMsDefault, sameKeys, ScribeHttpClient, type Threshold } from "../client/index.ts";
import { Options, type OptionSpec } from "./args.ts";
import { UsageError, VerificationFailed } from "./errors.ts";
import { Output, outputFormats } from "./output.ts";
import { readStateFile, StateFilePersistence } from "./state-file.ts";

/** The node when neither a flag nor the environment names one. */
export const defaultEndpoint = "http://127.0.0.1:8001";
/** Most endpoints one command line may list. */
const endpointsMax = 64;
/** Longest --timeout: a day. */
const timeoutSecsMax = 86_400;

/** Options every command takes. */
export const connectionOptions: OptionSpec[] = [
  { name: "endpoints", value: "URL,...", help: `the nodes to talk to, tried in order: a request moves to the next one only when it cannot connect (default $SCRIBE_ENDPOINTS, $SCRIBE_SERVER or ${defaultEndpoint})` },
  { name: "server", value: "URL", help: "the same as --endpoints" },
  { name: "api-key", value: "KEY", help: "the API key for nodes with security.api_keys (default $SCRIBE_API_KEY), sent as a Bearer token" },
  { name: "timeout", value: "SECONDS", help: `the most one request may take, 0 for no limit (default ${requestTimeoutMsDefault / 1000})` },
  { name: "output", short: "o", value: "FORMAT", help: "text (default) or json: one JSON document on stdout" },
  { name: "help", short: "h", help: "show the help of the command" },
];

/** `--consistency` of the commands that read keys (GET /kv, /keys, /history, /verify). */
export const consistencyOption: OptionSpec = {
  name: "consistency",
  value: "LEVEL",
  help: "linearizable (default: the node first confirms with the leader that it is current) or stale (this node's copy, no round trip)",
};

/** The --consistency given, or undefined (the node's default, linearizable). */
export function consistencyOf(options: Options): "linearizable" | "stale" | undefined {
  return options.has("consistency") ? options.choice<"linearizable" | "stale">("consistency", ["linearizable", "stale"], "linearizable") : undefined;
}

/** Options of the commands that verify what the node says. */
export const trustOptions: OptionSpec[] = [
  { name: "key", value: "KEY[,KEY...]", help: 'the cluster members\' checkpoint verifier keys to trust ("name+hash+base64", comma-separated)' },
  { name: "keys-file", value: "PATH", help: "read the member verifier keys from a file, one per line (as GET /checkpoint/keys prints them)" },
  { name: "key-file", value: "PATH", help: "the same as --keys-file" },
  { name: "policy", value: "N|majority|all", help: "how many of the member keys must have signed a checkpoint (default: majority)" },
  { name: "witness", value: "KEY[,KEY...]", help: 'external witnesses\' cosigner keys ("name+keyid+base64", cosignature/v1) whose cosignatures a checkpoint must carry' },
  { name: "witness-policy", value: "N|all", help: "how many of the --witness keys must have cosigned (default: all)" },
  { name: "origin", value: "ORIGIN", help: "refuse checkpoints of any other log origin" },
  { name: "state", value: "FILE", help: "keep the trusted keys and checkpoint here; every run checks the cluster's checkpoint is consistent with it, then moves it forward (one file serves every node of a cluster)" },
];

export interface Trust {
  client: LedgerClient;
  /** Where the trusted keys and checkpoint are kept (the state file), when there is one. */
  persistence?: StateFilePersistence;
  /** The member keys trusted. */
  verifierKeys: string[];
  /** A one-line description of the policy, for output. */
  policy: string;
}

export interface Context {
  http: ScribeHttpClient;
  out: Output;
  options: Options;
  /** The trusted key and client; resolved on first use (commands that only read or write never need it). */
  trust(): Promise<Trust>;
}

function parseEndpoints(text: string, flag: string): string[] {
  const endpoints = text
    .split(",")
    .map((part) => part.trim().replace(/\/+$/, ""))
    .filter((part) => part !== "");
  if (endpoints.length === 0) throw new UsageError(`${flag} wants at least one http(s) URL`);
  if (endpoints.length > endpointsMax) throw new UsageError(`${flag} lists ${endpoints.length} endpoints; at most ${endpointsMax}`);
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(endpoint)) throw new UsageError(`${flag} wants http(s) URLs, got ${JSON.stringify(endpoint)}`);
  }
  return endpoints;
}

function endpointsOf(options: Options): string[] {
  options.exclusive("endpoints", "server");
  const flag = options.has("endpoints") ? "--endpoints" : "--server";
  const given = options.string("endpoints") ?? options.string("server");
  if (given !== undefined) return parseEndpoints(given, flag);
  if (process.env.SCRIBE_ENDPOINTS) return parseEndpoints(process.env.SCRIBE_ENDPOINTS, "$SCRIBE_ENDPOINTS");
  if (process.env.SCRIBE_SERVER) return parseEndpoints(process.env.SCRIBE_SERVER, "$SCRIBE_SERVER");
  return [defaultEndpoint];
}

function keyList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((key) => key.trim())
    .filter((key) => key !== "");
}

async function pinnedKeys(options: Options): Promise<string[] | undefined> {
  options.exclusive("key", "keys-file");
  options.exclusive("key", "key-file");
  options.exclusive("keys-file", "key-file");
  const flag = options.has("key-file") ? "--key-file" : "--keys-file";
  const keyFile = options.string("keys-file") ?? options.string("key-file");
  let text = options.string("key");
  if (keyFile !== undefined) {
    const file = Bun.file(keyFile);
    if (!(await file.exists())) throw new UsageError(`${flag} ${keyFile} does not exist`);
    text = await file.text();
  }
  if (text === undefined) return undefined;
  const keys = keyList(text);
  if (keys.length === 0) throw new UsageError("no verifier key given");
  for (const key of keys) {
    try {
      await parseVerifierKey(key);
    } catch (error) {
      throw new UsageError(`the verifier key is malformed (${JSON.stringify(key)}): ${(error as Error).message}`);
    }
  }
  return keys;
}

/** The member keys to trust: pinned, remembered in the state file, or trusted on first use. */
async function resolveVerifierKeys(http: ScribeHttpClient, options: Options, out: Output, statePath: string | undefined): Promise<{ keys: string[]; fromState: boolean }> {
  const pinned = await pinnedKeys(options);
  const state = statePath === undefined ? undefined : readStateFile(statePath);
  if (pinned !== undefined) {
    if (state && !sameKeys(state.verifier_keys, pinned)) throw new VerificationFailed(`the state file ${statePath} trusts verifier keys ${state.verifier_keys.join(", ")}, not ${pinned.join(", ")}`);
    return { keys: pinned, fromState: false };
  }
  if (state) return { keys: state.verifier_keys, fromState: true };
  const fetched = await http.verifierKeys();
  if (fetched.length === 0) throw new VerificationFailed("the node lists no checkpoint verifier keys (GET /checkpoint/keys)");
  out.warn(`no verifier key given; trusting the server's keys (the cluster's member keys) ${fetched.join(", ")} on first use${statePath ? ` (remembered in ${statePath})` : ""}. Pin them with --key or --keys-file.`);
  return { keys: fetched, fromState: false };
}

function thresholdOf(options: Options, name: string): Threshold | undefined {
  const text = options.string(name);
  if (text === undefined) return undefined;
  const threshold = parseThreshold(text);
  if (threshold === undefined) throw new UsageError(`--${name} wants a count (1 or more), majority or all; got ${JSON.stringify(text)}`);
  return threshold;
}

async function witnessKeys(options: Options): Promise<string[]> {
  const keys = keyList(options.string("witness") ?? "");
  for (const key of keys) {
    try {
      await parseCosignatureVerifierKey(key);
    } catch (error) {
      throw new UsageError(`the witness key ${JSON.stringify(key)} is malformed: ${(error as Error).message}`);
    }
  }
  return keys;
}

/**
 * A state file's keys against the cluster's current ones: when they differ, follows the cluster's
 * key history (each epoch signed by a majority of the one before) and remembers the keys reached.
 */
async function followCluster(client: LedgerClient, keys: string[], http: ScribeHttpClient, out: Output, persistence: StateFilePersistence | undefined): Promise<string[]> {
  const served = await http.verifierKeys().catch(() => undefined);
  if (served === undefined || sameKeys(served, keys)) return keys;
  const reached = await client.followKeys(keys);
  if (!sameKeys(reached, keys)) {
    out.warn(`the cluster's member keys changed; followed its verified key history to ${reached.length} key(s)`);
    persistence?.saveKeys(reached);
  }
  return reached;
}

/** Builds the context of one command from its options and the environment. */
export function createContext(options: Options): Context {
  const out = new Output(options.choice("output", outputFormats, "text"));
  const timeoutSecs = options.integer("timeout", 0, timeoutSecsMax);
  const apiKey = options.string("api-key") ?? process.env.SCRIBE_API_KEY;
  if (apiKey !== undefined && !/^\S+$/.test(apiKey)) throw new UsageError("the API key must be one word without spaces");
  const http = new ScribeHttpClient({ endpoints: endpointsOf(options), apiKey: apiKey || undefined, timeoutMs: timeoutSecs === undefined ? undefined : timeoutSecs * 1000 });
  let trust: Promise<Trust> | undefined;
  return { http, out, options, trust: () => (trust ??= resolveTrust({ http, options, out, statePath: options.string("state") })) };
}

/**
 * The trusted member keys, policy and client of a command: pinned keys, else the ones remembered
 * in `statePath`, else the node's (trusted on first use); a state file follows the cluster's key
 * history. `scribe mirror` keeps its state in its own directory instead of --state.
 */
export async function resolveTrust(input: { http: ScribeHttpClient; options: Options; out: Output; statePath: string | undefined }): Promise<Trust> {
  const { http, options, out, statePath } = input;
  const policy = thresholdOf(options, "policy");
  const witnessPolicy = thresholdOf(options, "witness-policy");
  const witnesses = await witnessKeys(options);
  if (witnessPolicy !== undefined && witnesses.length === 0) throw new UsageError("--witness-policy needs --witness keys");
  const { keys, fromState } = await resolveVerifierKeys(http, options, out, statePath);
  const persistence = statePath === undefined ? undefined : new StateFilePersistence(statePath, http.endpoints.join(","), keys);
  persistence?.saveKeyOnly();
  const client = await LedgerClient.create({ http, verifierKeys: keys, policy, witnessKeys: witnesses, witnessPolicy, origin: options.string("origin"), persistence, hasher: await loadHasher() });
  let trusted = keys;
  if (fromState) trusted = await followCluster(client, keys, http, out, persistence);
  const description = `${policy ?? "majority"} of ${trusted.length} member key(s)${witnesses.length > 0 ? `, ${witnessPolicy ?? "all"} of ${witnesses.length} witness(es)` : ""}`;
  return { client, persistence, verifierKeys: trusted, policy: description };
}
