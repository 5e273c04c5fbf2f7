/**
 * @module cli/commands/read. `get` (a value, raw on stdout, optionally verified first) and
 * `verify` (one key's entry and value proved against a signed checkpoint, step by step).
 */

import { toBase64, toHex } from "../../lib/index.ts";
import type { Entry } from "../../ledger/index.ts";
import { entryToJson } from "../../client/index.ts";
import type { Command } from "../command.ts";
import { VerificationFailed } from "../errors.ts";
import { consistencyOf, consistencyOption } from "../context.ts";
import { verifyKeyHere, type KeyVerification } from "../verify-key.ts";

const versionOption = { name: "version", value: "N", help: "version N of the key (1-based) instead of the latest" };

function checkpointJson(verified: KeyVerification) {
  return { origin: verified.checkpoint.origin, tree_size: verified.checkpoint.size, root_hash: toHex(verified.checkpoint.rootHash) };
}

/** The value as UTF-8 text, or undefined when it is not valid UTF-8. */
function asText(value: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(value);
  } catch {
    return undefined;
  }
}

export const get: Command = {
  name: "get",
  summary: "read a key's value (raw on stdout)",
  usage: ["get KEY [--version N | --at INDEX] [--verify] [options]"],
  description: `Writes the value of KEY to stdout byte for byte (-o json: a document with value_base64,
and value when it is UTF-8 text). --verify proves the value against a signed checkpoint before
writing anything: value hash, entry, leaf, inclusion, signature, consistency with --state.`,
  options: [
    versionOption,
    { name: "at", value: "INDEX", help: "the key as it was when the ledger's last index was INDEX" },
    consistencyOption,
    { name: "verify", help: "verify the value before printing it (exit 1 when it does not verify)" },
  ],
  verifies: true,
  arguments: { min: 1, max: 1 },
  async run(ctx, [key]) {
    ctx.options.exclusive("version", "at");
    const consistency = consistencyOf(ctx.options);
    const answer = await ctx.http.get(key!, { version: ctx.options.integer("version", 1), at: ctx.options.integer("at", 0), consistency });
    let verified: KeyVerification | undefined;
    if (ctx.options.flag("verify")) {
      verified = await verifyKeyHere(ctx, key!, answer.version, answer.value, consistency);
      if (verified.entry.index !== answer.index) {
        throw new VerificationFailed(`the value was served as index ${answer.index}, but version ${answer.version} of ${JSON.stringify(key)} is at index ${verified.entry.index}`);
      }
    }
    if (ctx.out.json) {
      const text = asText(answer.value);
      const document: Record<string, unknown> = { key, index: answer.index, version: answer.version, content_type: answer.contentType, value_sha256: answer.valueHash, value_bytes: answer.value.length };
      if (text !== undefined) document.value = text;
      document.value_base64 = toBase64(answer.value);
      if (verified) document.verified = { checkpoint: checkpointJson(verified), leaf_hash: toHex(verified.leafHash) };
      return ctx.out.document(document);
    }
    if (verified) ctx.out.note(`verified: index ${verified.entry.index}, sha256 ${toHex(verified.entry.valueHash)}, in checkpoint of size ${verified.checkpoint.size}`);
    await ctx.out.write(answer.value);
  },
};

function describeEntry(entry: Entry): string {
  const what = entry.op === "put" ? `put, ${entry.valueBytes} bytes, ${entry.contentType || "no content type"}` : "delete";
  return `index ${entry.index}, ${what}, ${new Date(entry.timestampMs).toISOString()}, previous index ${entry.prevIndex}`;
}

export const verify: Command = {
  name: "verify",
  summary: "prove one key's entry and value against a signed checkpoint",
  usage: ["verify KEY [--version N] [options]"],
  description: `Fetches /verify/KEY and the value, then checks here, trusting nothing the node computed:
value → entry (hash and size) → leaf (recomputed from the entry's canonical encoding) →
inclusion proof → signed checkpoint → consistency with the trusted checkpoint (--state).
Prints each step; exits 1 when any fails.`,
  options: [versionOption, consistencyOption],
  verifies: true,
  arguments: { min: 1, max: 1 },
  async run(ctx, [key]) {
    const version = ctx.options.integer("version", 1);
    const consistency = consistencyOf(ctx.options);
    const { client, verifierKeys, policy } = await ctx.trust();
    const before = await client.trustedState.current();
    const verified = await verifyKeyHere(ctx, key!, version, undefined, consistency);
    const { entry, leafHash, checkpoint, serverError } = verified;
    if (ctx.out.json) {
      return ctx.out.document({
        key,
        verified: true,
        entry: entryToJson(entry),
        leaf_hash: toHex(leafHash),
        checkpoint: checkpointJson(verified),
        verifier_keys: verifierKeys,
        policy,
        consistent_with: before ? before.size : null,
        server_error: serverError,
      });
    }
    const lines = [
      `VERIFIED key ${JSON.stringify(key)}${version === undefined ? " (latest)" : ` version ${version}`}`,
      `  entry       ${describeEntry(entry)}`,
      `  value       sha256 ${toHex(entry.valueHash)}: the fetched value matches`,
      `  leaf        ${toHex(leafHash)} (recomputed from the entry)`,
      `  inclusion   in the tree of ${checkpoint.size} entries, root ${toHex(checkpoint.rootHash)}`,
      `  checkpoint  ${checkpoint.origin}, signatures verified (policy: ${policy})`,
    ];
    const statePath = ctx.options.string("state");
    if (before) lines.push(`  consistent  with the trusted checkpoint of size ${before.size}${statePath ? ` (${statePath})` : ""}`);
    if (serverError) lines.push(`  note        the server itself reports: ${serverError}`);
    await ctx.out.lines(lines);
  },
};
