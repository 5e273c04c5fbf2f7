/**
 * @module cli/commands/watch. `watch`: follows GET /watch and prints only what verified
 * (src/client/watch.ts): each entry once a signed checkpoint covering it verified, and each
 * checkpoint once it proved consistent with the one before — the first with the checkpoint the
 * client trusts (fetched and checked against --state when one is kept, which then moves forward).
 * `--follow` resumes across stream ends from the last verified position.
 */

import { entryToJson, watchLedger, type VerifiedCheckpoint, type WatchedEntry, type WatchEnd } from "../../client/index.ts";
import { fromUtf8, ScribeError, toBase64, toHex as hexOf, type ErrorCode } from "../../lib/index.ts";
import type { Checkpoint } from "../../merkle/index.ts";
import type { Command } from "../command.ts";
import type { Context } from "../context.ts";
import { isEvidence, UsageError, VerificationFailed } from "../errors.ts";
import { displayKey } from "../output.ts";

/** Clean ends of a stream: the node said why, and nothing is lost (resume from the verified position). */
const cleanEnds = new Set(["until", "leader_changed", "shutting_down"]);

function checkpointJson(checkpoint: Checkpoint) {
  return { origin: checkpoint.origin, tree_size: checkpoint.size, root_hash: hexOf(checkpoint.rootHash) };
}

function entryLineJson(watched: WatchedEntry, values: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { ...entryToJson(watched.entry), version: watched.version, leaf_hash: hexOf(watched.leafHash) };
  if (values) {
    if (watched.value !== undefined) body.value_base64 = toBase64(watched.value);
    else Object.assign(body, { value_base64: null, value_error: watched.valueError ?? null });
  }
  return body;
}

/** A value for text output: the text when it is printable UTF-8, else its size. */
function valueText(watched: WatchedEntry): string {
  if (watched.value === undefined) return watched.valueError ? `(not served: ${watched.valueError})` : "";
  try {
    const text = fromUtf8(watched.value);
    if (!/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) return JSON.stringify(text);
  } catch {
    // not UTF-8
  }
  return `(${watched.value.length} bytes, binary)`;
}

function entryLineText(watched: WatchedEntry, values: boolean): string {
  const { entry } = watched;
  const what = entry.op === "put" ? `${entry.valueBytes} bytes` : "-";
  const columns = [String(entry.index), entry.op, displayKey(entry.key), `v${watched.version}`, new Date(entry.timestampMs).toISOString(), what];
  if (values && entry.op === "put") columns.push(valueText(watched));
  return columns.join("\t");
}

function checkpointText(verified: VerifiedCheckpoint): string {
  const { checkpoint, consistentWith } = verified;
  const chain = consistentWith === null ? "first checkpoint" : `consistent with size ${consistentWith}`;
  return `checkpoint\tsize ${checkpoint.size}\troot ${hexOf(checkpoint.rootHash)}\tverified, ${chain}; entries below ${verified.nextIndex} verified`;
}

/** A stream's end: a note on stderr; an error end is the command's failure unless following. */
function reportEnd(ctx: Context, end: WatchEnd, follow: boolean): void {
  const why = end.message ? `${end.reason}: ${end.message}` : end.reason;
  const dropped = end.unverified > 0 ? `; ${end.unverified} unverified entries dropped` : "";
  const next = follow && end.reason !== "until" ? `; resuming from ${end.nextIndex}` : "";
  ctx.out.note(`the stream ended (${why}) at index ${end.nextIndex}${dropped}${next}`);
  if (!follow && !cleanEnds.has(end.reason)) throw new ScribeError((end.code as ErrorCode | null) === "slow_consumer" ? "slow_consumer" : "unavailable", `the stream ended with ${why}; resume with --from ${end.nextIndex}`);
}

