/**
 * @module cli/commands/history. `history KEY`: every version of a key, oldest first, page by page
 * (GET /history). `--verify` proves the list complete and untampered: the latest entry against a
 * signed checkpoint, the prevIndex chain from it back to the first version, and each version's
 * inclusion in that checkpoint's tree.
 */

import { entryToJson, type HistoryVersion } from "../../client/index.ts";
import { toHex } from "../../lib/index.ts";
import type { Command } from "../command.ts";
import { consistencyOf, consistencyOption, type Context } from "../context.ts";
import { isEvidence, UsageError, VerificationFailed } from "../errors.ts";
import { table } from "../output.ts";

function versionJson(v: HistoryVersion): Record<string, unknown> {
  return { version: v.version, ...entryToJson(v.entry), leaf_hash: toHex(v.leafHash) };
}

function versionRow(v: HistoryVersion): string[] {
  const { entry } = v;
  const what = entry.op === "put" ? [`${entry.valueBytes} bytes`, entry.contentType || "-", toHex(entry.valueHash)] : ["-", "-", "-"];
  return [String(v.version), String(entry.index), entry.op, new Date(entry.timestampMs).toISOString(), ...what];
}

const header = ["VERSION", "INDEX", "OP", "TIME", "SIZE", "CONTENT TYPE", "SHA-256"];

/**
 * Prints the versions as they come, a page at a time (text: one table per page; json: one
 * document, opened only once the first page arrived so an error leaves stdout empty).
 */
async function streamHistory(ctx: Context, key: string, fromVersion: number | undefined, limit: number | undefined): Promise<void> {
  let count = 0;
  const open = `{"key":${JSON.stringify(key)},"versions":[`;
  for await (const page of ctx.http.historyPages(key, { fromVersion, limit, consistency: consistencyOf(ctx.options) })) {
    if (ctx.out.json) await ctx.out.write((count === 0 ? open : ",") + page.map((v) => JSON.stringify(versionJson(v))).join(","));
    else await ctx.out.lines(table([...(count === 0 ? [header] : []), ...page.map(versionRow)]));
    count += page.length;
  }
  if (ctx.out.json) await ctx.out.write(`${count === 0 ? open : ""}]}\n`);
}

async function verifiedHistory(ctx: Context, key: string): Promise<void> {
  const { client } = await ctx.trust();
  let result: Awaited<ReturnType<typeof client.historyVerified>>;
  try {
    result = await client.historyVerified(key);
  } catch (error) {
    if (isEvidence(error)) {
      throw new VerificationFailed(`history of ${JSON.stringify(key)} FAILED verification: ${(error as Error).message}`);
    }
    throw error;
  }
  const { versions, latest } = result;
  const checkpoint = { origin: latest.checkpoint.origin, tree_size: latest.checkpoint.size, root_hash: toHex(latest.checkpoint.rootHash) };
  if (ctx.out.json) return ctx.out.document({ key, versions: versions.map(versionJson), verified: { checkpoint } });
  await ctx.out.lines(table([header, ...versions.map(versionRow)]));
  ctx.out.note(`verified: ${versions.length} version(s), a complete chain ending at index ${latest.entry.index}, each included in the signed tree of size ${checkpoint.tree_size}`);
}

export const history: Command = {
  name: "history",
  summary: "list every version of a key",
  usage: ["history KEY [--from-version N] [--limit N] [options]", "history KEY --verify [options]"],
  description: `Lists the versions of KEY oldest first: version, ledger index, op, time, size, content type
and value hash. --verify proves the list complete and untampered against a signed checkpoint
(the latest entry, the chain of previous indexes back to version 1, an inclusion proof for
every version); it lists the whole history.`,
  options: [
    { name: "from-version", value: "N", help: "start at version N" },
    { name: "limit", value: "N", help: "list at most N versions" },
    consistencyOption,
    { name: "verify", help: "verify the whole history (exit 1 when it does not verify)" },
  ],
  verifies: true,
  arguments: { min: 1, max: 1 },
  async run(ctx, [key]) {
    const fromVersion = ctx.options.integer("from-version", 1);
    const limit = ctx.options.integer("limit", 1);
    if (ctx.options.flag("verify")) {
      if (fromVersion !== undefined || limit !== undefined) throw new UsageError("--verify checks the whole history: give it without --from-version or --limit");
      if (ctx.options.has("consistency")) throw new UsageError("--verify reads the history linearizably: give it without --consistency");
      return verifiedHistory(ctx, key!);
    }
    await streamHistory(ctx, key!, fromVersion, limit);
  },
};
