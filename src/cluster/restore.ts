/**
 * @module restore. `scribe-node restore --from-s3`: rebuilds an EMPTY node's ledger from the bucket
 * alone.
 *
 *  1. The data directory must be empty (or absent): a restore never merges into a ledger.
 *  2. The bucket's checkpoint is opened with the verifier key the operator gives (a signed note
 *     names its key but does not carry it, so the key must come from outside the bucket). With
 *     witness keys, the witnesses' cosignatures are required too: on the checkpoint, or (as the
 *     bucket's checkpoint is older than anything the witnesses saw) through the bucket's
 *     `witnessed-checkpoint`, a newer witnessed checkpoint consistent with it (merkle/witnessed.ts).
 *  3. The bucket's C2SP tiles are authenticated against that checkpoint (src/client TileVerifier:
 *     the partial tiles must hash to its root, every full tile to its parent's hash).
 *  4. restoreFromBucket reads the manifest, then every segment in index order, verifying each
 *     completely (object SHA-256, every entry and value, raw SHA-256, leaves root, running tree
 *     root); then every entry below the checkpoint's size must hash to its leaf in the
 *     authenticated tiles, so a segment that differs from the signed tree is named with its first
 *     bad index before anything of it is applied. Records are re-applied through the node's
 *     state machine by replay.ts, as a follower's catch-up does: the hot tier, tree nodes and
 *     values are rebuilt by the same code, and each resulting leaf must equal the archived one.
 *  5. The rebuilt tree's root at the checkpoint's size must equal the checkpoint's root.
 * A bucket written before tiles existed has none: step 3 is skipped with a warning, and the
 * entries are then checked against the signed root only at the end (step 5).
 * Archived progress is recorded so the restored node does not archive the same ranges again.
 * On any failure the partly written data directory is removed and the error names the object key
 * and index where verification failed.
 */

