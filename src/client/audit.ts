/**
 * @module client/audit. Walks a whole Scribe Ledger from index 0 up to a signed checkpoint and
 * checks everything from the bytes up, trusting nothing the server computed: every value is hashed
 * and compared with its entry, every leaf is recomputed from the entry's canonical encoding (the
 * server's `leaf_hash` is ignored), the root is rebuilt incrementally and must equal the signed
 * one, every key's prevIndex chain must link, and the checkpoint must be consistent with the one
 * trusted before (a TrustedState, e.g. a state file). A failure names the FIRST bad index.
 *
 * Localising a bad leaf: a wrong leaf only shows as a wrong root. A prefix of m recomputed leaves
 * is right exactly when its root verifies against the signed root with a consistency proof m → n,
 * and prefixes stay right as they shrink, so a binary search over m finds the first bad leaf with
 * O(log n) proofs. A lying server can only make that search point at a wrong index, never hide a
 * bad one: a root that verifies is evidence.
 *
 * Portable: no Bun or Node imports; the source is three async functions (an HTTP one is given).
 */

import { consistencyProofFromJson, encodeEntry, entryFromJson, hashBytes, type Entry } from "../ledger/index.ts";
import { bytesEqual, fromBase64, isScribeError, toHex } from "../lib/index.ts";
import { MemoryTreeStore, MerkleTree, VerificationError, verifyConsistency, type Checkpoint, type Hasher, type CheckpointPolicy, type NoteVerifier } from "../merkle/index.ts";
import { loadHasher } from "../crypto/index.ts";
import { isTransportError, ScribeHttpClient, type FetchLike } from "./http-client.ts";
import { MemoryPersistence, TrustedState, verifyUnderPolicy } from "./trusted-state.ts";
import { verifyValue } from "./verify.ts";

/** Where the auditor reads the ledger from (the raw, unverified server answers). */
export interface AuditSource {
  /** GET /checkpoint: the signed note text. */
  checkpoint(): Promise<string>;
  /** GET /entries?from=&limit=&values=true: parsed JSON `{entries: [...]}`. */
  entries(from: number, limit: number): Promise<unknown>;
  /** GET /proof/consistency?from=&to=: parsed JSON. */
  consistency(from: number, to: number): Promise<unknown>;
}

/** Entries per GET /entries page by default: values ride along, so pages stay a few MB. */
export const auditPageEntriesDefault = 500;
/** The server's own cap on one page (GET /entries answers at most 10 000). */
export const auditPageEntriesMax = 10_000;
/**
 * Value bytes one page aims at: pages of large values shrink so a response stays near 20 MB of
 * JSON (base64 adds a third), whatever the requested entry count; pages of small values regrow.
 */
export const auditPageValueBytesTarget = 16 * 1024 * 1024;

export interface AuditProgress {
  /** Entries checked so far. */
  entries: number;
  /** Entries to check (the signed checkpoint's tree size). */
  total: number;
  /** Value bytes hashed so far. */
  valueBytes: number;
}

export interface AuditOptions {
  source: AuditSource;
  /** Keys whose signatures make a checkpoint acceptable. */
  verifiers: readonly NoteVerifier[];
  /** How many of `verifiers` must have signed (default: a majority) and which witnesses must have cosigned. */
  policy?: Omit<CheckpointPolicy, "members" | "origin">;
  /** When given, the checkpoint's origin must equal it. */
  origin?: string;
  /**
   * The checkpoint trusted before. The new one must be consistent with it (server proof) and the
   * recomputed tree must have its root at its size (own computation). It is moved forward to the
   * audited checkpoint only when the whole audit passes.
   */
  trustedState?: TrustedState;
  /** Entries per page (1..auditPageEntriesMax); fewer while values are large. */
  pageEntries?: number;
  /** Value bytes a page aims at (default auditPageValueBytesTarget). */
  pageValueBytesTarget?: number;
  /** Called after every page. */
  onProgress?: (progress: AuditProgress) => void;
  hasher?: Hasher;
}

export type AuditFailureKind =
  | "checkpoint" // the signed checkpoint does not verify
  | "consistency" // the checkpoint contradicts the trusted one
  | "entry" // an entry is malformed or out of place
  | "value" // a value does not match its entry's hash or size, or is missing
  | "chain" // a key's prevIndex does not link to its previous entry
  | "leaf" // an entry does not hash to its leaf in the signed tree
  | "missing"; // the server returned fewer entries than the checkpoint covers

