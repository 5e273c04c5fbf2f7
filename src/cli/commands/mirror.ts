/**
 * @module cli/commands/mirror. `mirror --to DIR`: follows a node's GET /watch stream (values
 * included) into a local embedded ledger (src/embedded.ts) and applies nothing unverified. A
 * range of entries is imported only once a signed checkpoint covering it verified: its leaves,
 * rebuilt on top of the mirror's own tree, must give a root the checkpoint's tree starts with,
 * and the checkpoint must be consistent with the last one the mirror accepted. The import itself
 * re-applies each entry at its original index with its original timestamp through the ledger's
 * state machine (ScribeLedger.importEntries), which must reproduce every leaf.
 *
 * The mirror resumes where it stopped: its own ledger size is the next `from`, its own compact
 * range must match the node's frontier, and the last node checkpoint it accepted (kept in
 * DIR/mirror-state.json with the cluster's member keys) anchors the next stream's first proof,
 * and every checkpoint is verified under the policy (a majority of the member keys by default).
 * Once it holds every entry of a node checkpoint, its own tree has that checkpoint's size and
 * root; its own signed checkpoints carry its own key.
 */

import { join } from "node:path";
import { VerificationError, verifyUnderPolicy, watchLedger, type LedgerClient, type WatchAnchor, type WatchedEntry } from "../../client/index.ts";
import { bytesEqual, ScribeError, toHex, type ErrorCode } from "../../lib/index.ts";
import type { Checkpoint } from "../../merkle/index.ts";
import type { ImportRecord, ScribeLedger } from "../../embedded.ts";
import type { Command } from "../command.ts";
import { resolveTrust, trustOptions, type Context } from "../context.ts";
import { isEvidence, UsageError, VerificationFailed } from "../errors.ts";
import { readStateFile, type StateFilePersistence } from "../state-file.ts";

/** Records per import transaction: bounds one transaction's size and how long it holds the event loop. */
const importRecordsMax = 1000;

/** The file in DIR where the mirror keeps the cluster's member keys and the last node checkpoint it accepted. */
export const mirrorStateFile = "mirror-state.json";

function checkpointJson(checkpoint: Pick<Checkpoint, "origin" | "size" | "rootHash">) {
  return { origin: checkpoint.origin, tree_size: checkpoint.size, root_hash: toHex(checkpoint.rootHash) };
}

/** Where the mirror resumes: the last node checkpoint it accepted, checked against its own tree. */
async function mirrorAnchor(ledger: ScribeLedger, note: string | null, client: LedgerClient, origin: string | undefined): Promise<WatchAnchor | undefined> {
  if (note === null) return undefined;
  const checkpoint = await verifyUnderPolicy(note, { verifiers: client.trustedState.members, policy: client.policy, origin });
  if (checkpoint.size <= ledger.size && !bytesEqual(ledger.root(checkpoint.size), checkpoint.rootHash)) {
    throw new VerificationFailed(`the mirror's tree at size ${checkpoint.size} is not the node's checkpoint it accepted before (${toHex(checkpoint.rootHash)}): the mirror's data changed`);
  }
  return { size: checkpoint.size, rootHash: checkpoint.rootHash };
}

/** Imports a verified range, a transaction per importRecordsMax records; a value the node could not hand out stops the mirror. */
function importVerified(ledger: ScribeLedger, entries: readonly WatchedEntry[]): void {
  for (let start = 0; start < entries.length; start += importRecordsMax) {
    const records: ImportRecord[] = entries.slice(start, start + importRecordsMax).map((watched) => {
      if (watched.value === undefined) {
        const code = (watched.valueError ?? "unavailable") as ErrorCode;
        throw new ScribeError(code === "corrupt_value" || code === "corrupt_entry" ? code : "unavailable", `the node could not hand out the value of entry ${watched.entry.index} (${watched.valueError}); nothing from it on was applied`);
      }
      return { entry: watched.entry, value: watched.value, leafHash: watched.leafHash };
    });
    ledger.importEntries(records);
  }
}