import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config/index.ts";
import { TileVerifier } from "../client/index.ts";
import { bytesEqual, isScribeError, ScribeError, toHex } from "../lib/index.ts";
import { parseThreshold, requiredCount, verifyCheckpointWitnessed, type Checkpoint, type Threshold } from "../merkle/index.ts";
import { defaultHasher, parseCosignatureVerifierKey, parseVerifierKey } from "../crypto/index.ts";
import { restoredOriginMeta } from "./identity.ts";
import { bucketLogReader, createColdStorage, readCheckpoint, readWitnessedCheckpoint, restoreFromBucket, type ColdStorage, type SegmentDescriptor, type SegmentRecord } from "../storage/cold/index.ts";
import { ensurePrivateDir } from "../storage/index.ts";
import { s3ConfigOf } from "./s3-config.ts";
import { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";
import { replayEntries } from "./replay.ts";

/** Records applied per transaction while restoring (bounds memory and transaction size). */
const restoreBatchEntries = 1000;

export interface RestoreNodeOptions {
  config: Config;
  /** The cluster members' verifier keys ("<name>+<hash>+<base64 key>", as GET /checkpoint/keys lists them). */
  verifierKeys: readonly string[];
  /** How many of them must have signed the bucket's checkpoint (default: a majority). */
  policy?: Threshold;
  /** External witnesses' cosigner keys ("name+keyid+base64(0x04 || key)") whose cosignatures are required. */
  witnessKeys?: readonly string[];
  /** How many of `witnessKeys` must have cosigned (default: all). */
  witnessPolicy?: Threshold;
  logger: Logger;
  /** For tests: replaces the storage built from config.storage.s3. */
  storage?: ColdStorage;
}

export interface RestoreNodeResult {
  entries: number;
  segments: number;
  tree_size: number;
  root: string;
  /** The verified checkpoint from the bucket. */
  checkpoint: { size: number; root: string; origin: string };
}

export async function restoreNode(options: RestoreNodeOptions): Promise<RestoreNodeResult> {
  const { config, logger } = options;
  const dir = config.node.data_dir;
  if (!config.storage.s3.bucket) throw new ScribeError("invalid_request", "storage.s3.bucket is not set: nothing to restore from");
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new ScribeError("conflict", `refusing to restore into ${dir}: the data directory is not empty`);
  }
  if (options.verifierKeys.length === 0) throw new ScribeError("invalid_request", "no verifier key given");
  const members = await Promise.all(options.verifierKeys.map((key) => parseVerifierKey(key.trim()))).catch((error: Error) => {
    throw new ScribeError("invalid_request", `bad verifier key: ${error.message}`);
  });
  const witnesses = await Promise.all((options.witnessKeys ?? []).map((key) => parseCosignatureVerifierKey(key.trim()))).catch((error: Error) => {
    throw new ScribeError("invalid_request", `bad witness key: ${error.message}`);
  });
  const storage = options.storage ?? createColdStorage(s3ConfigOf(config));
  const note = await readCheckpoint(storage.uploader, storage.layout);
  if (note === undefined) throw new ScribeError("not_found", `no checkpoint at ${storage.layout.checkpointKey()} in bucket ${config.storage.s3.bucket}`);
  const witnessesRequired = options.witnessPolicy ?? "all";
  const extension = requiredCount(witnessesRequired, witnesses.length) > 0 ? await readWitnessedCheckpoint(storage.uploader, storage.layout) : undefined;
  let checkpoint: Checkpoint;
  try {
    const verdict = await verifyCheckpointWitnessed(note, { members, membersRequired: options.policy ?? "majority", witnesses, witnessesRequired }, { extension, hasher: defaultHasher()! });
    checkpoint = verdict.checkpoint;
    if (verdict.witnessedBy === "extension") logger.info({ witnessed_size: verdict.witnessedSize, witnesses: verdict.witnesses.map((w) => w.name) }, "restore: the bucket's witnessed-checkpoint extends its checkpoint (witness policy met)");
  } catch (error) {
    throw new ScribeError("verification_failed", `the bucket's checkpoint (${storage.layout.checkpointKey()}) does not verify with the given keys and policy: ${(error as Error).message}`);
  }
  logger.info({ tree_size: checkpoint.size, origin: checkpoint.origin }, "restore: the bucket's checkpoint is signed by the given keys (policy met)");

  const existed = existsSync(dir);
  // Private like a node's own data directory (0700; the database and key inside are 0600).
  ensurePrivateDir(dir);
  let ledger: LedgerState | undefined;
  try {
    ledger = await LedgerState.open(config, logger);
    const sink = new RestoreSink(ledger);
    const tiles = await bucketTiles(storage, checkpoint, logger);
    const result = await restoreFromBucket({
      uploader: storage.uploader,
      layout: storage.layout,
      checkSegment: tiles ? (descriptor, leaves) => checkAgainstTiles(tiles, checkpoint, descriptor, leaves) : undefined,
      sink: (record) => sink.add(record),
      onSegment: (descriptor) => {
        sink.flush();
        ledger!.store.recordArchived(descriptor.last_index + 1);
        logger.info({ object_key: descriptor.object_key, last_index: descriptor.last_index }, "restore: segment verified and applied");
      },
    });
    sink.flush();
    if (result.first_index !== 0) throw new ScribeError("verification_failed", `the bucket's archive starts at index ${result.first_index}, not 0: it cannot rebuild a ledger alone`);
    const tree = ledger.tree;
    if (tree.size !== result.tree_size || toHex(tree.root()) !== result.root) {
      throw new ScribeError("verification_failed", `the rebuilt tree (${tree.size} leaves) differs from the archive's (${result.tree_size} leaves, root ${result.root})`);
    }
    if (checkpoint.size > tree.size) {
      throw new ScribeError("verification_failed", `the checkpoint covers ${checkpoint.size} entries but the bucket's manifest only ${tree.size}`);
    }
    if (!bytesEqual(tree.rootAt(checkpoint.size), checkpoint.rootHash)) {
      throw new ScribeError("verification_failed", `the rebuilt tree's root at size ${checkpoint.size} differs from the signed checkpoint's`);
    }
    // The restored node keeps the log's identity: its first leader fixes this origin (key-registry.ts).
    ledger.store.setMeta(restoredOriginMeta, checkpoint.origin);
    return {
      entries: result.entries,
      segments: result.segments,
      tree_size: tree.size,
      root: toHex(tree.root()),
      checkpoint: { size: checkpoint.size, root: toHex(checkpoint.rootHash), origin: checkpoint.origin },
    };
  } catch (error) {
    ledger?.close();
    ledger = undefined;
    // Leave the directory as it was: absent, or empty (it may be a mount point).
    if (existed) for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
    else rmSync(dir, { recursive: true, force: true });
    throw error;
  } finally {
    ledger?.close();
  }
}