export interface AuditFailure {
  kind: AuditFailureKind;
  /** The first bad ledger index, or null when the failure is not about one entry. */
  index: number | null;
  message: string;
}

export interface AuditStats {
  entries: number;
  puts: number;
  deletes: number;
  keys: number;
  valueBytes: number;
}

export type AuditResult =
  | { ok: true; checkpoint: Checkpoint; note: string; trustedSize: number | null; stats: AuditStats }
  | { ok: false; failure: AuditFailure; checkpoint: Checkpoint | null; trustedSize: number | null; stats: AuditStats };

/**
 * An AuditSource over HTTP: a node's base URL (with the global fetch, or `options.fetch`), or a
 * ScribeHttpClient (its endpoints, failover, API key and timeout). Portable: Bun, Node, browsers.
 */
export function httpAuditSource(node: string | ScribeHttpClient, options: { headers?: Record<string, string>; fetch?: FetchLike } = {}): AuditSource {
  const http = typeof node === "string" ? new ScribeHttpClient({ endpoints: [node], headers: options.headers, fetch: options.fetch }) : node;
  return {
    checkpoint: () => http.checkpointNote(),
    entries: (from, limit) => http.entries(from, limit, { values: true }),
    consistency: (from, to) => http.consistency(from, to),
  };
}

/** Per-key state the walk keeps: the index of the key's latest entry so far. */
type KeyHeads = Map<string, number>;

/** What one entry item of a page says, or why it is bad (leaf helper: computes, returns). */
function checkItem(item: unknown, index: number, heads: KeyHeads, hasher: Hasher): { entry?: Entry; failure?: AuditFailure } {
  let entry: Entry;
  try {
    entry = entryFromJson(item, `entries[${index}]`);
  } catch (error) {
    return { failure: { kind: "entry", index, message: `entry ${index} is malformed: ${(error as Error).message}` } };
  }
  if (entry.index !== index) return { failure: { kind: "entry", index, message: `expected entry ${index}, the server sent entry ${entry.index}` } };
  const wantedPrev = heads.get(entry.key) ?? -1;
  if (entry.prevIndex !== wantedPrev) {
    const message =
      wantedPrev === -1
        ? `entry ${index} (key ${JSON.stringify(entry.key)}) links to previous index ${entry.prevIndex}, but it is the key's first entry (wanted -1)`
        : `entry ${index} (key ${JSON.stringify(entry.key)}) links to previous index ${entry.prevIndex}, but the key's previous entry is ${wantedPrev}`;
    return { entry, failure: { kind: "chain", index, message } };
  }
  const { value_base64: encoded, value_error: valueError } = item as { value_base64?: unknown; value_error?: unknown };
  if (typeof encoded !== "string") {
    // The server names why it withholds a value (e.g. corrupt_value: its stored copy fails its hash).
    const why = typeof valueError === "string" ? `: the server reports ${valueError}` : "";
    return { entry, failure: { kind: "value", index, message: `the value of entry ${index} (key ${JSON.stringify(entry.key)}) is missing (value_base64 is ${JSON.stringify(encoded ?? null)})${why}` } };
  }
  const value = fromBase64(encoded);
  if (!value) return { entry, failure: { kind: "value", index, message: `the value of entry ${index} is not valid base64` } };
  try {
    verifyValue(value, entry, hasher);
  } catch (error) {
    return { entry, failure: { kind: "value", index, message: `value of entry ${index} (key ${JSON.stringify(entry.key)}) does not match its entry: ${(error as Error).message}` } };
  }
  return { entry };
}

/**
 * Whether the first `size` recomputed leaves are the first `size` leaves of the signed tree:
 * their root verifies against the signed root with a consistency proof (or equals it at n).
 */
async function prefixMatches(tree: MerkleTree, size: number, checkpoint: Checkpoint, source: AuditSource, hasher: Hasher): Promise<boolean> {
  if (size === 0) return true;
  const root = tree.rootAt(size);
  if (size === checkpoint.size) return bytesEqual(root, checkpoint.rootHash);
  const proof = consistencyProofFromJson(await source.consistency(size, checkpoint.size));
  if (proof.from !== size || proof.to !== checkpoint.size) return false;
  try {
    verifyConsistency(hasher, size, checkpoint.size, proof.proof, root, checkpoint.rootHash);
    return true;
  } catch (error) {
    if (error instanceof VerificationError) return false;
    throw error;
  }
}