export const mirror: Command = {
  name: "mirror",
  summary: "follow a node into a local ledger, applying only what verified",
  usage: ["mirror --to DIR [--once] [options]"],
  description: `Follows the node's change feed (GET /watch with values) into the embedded ledger in DIR and
applies nothing unverified: a range of entries is imported only once a signed checkpoint covering
it verified (its leaves rebuilt on the mirror's own tree give a root the checkpoint's tree starts
with; the checkpoint is consistent with the last one accepted), each entry at its original index
and timestamp, re-applied through the ledger's state machine. It resumes where it stopped (its
own size is the next index; DIR/mirror-state.json keeps the node's key and last checkpoint). A
mirror that holds a whole checkpoint has its tree size and root. Runs until interrupted; --once
stops as soon as the mirror equals a node checkpoint.`,
  options: [
    { name: "to", value: "DIR", help: "the mirror's data directory (created if needed); the mirror ledger takes no writes of its own" },
    { name: "once", help: "stop as soon as the mirror holds every entry of a verified node checkpoint" },
    // The trust options but --state: the mirror keeps its trusted state in DIR.
    ...trustOptions.filter((option) => option.name !== "state"),
  ],
  verifies: false,
  arguments: { min: 0, max: 0 },
  async run(ctx) {
    const dir = ctx.options.string("to");
    if (dir === undefined || dir === "") throw new UsageError("mirror needs --to DIR");
    const statePath = join(dir, mirrorStateFile);
    // Loaded here: the engine is large, and no other command needs it.
    const { ScribeLedger } = await import("../../embedded.ts");
    const ledger = await ScribeLedger.open(dir);
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once("SIGINT", interrupt);
    process.once("SIGTERM", interrupt);
    try {
      const recorded = readStateFile(statePath);
      // The node's member keys and policy, remembered in DIR (trusted on first use unless pinned).
      const { client, persistence } = await resolveTrust({ http: ctx.http, options: ctx.options, out: ctx.out, statePath });
      const origin = ctx.options.string("origin");
      const anchor = await mirrorAnchor(ledger, recorded?.checkpoint ?? null, client, origin);
      await follow({ ctx, ledger, client, origin, anchor, persistence: persistence!, signal: stop.signal });
    } catch (error) {
      if (isEvidence(error) || error instanceof VerificationError) throw new VerificationFailed(`mirror: verification FAILED, nothing of it applied: ${(error as Error).message}`);
      throw error;
    } finally {
      process.off("SIGINT", interrupt);
      process.off("SIGTERM", interrupt);
      await ledger.close();
    }
  },
};

interface FollowOptions {
  ctx: Context;
  ledger: ScribeLedger;
  client: LedgerClient;
  origin: string | undefined;
  anchor: WatchAnchor | undefined;
  persistence: StateFilePersistence;
  signal: AbortSignal;
}

async function follow(options: FollowOptions): Promise<void> {
  const { ctx, ledger, persistence, signal } = options;
  const stream = watchLedger({
    http: ctx.http,
    from: ledger.size,
    values: true,
    follow: true,
    verifiers: options.client.trustedState.members,
    policy: options.client.policy,
    origin: options.origin,
    anchor: options.anchor,
    frontier: ledger.compactRange(),
    signal,
    onRetry: (error, attempt, delayMs) => ctx.out.note(`cannot follow the node (${(error as Error).message}); attempt ${attempt}, retrying in ${delayMs} ms`),
  });
  let lastNodeSize = -1;
  for await (const event of stream) {
    if (event.kind === "end") {
      ctx.out.note(`the node ended the stream (${event.message ? `${event.reason}: ${event.message}` : event.reason}); resuming from ${event.nextIndex}`);
      continue;
    }
    const { entries, checkpoint } = event;
    const before = ledger.size;
    // A repeat of the last checkpoint (the node's heartbeat at a quiet head) changes nothing.
    if (entries.length === 0 && checkpoint.checkpoint.size === lastNodeSize && !ctx.options.flag("once")) continue;
    lastNodeSize = checkpoint.checkpoint.size;
    importVerified(ledger, entries);
    if (ledger.size !== checkpoint.nextIndex) throw new ScribeError("internal", `the mirror has ${ledger.size} entries after importing up to ${checkpoint.nextIndex}`);
    if (checkpoint.rootAtNext && !bytesEqual(ledger.root(), checkpoint.rootAtNext)) throw new VerificationError(`the mirror's root at size ${ledger.size} differs from the verified one`);
    persistence.save(checkpoint.note);
    const node = checkpoint.checkpoint;
    const equal = ledger.size === node.size;
    const report = { tree_size: ledger.size, root_hash: toHex(ledger.root()), applied: ledger.size - before, node_checkpoint: checkpointJson(node), equal };
    if (ctx.out.json) await ctx.out.document(report);
    else await ctx.out.lines([`mirrored ${report.applied} entries: size ${report.tree_size}, root ${report.root_hash}${equal ? " (equals the node's verified checkpoint)" : ` (node checkpoint size ${node.size})`}`]);
    if (equal && ctx.options.flag("once")) break;
  }
}