export const watch: Command = {
  name: "watch",
  summary: "follow the ledger's changes, each verified against a signed checkpoint",
  usage: ["watch [--from INDEX] [--prefix PREFIX] [--values] [--until INDEX] [--follow] [options]"],
  description: `Follows GET /watch and prints each entry only once a signed checkpoint covering it verified:
its leaf recomputed, every received leaf rebuilt into the signed root (with --prefix: an
inclusion proof per entry), the checkpoint's signature checked and proved consistent with the
one before — the first with the checkpoint trusted at the start (GET /checkpoint, checked
against --state, which moves forward with every verified checkpoint). Without --from it starts
at the current checkpoint's size (new entries only). --follow resumes after the node ends a
stream (leader change, shutdown, slow consumer) or the connection drops, from the last verified
index; without it the command ends with the stream.`,
  options: [
    { name: "from", value: "INDEX", help: "the first index to stream (default: the current checkpoint's size)" },
    { name: "prefix", value: "PREFIX", help: "only entries of keys starting with PREFIX (proved one by one with inclusion proofs)" },
    { name: "values", help: "print the values too (checked against their entries' hashes)" },
    { name: "until", value: "INDEX", help: "stop once every entry below INDEX was verified" },
    { name: "follow", help: "keep following across stream ends, resuming from the last verified index" },
  ],
  verifies: true,
  arguments: { min: 0, max: 0 },
  async run(ctx) {
    const fromGiven = ctx.options.integer("from", 0);
    const until = ctx.options.integer("until", 0);
    if (until !== undefined && fromGiven !== undefined && until < fromGiven) throw new UsageError(`--until ${until} is below --from ${fromGiven}`);
    const prefix = ctx.options.string("prefix");
    if (prefix === "") throw new UsageError("--prefix wants a non-empty prefix (leave it out to watch every key)");
    const values = ctx.options.flag("values");
    const follow = ctx.options.flag("follow");
    const { client } = await ctx.trust();
    const verify = async <T>(what: () => Promise<T>): Promise<T> => {
      try {
        return await what();
      } catch (error) {
        if (isEvidence(error)) throw new VerificationFailed(`watch: verification FAILED: ${(error as Error).message}`);
        throw error;
      }
    };
    const trusted = await verify(() => client.refreshCheckpoint());
    const from = fromGiven ?? trusted.size;
    const stream = watchLedger({
      http: ctx.http,
      from,
      prefix,
      values,
      until,
      follow,
      verifiers: client.trustedState.members,
      policy: client.policy,
      origin: ctx.options.string("origin"),
      anchor: { size: trusted.size, rootHash: trusted.rootHash },
      onRetry: (error, attempt, delayMs) => ctx.out.note(`cannot follow the stream (${(error as Error).message}); attempt ${attempt}, retrying in ${delayMs} ms`),
    });
    let previous: Checkpoint = trusted;
    let printedNext = -1;
    await verify(async () => {
      for await (const event of stream) {
        if (event.kind === "end") {
          reportEnd(ctx, event, follow);
          continue;
        }
        const { entries, checkpoint } = event;
        // A repeat of the last checkpoint (the node's heartbeat at a quiet head) says nothing new.
        if (entries.length === 0 && checkpoint.checkpoint.size === previous.size && printedNext === checkpoint.nextIndex) continue;
        printedNext = checkpoint.nextIndex;
        // The stream proved this checkpoint consistent with the trusted one: the state moves on.
        const proved = { from: previous.size, to: checkpoint.checkpoint.size, from_root: hexOf(previous.rootHash), to_root: hexOf(checkpoint.checkpoint.rootHash), proof: checkpoint.proof.map(hexOf) };
        await client.trustedState.update(checkpoint.note, async (older, newer) => (older === proved.from && newer === proved.to ? proved : ctx.http.consistency(older, newer)));
        previous = checkpoint.checkpoint;
        if (ctx.out.json) {
          const lines = entries.map((e) => JSON.stringify(entryLineJson(e, values)));
          lines.push(JSON.stringify({ checkpoint: checkpointJson(checkpoint.checkpoint), next_index: checkpoint.nextIndex, consistent_with: checkpoint.consistentWith }));
          await ctx.out.lines(lines);
        } else {
          await ctx.out.lines([...entries.map((e) => entryLineText(e, values)), checkpointText(checkpoint)]);
        }
      }
    });
  },
};
