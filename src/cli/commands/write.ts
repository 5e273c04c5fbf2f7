/**
 * @module cli/commands/write. `put` and `delete`: one write each, answered with the receipt once
 * the entry is durable. `--if-version N` makes them conditional (exit 5 when the condition does not
 * hold; nothing is written).
 *
 * Every write carries an idempotency key: `--idempotency-key KEY`, or a random one made for this
 * invocation. After an unknown outcome (504 outcome_unknown, or a connection lost after sending)
 * the write is retried once with the same key, which cannot write twice; if its outcome is still
 * unknown, the message gives the key to run the command again with (exit 4).
 */

import { isUnknownOutcome, newIdempotencyKey, type ReceiptJson } from "../../client/index.ts";
import type { Command } from "../command.ts";
import type { Context } from "../context.ts";
import { ReportedFailure, UsageError } from "../errors.ts";
import { displayKey } from "../output.ts";

const ifVersion = { name: "if-version", value: "N", help: "only if the key's live version is N (0: only if it has no live value)" };
const idempotencyKey = {
  name: "idempotency-key",
  value: "KEY",
  help: "the write's idempotency key (default: a random one per run): the same command run again with it within the node's window writes nothing twice and prints the first receipt",
};

/** Runs a write with its idempotency key; an outcome still unknown after the client's retry names the key to retry with. */
async function keyedWrite(ctx: Context, write: (key: string) => Promise<ReceiptJson>): Promise<ReceiptJson> {
  const key = ctx.options.string("idempotency-key") ?? newIdempotencyKey();
  try {
    return await write(key);
  } catch (error) {
    if (!isUnknownOutcome(error)) throw error;
    throw new ReportedFailure(`${(error as Error).message}\nThe write's outcome is unknown: it may have been applied. Run the same command again with --idempotency-key ${key} to learn it without writing twice.`, error);
  }
}

async function printReceipt(ctx: Context, receipt: ReceiptJson): Promise<void> {
  if (ctx.out.json) return ctx.out.document(receipt);
  const verb = receipt.op === "put" ? "put" : "deleted";
  await ctx.out.lines([`${verb} ${displayKey(receipt.key)}: version ${receipt.version} at index ${receipt.index} (tree size ${receipt.tree_size}), leaf ${receipt.leaf_hash}`]);
}

async function readValueFile(path: string): Promise<Uint8Array<ArrayBuffer>> {
  if (path === "-") return new Uint8Array(await new Response(Bun.stdin.stream()).arrayBuffer());
  const file = Bun.file(path);
  if (!(await file.exists())) throw new UsageError(`--file ${path} does not exist`);
  try {
    return (await file.bytes()) as Uint8Array<ArrayBuffer>;
  } catch (error) {
    throw new UsageError(`--file ${path} cannot be read: ${(error as Error).message}`);
  }
}

export const put: Command = {
  name: "put",
  summary: "store a value under a key",
  usage: ["put KEY VALUE [options]", "put KEY --file PATH [options]"],
  description: `Appends a put of VALUE (as UTF-8 text) or of the bytes of PATH ("-" reads stdin) under KEY,
and prints the receipt once the entry is durable: version, ledger index, leaf hash, tree size.
The content type defaults to text/plain for a VALUE and application/octet-stream for a file.`,
  options: [
    { name: "file", value: "PATH", help: 'store the bytes of PATH instead of a VALUE ("-" = stdin)' },
    { name: "content-type", value: "TYPE", help: "the content type stored with the value" },
    ifVersion,
    idempotencyKey,
  ],
  verifies: false,
  arguments: { min: 1, max: 2 },
  async run(ctx, [key, text]) {
    const file = ctx.options.string("file");
    if ((text === undefined) === (file === undefined)) throw new UsageError("put wants either a VALUE or --file PATH");
    const body = file === undefined ? text! : await readValueFile(file);
    const contentType = ctx.options.string("content-type");
    const ifVersionValue = ctx.options.integer("if-version", 0);
    await printReceipt(ctx, await keyedWrite(ctx, (k) => ctx.http.put(key!, body, { contentType, ifVersion: ifVersionValue, idempotencyKey: k })));
  },
};

export const del: Command = {
  name: "delete",
  summary: "delete a key (appends a tombstone)",
  usage: ["delete KEY [options]"],
  description: `Appends a tombstone for KEY: its latest version becomes a delete and GET answers 404, while
every earlier version stays in the ledger and in its history. Prints the receipt. A key that does
not exist or is already deleted exits 3.`,
  options: [ifVersion, idempotencyKey],
  verifies: false,
  arguments: { min: 1, max: 1 },
  async run(ctx, [key]) {
    const ifVersionValue = ctx.options.integer("if-version", 0);
    await printReceipt(ctx, await keyedWrite(ctx, (k) => ctx.http.delete(key!, { ifVersion: ifVersionValue, idempotencyKey: k })));
  },
};
