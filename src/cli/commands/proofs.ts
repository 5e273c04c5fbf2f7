/**
 * @module cli/commands/proofs. `checkpoint` (the latest signed checkpoint, verified and checked
 * for consistency with the trusted one) and `audit` (the whole log recomputed from index 0 and
 * checked against a signed checkpoint, src/client/audit.ts). Audit options are one list here, and
 * where the ledger is read from is one function (auditSource), so new sources and policies are
 * an option and a branch each.
 */

import { existsSync } from "node:fs";
import { auditLedger, auditPageEntriesMax, auditTiles, httpAuditSource, httpTileSource, type AuditResult, type AuditSource } from "../../client/index.ts";
import { directoryTileSource } from "../../client/tile-directory.ts";
import { toHex } from "../../lib/index.ts";
import { splitNote, type Checkpoint } from "../../merkle/index.ts";
import type { Command } from "../command.ts";
import type { Context } from "../context.ts";
import { isEvidence, ReportedFailure, UsageError, VerificationFailed } from "../errors.ts";
import { progressReporter } from "../progress.ts";
import { readStateFile } from "../state-file.ts";

/** The names of the trusted member keys that have a signature line on a (verified) note. */
function signerNames(note: string, keys: readonly string[]): string[] {
  const { signatures } = splitNote(note);
  const named = keys.filter((key) => signatures.some((s) => key.startsWith(`${s.name}+${toHex(s.keyHash)}+`)));
  return named.map((key) => key.split("+")[0]!);
}

function checkpointJson(checkpoint: Checkpoint) {
  return { origin: checkpoint.origin, tree_size: checkpoint.size, root_hash: toHex(checkpoint.rootHash) };
}

export const checkpoint: Command = {
  name: "checkpoint",
  summary: "fetch and verify the latest signed checkpoint",
  usage: ["checkpoint [--raw] [options]"],
  description: `Fetches the latest checkpoint (GET /checkpoint), checks its signature with the trusted key and,
with --state, its consistency with the checkpoint trusted before (a consistency proof), then
prints its origin, tree size and root. --raw prints the signed note itself.`,
  options: [{ name: "raw", help: "print the signed note as served (after verifying it)" }],
  verifies: true,
  arguments: { min: 0, max: 0 },
  async run(ctx) {
    const { client, verifierKeys, policy } = await ctx.trust();
    const before = await client.trustedState.current();
    const current = await client.refreshCheckpoint().catch((error: unknown) => {
      if (isEvidence(error)) throw new VerificationFailed(`checkpoint: ${(error as Error).message}`);
      throw error;
    });
    const note = (await client.trustedState.currentNote()) ?? "";
    if (ctx.options.flag("raw")) return ctx.out.write(note);
    const signers = signerNames(note, verifierKeys);
    if (ctx.out.json) return ctx.out.document({ ...checkpointJson(current), note, verifier_keys: verifierKeys, policy, signed_by: signers, consistent_with: before ? before.size : null });
    const lines = [`origin     ${current.origin}`, `tree size  ${current.size}`, `root       ${toHex(current.rootHash)}`, `signature  verified: ${signers.join(", ")} (policy: ${policy})`];
    const statePath = ctx.options.string("state");
    if (before) lines.push(`consistent with the trusted checkpoint of size ${before.size}${statePath ? ` (${statePath})` : ""}`);
    await ctx.out.lines(lines);
  },
};

/** Where the audit reads the ledger: the node's HTTP API (through the context's endpoints). */
function auditSource(ctx: Context): AuditSource {
  return httpAuditSource(ctx.http);
}

function auditJson(result: AuditResult, seconds: number): Record<string, unknown> {
  const base = { checkpoint: result.checkpoint ? checkpointJson(result.checkpoint) : null, trusted_size: result.trustedSize, seconds };
  if (!result.ok) return { ok: false, failure: result.failure, ...base, stats: result.stats };
  const { stats } = result;
  return { ok: true, entries: stats.entries, puts: stats.puts, deletes: stats.deletes, keys: stats.keys, value_bytes: stats.valueBytes, ...base };
}

