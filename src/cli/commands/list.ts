/**
 * @module cli/commands/list. `list [PREFIX]`: the keys in UTF-8 byte order with their latest
 * version and index and whether they are deleted, following the /keys cursor page by page and
 * printing each page as it comes, so any number of keys streams in bounded memory.
 */

import type { KeyStateJson } from "../../client/index.ts";
import type { Command } from "../command.ts";
import { consistencyOf, consistencyOption } from "../context.ts";
import { UsageError } from "../errors.ts";
import { displayKey } from "../output.ts";

function keyLine(state: KeyStateJson): string {
  return [displayKey(state.key), String(state.version), String(state.index), state.deleted ? "deleted" : "live"].join("\t");
}

export const list: Command = {
  name: "list",
  summary: "list keys in byte order, with their latest version",
  usage: ["list [PREFIX] [--after KEY] [--limit N] [options]"],
  description: `Lists the keys that start with PREFIX (all keys without one) in UTF-8 byte order, one per
line: key, latest version, latest ledger index, and live or deleted, separated by tabs (a key
with control characters or quotes is printed JSON-quoted). -o json prints
{"keys": [{key, version, index, deleted}], "next": CURSOR}; next is null unless --limit
stopped the listing early, and is what --after takes to continue.`,
  options: [
    { name: "prefix", value: "PREFIX", help: "the same as the PREFIX argument" },
    { name: "after", value: "KEY", help: "start after KEY (a previous listing's last key or next cursor)" },
    { name: "limit", value: "N", help: "list at most N keys" },
    consistencyOption,
  ],
  verifies: false,
  arguments: { min: 0, max: 1 },
  async run(ctx, [prefixArgument]) {
    if (prefixArgument !== undefined && ctx.options.has("prefix")) throw new UsageError("give the PREFIX as an argument or with --prefix, not both");
    const prefix = prefixArgument ?? ctx.options.string("prefix") ?? "";
    const limit = ctx.options.integer("limit", 1);
    const consistency = consistencyOf(ctx.options);
    // json: one document, opened only once the first page arrived so an error leaves stdout empty
    let opened = false;
    let count = 0;
    let next: string | null = null;
    for await (const page of ctx.http.keysPages({ prefix, after: ctx.options.string("after"), limit, consistency })) {
      if (ctx.out.json) {
        const items = page.keys.map((k) => JSON.stringify(k)).join(",");
        await ctx.out.write((opened ? "" : `{"keys":[`) + (count > 0 && items !== "" ? "," : "") + items);
        opened = true;
      } else {
        await ctx.out.lines(page.keys.map(keyLine));
      }
      count += page.keys.length;
      next = page.next;
    }
    if (ctx.out.json) await ctx.out.write(`${opened ? "" : `{"keys":[`}],"next":${JSON.stringify(next)}}\n`);
  },
};
