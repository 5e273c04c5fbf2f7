/**
 * @module cli/context. What every command runs with: the node(s) to talk to (`--endpoints`, with
 * failover; `--server` is its alias), the API key, the output format, and — for the commands that
 * verify — the trusted verifier key and state (pinned with --key / --key-file, remembered in
 * --state, or fetched from the node and trusted on first use with a warning).
 */

import { LedgerClient, loadHasher, parseVerifierKey, requestTimeoutMsDefault, ScribeHttpClient } from "../client/index.ts";
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

/** Options of the commands that verify what the node says. */
export const trustOptions: OptionSpec[] = [
  { name: "key", value: "VERIFIER_KEY", help: 'the checkpoint verifier key to trust ("name+hash+base64")' },
  { name: "key-file", value: "PATH", help: "read the verifier key from a file" },
  { name: "origin", value: "ORIGIN", help: "refuse checkpoints of any other log origin" },
  { name: "state", value: "FILE", help: "keep the trusted key and checkpoint here; every run checks the node's checkpoint is consistent with it, then moves it forward" },
];

export interface Trust {
  client: LedgerClient;
  verifierKey: string;
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

async function resolveVerifierKey(http: ScribeHttpClient, options: Options, out: Output): Promise<string> {
  options.exclusive("key", "key-file");
  let pinned = options.string("key")?.trim();
  const keyFile = options.string("key-file");
  if (keyFile !== undefined) {
    const file = Bun.file(keyFile);
    if (!(await file.exists())) throw new UsageError(`--key-file ${keyFile} does not exist`);
    pinned = (await file.text()).trim();
  }
  const statePath = options.string("state");
  const state = statePath === undefined ? undefined : readStateFile(statePath);
  if (pinned !== undefined) {
    try {
      await parseVerifierKey(pinned);
    } catch (error) {
      throw new UsageError(`the verifier key is malformed: ${(error as Error).message}`);
    }
    if (state && state.verifier_key !== pinned) throw new VerificationFailed(`the state file ${statePath} trusts verifier key ${state.verifier_key}, not ${pinned}`);
    return pinned;
  }
  if (state) return state.verifier_key;
  const fetched = await http.verifierKey();
  out.warn(`no verifier key given; trusting the server's key ${fetched} on first use${statePath ? ` (remembered in ${statePath})` : ""}. Pin it with --key.`);
  return fetched;
}

/** Builds the context of one command from its options and the environment. */
export function createContext(options: Options): Context {
  const out = new Output(options.choice("output", outputFormats, "text"));
  const timeoutSecs = options.integer("timeout", 0, timeoutSecsMax);
  const apiKey = options.string("api-key") ?? process.env.SCRIBE_API_KEY;
  if (apiKey !== undefined && !/^\S+$/.test(apiKey)) throw new UsageError("the API key must be one word without spaces");
  const http = new ScribeHttpClient({ endpoints: endpointsOf(options), apiKey: apiKey || undefined, timeoutMs: timeoutSecs === undefined ? undefined : timeoutSecs * 1000 });
  let trust: Promise<Trust> | undefined;
  const resolve = async (): Promise<Trust> => {
    const verifierKey = await resolveVerifierKey(http, options, out);
    const statePath = options.string("state");
    const persistence = statePath === undefined ? undefined : new StateFilePersistence(statePath, http.endpoints.join(","), verifierKey);
    persistence?.saveKeyOnly();
    const client = await LedgerClient.create({ http, verifierKeys: [verifierKey], origin: options.string("origin"), persistence, hasher: await loadHasher() });
    return { client, verifierKey };
  };
  return { http, out, options, trust: () => (trust ??= resolve()) };
}
