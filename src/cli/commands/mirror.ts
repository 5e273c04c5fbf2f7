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
 * DIR/mirror-state.json with the node's verifier key) anchors the next stream's first proof.
 * Once it holds every entry of a node checkpoint, its own tree has that checkpoint's size and
 * root; its own signed checkpoints carry its own key.
 */

import { join } from "node:path";
import { parseVerifierKey, VerificationError, verifyNote, watchLedger, type WatchAnchor, type WatchedEntry } from "../../client/index.ts";
import { bytesEqual, ScribeError, toHex, type ErrorCode } from "../../lib/index.ts";
import type { Checkpoint } from "../../merkle/index.ts";
import type { ImportRecord, ScribeLedger } from "../../embedded.ts";
import type { Command } from "../command.ts";
import { trustOptions, type Context } from "../context.ts";
import { isEvidence, UsageError, VerificationFailed } from "../errors.ts";
import { readStateFile, StateFilePersistence } from "../state-file.ts";

/** Records per import transaction: bounds one transaction's size and how long it holds the event loop. */
const importRecordsMax = 1000;

/** The file in DIR where the mirror keeps the node's verifier key and the last node checkpoint it accepted. */
export const mirrorStateFile = "mirror-state.json";

function checkpointJson(checkpoint: Pick<Checkpoint, "origin" | "size" | "rootHash">) {
  return { origin: checkpoint.origin, tree_size: checkpoint.size, root_hash: toHex(checkpoint.rootHash) };
}

/** The node's verifier key: --key / --key-file, else the one the mirror recorded, else the node's own (trusted on first use). */
async function mirrorKey(ctx: Context, recorded: string | undefined): Promise<string> {
  ctx.options.exclusive("key", "key-file");
  let pinned = ctx.options.string("key")?.trim();
  const keyFile = ctx.options.string("key-file");
  if (keyFile !== undefined) {
    const file = Bun.file(keyFile);
    if (!(await file.exists())) throw new UsageError(`--key-file ${keyFile} does not exist`);
    pinned = (await file.text()).trim();
  }
  if (pinned !== undefined) {
    await parseVerifierKey(pinned).catch((error: Error) => {
      throw new UsageError(`the verifier key is malformed: ${error.message}`);
    });
    if (recorded !== undefined && recorded !== pinned) throw new VerificationFailed(`this mirror follows the log signed by ${recorded}, not ${pinned}`);
    return pinned;
  }
  if (recorded !== undefined) return recorded;
  const fetched = await ctx.http.verifierKey();
  ctx.out.warn(`no verifier key given; trusting the node's key ${fetched} on first use (remembered in the mirror). Pin it with --key.`);
  return fetched;
}

/** Where the mirror resumes: the last node checkpoint it accepted, checked against its own tree. */
async function mirrorAnchor(ledger: ScribeLedger, note: string | null, key: string, origin: string | undefined): Promise<WatchAnchor | undefined> {
  if (note === null) return undefined;
  const checkpoint = await verifyNote(note, [await parseVerifierKey(key)], { origin });
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
      const key = await mirrorKey(ctx, recorded?.verifier_key);
      const persistence = new StateFilePersistence(statePath, ctx.http.endpoints.join(","), key);
      persistence.saveKeyOnly();
      const origin = ctx.options.string("origin");
      const anchor = await mirrorAnchor(ledger, recorded?.checkpoint ?? null, key, origin);
      await follow({ ctx, ledger, key, origin, anchor, persistence, signal: stop.signal });
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
  key: string;
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
    verifiers: [await parseVerifierKey(options.key)],
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