/**
 * A verifier of the bucket's tiles, authenticated against the signed checkpoint (its first tile
 * is read and checked up to the root now); undefined when the bucket has no tiles.
 */
async function bucketTiles(storage: ColdStorage, checkpoint: Checkpoint, logger: Logger): Promise<TileVerifier | undefined> {
  if (checkpoint.size === 0) return undefined;
  const tiles = await TileVerifier.create({ source: bucketLogReader(storage.uploader, storage.layout), hasher: defaultHasher()! });
  try {
    await tiles.leafHash(0, checkpoint);
  } catch (error) {
    if (isScribeError(error) && error.code === "not_found") {
      logger.warn({ reason: error.message }, "restore: the bucket has no tiles (written before they existed); entries are checked against the signed root at the end only");
      return undefined;
    }
    if (isScribeError(error) && error.code === "verification_failed") throw new ScribeError("verification_failed", `the bucket's tiles do not match its signed checkpoint: ${error.message}`);
    throw error;
  }
  logger.info({ tree_size: checkpoint.size }, "restore: the bucket's tiles match the signed checkpoint; every entry is checked against them");
  return tiles;
}

/** Every entry of the segment below the checkpoint's size must be the signed tree's leaf. */
async function checkAgainstTiles(tiles: TileVerifier, checkpoint: Checkpoint, descriptor: SegmentDescriptor, leaves: readonly Uint8Array[]): Promise<void> {
  for (let i = 0; i < leaves.length; i++) {
    const index = descriptor.first_index + i;
    if (index >= checkpoint.size) return; // past the signed tree: only the manifest vouches for it
    const signed = await tiles.leafHash(index, checkpoint);
    if (!bytesEqual(signed, leaves[i]!)) {
      throw new ScribeError(
        "verification_failed",
        `segment ${descriptor.object_key}: entry ${index} hashes to leaf ${toHex(leaves[i]!)}, but the signed tree's tiles hold ${toHex(signed)}`,
        { object_key: descriptor.object_key, index },
      );
    }
  }
}

/** Applies records in order through the state machine, checking each leaf against the archive. */
class RestoreSink {
  private pending: SegmentRecord[] = [];

  constructor(private readonly ledger: LedgerState) {}

  add(record: SegmentRecord): void {
    this.pending.push(record);
    if (this.pending.length >= restoreBatchEntries) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const records = this.pending;
    this.pending = [];
    replayEntries(this.ledger, records, "restore");
  }
}

export const restoreUsage = `usage: scribe-node restore --from-s3 --verifier-key KEY... | --verifier-key-file FILE [--policy N|majority|all] [--witness KEY]... [--witness-policy N|majority|all] [--config FILE] [--data-dir DIR]
  --from-s3                rebuild the ledger from [storage.s3] (bucket, prefix, endpoint, ...)
  --verifier-key KEY       a member's checkpoint verifier key (GET /checkpoint/keys of the old cluster); repeat it for each member
  --verifier-key-file FILE the same, read from a file, one key per line
  --policy N|majority|all  how many of the keys must have signed the bucket's checkpoint (default: majority)
  --witness KEY            an external witness's cosigner key (name+keyid+base64, cosignature/v1) whose
                           cosignature is required, on the checkpoint or through witnessed-checkpoint; repeat it
  --witness-policy N|majority|all  how many of the --witness keys must have cosigned (default: all)
  --config FILE            TOML configuration file (the [storage.s3] section is what matters)
  --data-dir DIR           node.data_dir to create; must be empty or absent
Restores an EMPTY data directory from the bucket, verifying every segment against the manifest
and the rebuilt tree against the bucket's signed checkpoint; it does not start the server.
Exit status: 0 restored, 1 verification or S3 failure (nothing is left behind), 2 usage error.`;