/** The first index below tree.size whose recomputed leaf is not the signed tree's, if any. */
async function firstBadLeaf(tree: MerkleTree, checkpoint: Checkpoint, source: AuditSource, hasher: Hasher): Promise<number | undefined> {
  if (await prefixMatches(tree, tree.size, checkpoint, source, hasher)) return undefined;
  let good = 0;
  let bad = tree.size;
  while (bad - good > 1) {
    const middle = good + Math.floor((bad - good) / 2);
    if (await prefixMatches(tree, middle, checkpoint, source, hasher)) good = middle;
    else bad = middle;
  }
  return good;
}

/** The entry at `index` as the server tells it (only to name its key in a report), if parseable. */
async function describeEntryAt(source: AuditSource, index: number): Promise<Entry | undefined> {
  try {
    const page = (await source.entries(index, 1)) as { entries?: unknown[] };
    return entryFromJson(page.entries?.[0]);
  } catch {
    return undefined;
  }
}

function leafFailure(index: number, tree: MerkleTree, entry: Entry | undefined, also?: AuditFailure): AuditFailure {
  const leaf = index < tree.size ? toHex(tree.leafHash(index)) : "?";
  const what = entry ? `entry ${index} (key ${JSON.stringify(entry.key)})` : `entry ${index}`;
  let message = `${what} does not match leaf ${index} of the signed tree: its fields hash to leaf ${leaf}, which the signed root does not include (the entry was altered after it was committed)`;
  if (also && also.index === index) message += `; also: ${also.message}`;
  return { kind: "leaf", index, message };
}

/** Outcome of checking one page: the leaves of its good entries, and the first failure, if any. */
interface PageCheck {
  /** Leaf hashes, back to back: every good entry's, plus the failing entry's when it parsed. */
  leaves: Uint8Array;
  failure?: AuditFailure;
  failedEntry?: Entry;
}

/** Checks a page's entries in order, updating heads and stats, stopping at the first failure. */
function checkPage(items: readonly unknown[], from: number, heads: KeyHeads, stats: AuditStats, hasher: Hasher): PageCheck {
  const leaves = new Uint8Array(items.length * hashBytes);
  for (let count = 0; count < items.length; count++) {
    const { entry, failure } = checkItem(items[count], from + count, heads, hasher);
    if (entry) leaves.set(hasher.hashLeaf(encodeEntry(entry)), count * hashBytes);
    if (failure) return { leaves: leaves.subarray(0, (count + (entry ? 1 : 0)) * hashBytes), failure, failedEntry: entry };
    heads.set(entry!.key, entry!.index);
    if (entry!.op === "put") stats.puts++;
    else stats.deletes++;
    stats.valueBytes += entry!.valueBytes;
  }
  return { leaves };
}

/**
 * Verifies the server's checkpoint note and, when a note was trusted before, its consistency
 * with it (in a scratch state: the caller's moves only once the whole audit has passed).
 */
async function openCheckpoint(note: string, trustedNote: string | undefined, options: AuditOptions, hasher: Hasher): Promise<{ checkpoint: Checkpoint | null; failure?: AuditFailure }> {
  let checkpoint: Checkpoint;
  try {
    checkpoint = await verifyUnderPolicy(note, options);
  } catch (error) {
    if (!isScribeError(error)) throw error;
    return { checkpoint: null, failure: { kind: "checkpoint", index: null, message: `the server's checkpoint does not verify: ${error.message}` } };
  }
  if (trustedNote === undefined) return { checkpoint };
  const scratch = new TrustedState({ verifiers: options.verifiers, policy: options.policy, origin: options.origin, persistence: new MemoryPersistence(trustedNote), hasher });
  const trustedSize = (await scratch.current())?.size;
  try {
    await scratch.update(note, (from, to) => options.source.consistency(from, to));
    return { checkpoint };
  } catch (error) {
    // Not getting a proof is no evidence of anything: only a proof that fails is.
    if (!isScribeError(error) || isTransportError(error)) throw error;
    const message = `the server's checkpoint (size ${checkpoint.size}) is inconsistent with the trusted checkpoint (size ${trustedSize}): ${error.message}; the history was rewritten`;
    return { checkpoint, failure: { kind: "consistency", index: null, message } };
  }
}

/** The next page size: the wanted one, or fewer entries while values are large. */
function nextPageEntries(wanted: number, entries: number, valueBytes: number, valueBytesTarget: number): number {
  if (valueBytes === 0) return wanted;
  return Math.min(wanted, Math.max(1, Math.floor((entries * valueBytesTarget) / valueBytes)));
}