/** `audit --tiles URL|DIR`: the whole log from C2SP tiles alone (src/client/tile-audit.ts), no node needed. */
async function auditFromTiles(ctx: Context, location: string): Promise<void> {
  if (ctx.options.has("page")) throw new UsageError("--page does not apply to --tiles");
  const statePath = ctx.options.string("state");
  const keyGiven = ctx.options.has("key") || ctx.options.has("key-file") || ctx.options.has("keys-file") || (statePath !== undefined && readStateFile(statePath) !== undefined);
  if (!keyGiven) throw new UsageError("audit --tiles needs the verifier key (--key, --key-file, or an existing --state file): a bucket cannot vouch for its own key");
  const http = /^https?:\/\//.test(location);
  if (!http && !existsSync(location)) throw new UsageError(`--tiles ${location} is neither an http(s) URL nor an existing directory`);
  const { client } = await ctx.trust();
  const startedMs = performance.now();
  const progress = progressReporter(process.stderr, startedMs);
  const apiKey = ctx.options.string("api-key") ?? process.env.SCRIBE_API_KEY;
  const source = http ? httpTileSource(location, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} }) : directoryTileSource(location);
  const result = await auditTiles({
    source,
    verifiers: client.verifiers,
    policy: client.policy,
    origin: ctx.options.string("origin"),
    trustedState: client.trustedState,
    onProgress: (p) => progress.update(p),
  }).finally(() => progress.done());
  const seconds = Number(((performance.now() - startedMs) / 1000).toFixed(2));
  if (!result.ok) {
    const { failure } = result;
    const where = [failure.index === null ? "" : ` at index ${failure.index}`, failure.object === null ? "" : ` in ${failure.object}`].join("");
    const error = new VerificationFailed(`audit FAILED${where} (${failure.kind}): ${failure.message}`);
    if (!ctx.out.json) throw error;
    await ctx.out.document({ ok: false, failure, source: source.location, seconds });
    throw new ReportedFailure(error.message, error);
  }
  const { stats, checkpoint } = result;
  if (ctx.out.json) {
    return ctx.out.document({ ok: true, source: source.location, entries: stats.entries, puts: stats.puts, deletes: stats.deletes, keys: stats.keys, value_bytes: stats.valueBytes, tiles: stats.tiles, values_checked: stats.valuesChecked ? stats.values : null, checkpoint: checkpointJson(checkpoint), witnessed: result.witnessed, trusted_size: result.trustedSize, seconds });
  }
  const lines = [
    `AUDIT OK (tiles at ${source.location}): ${stats.entries} entries (${stats.puts} puts, ${stats.deletes} deletes, ${stats.keys} keys, ${stats.valueBytes} value bytes) in ${seconds.toFixed(2)}s`,
    `  every bundle entry re-hashed and every key chain followed; the tree rebuilt from them matches every hash tile (${stats.tiles}), and its root the signed checkpoint (${checkpoint.origin}, size ${checkpoint.size})`,
    stats.valuesChecked ? `  ${stats.values} values in ${stats.segments} segments match their entries` : `  values not checked: no manifest.json at ${source.location} (a node's tiles; audit its bucket for the values)`,
  ];
  if (result.witnessed.by === "extension") lines.push(`  witnessed through witnessed-checkpoint: a checkpoint of size ${result.witnessed.size} with the required witness cosignatures, consistent with this one`);
  if (result.trustedSize !== null) lines.push(`  consistent with the trusted checkpoint of size ${result.trustedSize}${statePath ? `; ${statePath} now trusts size ${checkpoint.size}` : ""}`);
  await ctx.out.lines(lines);
}

export const audit: Command = {
  name: "audit",
  summary: "recompute and check the whole log against a signed checkpoint",
  usage: ["audit [--page N] [options]", "audit --tiles URL|DIR --key KEY [options]"],
  description: `Walks the whole log from index 0 to the latest signed checkpoint in pages of /entries, trusting
nothing the node computed: hashes every value, recomputes every leaf from its entry, follows
every key's previous-index chain, rebuilds the root and compares it with the signed one, and
checks consistency with the trusted checkpoint (--state, moved forward only when all passed).
A failure names the first bad index (exit 1). Progress goes to stderr.
With --tiles, the same from C2SP tiles alone (a bucket, a copy of one in a directory, or a node's
/tile/...): no node is needed, and the verifier key must be given (--key, --key-file or --state).`,
  options: [
    { name: "page", value: "N", help: `entries per request (1..${auditPageEntriesMax}, default 500; fewer while values are large)` },
    { name: "tiles", value: "URL|DIR", help: "audit from C2SP tlog-tiles at this base URL or directory instead of the node's API" },
  ],
  verifies: true,
  arguments: { min: 0, max: 0 },
  async run(ctx) {
    const tiles = ctx.options.string("tiles");
    if (tiles !== undefined) return auditFromTiles(ctx, tiles);
    const pageEntries = ctx.options.integer("page", 1, auditPageEntriesMax);
    const { client } = await ctx.trust();
    const startedMs = performance.now();
    const progress = progressReporter(process.stderr, startedMs);
    const result = await auditLedger({
      source: auditSource(ctx),
      verifiers: client.verifiers,
      policy: client.policy,
      origin: ctx.options.string("origin"),
      trustedState: client.trustedState,
      pageEntries,
      onProgress: (p) => progress.update(p),
    }).finally(() => progress.done());
    const seconds = Number(((performance.now() - startedMs) / 1000).toFixed(2));
    const failure = result.ok ? undefined : new VerificationFailed(`audit FAILED${result.failure.index === null ? "" : ` at index ${result.failure.index}`} (${result.failure.kind}): ${result.failure.message}`);
    if (ctx.out.json) {
      await ctx.out.document(auditJson(result, seconds));
      if (failure) throw new ReportedFailure(failure.message, failure);
      return;
    }
    if (failure) throw failure;
    const { stats } = result as Extract<AuditResult, { ok: true }>;
    const lines = [
      `AUDIT OK: ${stats.entries} entries (${stats.puts} puts, ${stats.deletes} deletes, ${stats.keys} keys, ${stats.valueBytes} value bytes) in ${seconds.toFixed(2)}s`,
      `  every value hash, leaf and key chain recomputed; root ${toHex(result.checkpoint!.rootHash)} equals the signed checkpoint (${result.checkpoint!.origin}, size ${result.checkpoint!.size})`,
    ];
    const statePath = ctx.options.string("state");
    const nowTrusted = (await client.trustedState.current())?.size;
    if (result.trustedSize !== null) lines.push(`  consistent with the trusted checkpoint of size ${result.trustedSize}${statePath ? `; ${statePath} now trusts size ${nowTrusted}` : ""}`);
    await ctx.out.lines(lines);
  },
};