/**
 * The `restore` subcommand: parses its flags, loads the configuration, restores, prints a JSON
 * summary on stdout or `scribe-node: restore failed: <reason>` on stderr. Returns the exit code.
 */
export async function restoreCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  deps: { loadConfig: (options: { file?: string; env: Record<string, string | undefined>; overrides: Record<string, unknown> }) => Config; createLogger: (config: Config) => Logger },
): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        "from-s3": { type: "boolean" },
        "verifier-key": { type: "string", multiple: true },
        policy: { type: "string" },
        witness: { type: "string", multiple: true },
        "witness-policy": { type: "string" },
        "verifier-key-file": { type: "string" },
        config: { type: "string" },
        "data-dir": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`scribe-node restore: ${(error as Error).message}\n${restoreUsage}`);
    return 2;
  }
  if (flags.help) {
    console.log(restoreUsage);
    return 0;
  }
  if (!flags["from-s3"]) {
    console.error(`scribe-node restore: --from-s3 is required (the only source there is)\n${restoreUsage}`);
    return 2;
  }
  const verifierKeys = [...(flags["verifier-key"] ?? [])];
  if (flags["verifier-key-file"] !== undefined) {
    try {
      verifierKeys.push(...readFileSync(flags["verifier-key-file"], "utf8").split("\n").map((line) => line.trim()).filter((line) => line !== ""));
    } catch (error) {
      console.error(`scribe-node restore: cannot read ${flags["verifier-key-file"]}: ${(error as Error).message}`);
      return 2;
    }
  }
  const policy = flags.policy === undefined ? undefined : parseThreshold(flags.policy);
  if (flags.policy !== undefined && policy === undefined) {
    console.error(`scribe-node restore: --policy wants a count, majority or all; got ${JSON.stringify(flags.policy)}\n${restoreUsage}`);
    return 2;
  }
  const witnessKeys = [...(flags.witness ?? [])];
  const witnessPolicy = flags["witness-policy"] === undefined ? undefined : parseThreshold(flags["witness-policy"]);
  if (flags["witness-policy"] !== undefined && (witnessPolicy === undefined || witnessKeys.length === 0)) {
    console.error(`scribe-node restore: --witness-policy wants a count, majority or all, with --witness keys; got ${JSON.stringify(flags["witness-policy"])}\n${restoreUsage}`);
    return 2;
  }
  if (verifierKeys.length === 0) {
    console.error(`scribe-node restore: give the checkpoint verifier key (--verifier-key or --verifier-key-file): the bucket's checkpoint is only trusted if it verifies with a key you hold\n${restoreUsage}`);
    return 2;
  }
  let config: Config;
  try {
    config = deps.loadConfig({ file: flags.config, env, overrides: flags["data-dir"] !== undefined ? { "node.data_dir": flags["data-dir"] } : {} });
  } catch (error) {
    console.error(`scribe-node restore: configuration error: ${(error as Error).message}`);
    return 2;
  }
  const logger = deps.createLogger(config);
  try {
    const result = await restoreNode({ config, verifierKeys, policy, witnessKeys, witnessPolicy, logger });
    console.log(JSON.stringify({ restored: true, data_dir: config.node.data_dir, ...result }));
    return 0;
  } catch (error) {
    console.error(`scribe-node: restore failed: ${(error as Error).message}`);
    return 1;
  }
}