/**
 * Audits the ledger behind `options.source` up to its latest signed checkpoint. Returns a result
 * (a failure is a value, with the first bad index); throws only when the source cannot be read.
 */
export async function auditLedger(options: AuditOptions): Promise<AuditResult> {
  const hasher = options.hasher ?? (await loadHasher());
  const pageEntriesWanted = options.pageEntries ?? auditPageEntriesDefault;
  if (!Number.isSafeInteger(pageEntriesWanted) || pageEntriesWanted < 1 || pageEntriesWanted > auditPageEntriesMax) {
    throw new RangeError(`pageEntries must be 1..${auditPageEntriesMax}, got ${pageEntriesWanted}`);
  }
  const stats: AuditStats = { entries: 0, puts: 0, deletes: 0, keys: 0, valueBytes: 0 };
  const trusted = await options.trustedState?.current();
  const trustedSize = trusted?.size ?? null;
  const fail = (failure: AuditFailure, checkpoint: Checkpoint | null): AuditResult => ({ ok: false, failure, checkpoint, trustedSize, stats });

  const note = await options.source.checkpoint();
  const opened = await openCheckpoint(note, await options.trustedState?.currentNote(), options, hasher);
  if (opened.failure) return fail(opened.failure, opened.checkpoint);
  const checkpoint = opened.checkpoint!;

  const tree = MerkleTree.open({ hasher, store: new MemoryTreeStore() });
  const heads: KeyHeads = new Map();
  const total = checkpoint.size;
  const localise = async (failure: AuditFailure, entry: Entry | undefined): Promise<AuditResult> => {
    const bad = await firstBadLeaf(tree, checkpoint, options.source, hasher);
    if (bad === undefined || (failure.index !== null && bad > failure.index)) return fail(failure, checkpoint);
    const badEntry = bad === failure.index ? entry : await describeEntryAt(options.source, bad);
    return fail(leafFailure(bad, tree, badEntry, failure), checkpoint);
  };

  // One page is fetched ahead while the current one is checked (the server and the hashing overlap).
  let pageEntries = pageEntriesWanted;
  const fetchPage = (from: number) => {
    const limit = Math.min(pageEntries, total - from);
    const page = options.source.entries(from, limit);
    page.catch(() => undefined); // an abandoned prefetch must not become an unhandled rejection
    return { from, limit, page };
  };
  let ahead = total > 0 ? fetchPage(0) : undefined;
  while (tree.size < total) {
    const from = tree.size;
    const current = ahead && ahead.from === from ? ahead : fetchPage(from);
    ahead = from + current.limit < total ? fetchPage(from + current.limit) : undefined;
    const page = (await current.page) as { entries?: unknown };
    const items = Array.isArray(page?.entries) ? page.entries.slice(0, current.limit) : [];
    if (items.length === 0) {
      return localise({ kind: "missing", index: from, message: `the server returned no entry at index ${from}, but the signed checkpoint covers ${total} entries` }, undefined);
    }
    const valueBytesBefore = stats.valueBytes;
    const checked = checkPage(items, from, heads, stats, hasher);
    // A failing entry's own leaf goes in when it parsed, so a leaf problem at it is found too.
    tree.appendLeafHashes(checked.leaves);
    if (checked.failure) return localise(checked.failure, checked.failedEntry);
    pageEntries = nextPageEntries(pageEntriesWanted, items.length, stats.valueBytes - valueBytesBefore, options.pageValueBytesTarget ?? auditPageValueBytesTarget);
    stats.entries = tree.size;
    stats.keys = heads.size;
    options.onProgress?.({ entries: tree.size, total, valueBytes: stats.valueBytes });
  }

  if (!bytesEqual(tree.root(), checkpoint.rootHash)) {
    return localise({ kind: "leaf", index: null, message: `the recomputed root ${toHex(tree.root())} is not the signed root ${toHex(checkpoint.rootHash)}` }, undefined);
  }
  if (trusted && trusted.size <= total && !bytesEqual(tree.rootAt(trusted.size), trusted.rootHash)) {
    return fail({ kind: "consistency", index: null, message: `the recomputed root at the trusted size ${trusted.size} is ${toHex(tree.rootAt(trusted.size))}, but the trusted checkpoint says ${toHex(trusted.rootHash)}` }, checkpoint);
  }
  if (options.trustedState) await options.trustedState.update(note, (from, to) => options.source.consistency(from, to));
  return { ok: true, checkpoint, note, trustedSize, stats };
}
