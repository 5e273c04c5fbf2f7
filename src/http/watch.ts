/**
 * @module watch. GET /watch?from=INDEX[&prefix=P][&values=true][&checkpoint_size=N][&until=INDEX]:
 * the ledger as a verifiable change feed, NDJSON (`application/x-ndjson`). docs/FORMATS.md
 * section 8 is the contract: the lines, and how a client verifies every one of them.
 *
 * Lines, in order:
 * - entries, in index order from `from` with no gap (with `prefix`: only the keys under it), each
 *   in the shape of a GET /entries item (`leaf_hash`, `version`; with values=true `value_base64`,
 *   or `null` and `value_error`);
 * - checkpoints: `{"checkpoint": note, "from_size", "proof", "next_index", ...}` — a signed note
 *   covering every entry sent so far, the RFC 9162 consistency proof from the previous
 *   checkpoint line (the first: from `checkpoint_size`, or 0), and what binds the entries to it:
 *   full streams get `position_proof` (consistency from `next_index`) and, on the first line,
 *   `frontier` (the compact range of [0, from)); prefix streams get `inclusion` (one inclusion
 *   proof per entry line since the previous checkpoint line);
 * - last, when the node ends the stream: `{"end": "until" | "leader_changed" | "shutting_down",
 *   "resume_from"}` or `{"error", "code", "resume_from"}` (`slow_consumer`, or a failure). A
 *   checkpoint line precedes it when entries were sent since the last one.
 *
 * Checkpoint lines come when the stream first reaches the head, then at least once a second while
 * entries flow (and within a second after the last one), after checkpointEntriesMax entries or
 * checkpointBytesMax bytes, and before the end; a stream idle at the head repeats its last one
 * every heartbeatIntervalMs.
 *
 * The stream is pulled: the node reads a page from storage only when the consumer took what was
 * queued (at most watchQueueBytesMax, plus one page), so a slow consumer costs memory of one
 * page, never a growing buffer. A stream that has reached the head and whose consumer cannot
 * take more (its queue is full) while the ledger is more than api.watch_backlog_entries_max
 * entries ahead ends with `slow_consumer`; the client resumes with from=resume_from and catches
 * up page by page (a stream is held to the bound only once it reached the head). A stream waits at the head
 * without polling: the node's WatchFeed (src/cluster/watch-feed.ts) wakes it when entries are applied.
 * A follower streams what it has applied (no linearizable freshness), and a change of leader
 * ends every stream so clients resume where they are.
 */

import { ScribeError, toHex, utf8 } from "../lib/index.ts";
import { entryWithValue } from "./entry-json.ts";
import { keyText, strictQuery } from "./keys.ts";
import { parseNonNegative } from "./parse.ts";
import type { LedgerService, SignedCheckpoint, StoredEntry, WatchEndReason, WatchFeed, WatchListener } from "../ledger/index.ts";

/**
 * Bytes queued for one consumer before the stream stops reading storage (the stream's high-water
 * mark): enough to keep a socket busy between pulls, small enough that a thousand stalled
 * consumers hold a quarter of a gigabyte at most.
 */
export const watchQueueBytesMax = 256 * 1024;
/** Entries read from storage per page (one pull). */
export const watchPageEntriesMax = 512;
/** Line bytes a page aims at: it ends after the entry that reaches this (a page has at least one entry). */
export const watchPageBytesMax = 1024 * 1024;
/** Longest time between two checkpoint lines while entries flow. */
export const checkpointIntervalMs = 1000;
/**
 * Longest silence of a stream waiting at the head: it then repeats its last checkpoint line (same
 * size, empty proofs), so the connection stays alive through idle timeouts (Bun's is 10 s) and a
 * client can tell a quiet ledger from a dead connection.
 */
export const heartbeatIntervalMs = 5000;
/** Most entry lines between two checkpoint lines of a full stream: what a client holds unverified. */
export const checkpointEntriesMax = 10_000;
/** Most entry lines between two checkpoint lines of a prefix stream: one inclusion proof each rides on the checkpoint line. */
export const checkpointProofsMax = 1000;
/** Most entry-line bytes between two checkpoint lines. */
export const checkpointBytesMax = 8 * 1024 * 1024;

export const watchContentType = "application/x-ndjson";

const watchParameters = new Set(["from", "prefix", "values", "checkpoint_size", "until"]);

export interface WatchQuery {
  from: number;
  /** Only keys starting with this ("" for every key). */
  prefix: string;
  values: boolean;
  /** The size the first checkpoint line's consistency proof starts from (the client's trusted size). */
  checkpointSize: number | undefined;
  /** Stop before this index (exclusive), with `{"end": "until"}`. */
  until: number | undefined;
}

/** The request of a GET /watch, validated against the ledger's current `size`. */
export function parseWatchQuery(url: string, size: number): WatchQuery {
  const params = strictQuery(url, watchParameters);
  const integer = (name: string) => {
    const text = params.get(name);
    return text === undefined ? undefined : parseNonNegative(text, name, "invalid_range");
  };
  const from = integer("from");
  if (from === undefined) throw new ScribeError("invalid_range", "from is required: the first index to stream (0 for the whole ledger, GET /checkpoint's tree size for new entries only)");
  if (from > size) throw new ScribeError("invalid_range", `from=${from} is beyond this node's ledger size ${size}`);
  const checkpointSize = integer("checkpoint_size");
  if (checkpointSize !== undefined && checkpointSize > size) throw new ScribeError("invalid_range", `checkpoint_size=${checkpointSize} is beyond this node's tree size ${size} (it may be behind: retry, or ask another node)`);
  const until = integer("until");
  if (until !== undefined && until < from) throw new ScribeError("invalid_range", `until=${until} is below from=${from}`);
  const values = params.get("values");
  if (values !== undefined && values !== "true" && values !== "false") throw new ScribeError("invalid_request", `values must be true or false, got ${JSON.stringify(values)}`);
  return { from, prefix: keyText(params.get("prefix") ?? "", "prefix"), values: values === "true", checkpointSize, until };
}

/**
 * The one place a watch stream gets a signed checkpoint: one covering at least `sizeMin` leaves,
 * or undefined when there is none yet (the stream asks again later): a quorum-cosigned note
 * (cluster/cosigning.ts) under the cluster's one origin.
 */
export async function watchCheckpoint(service: LedgerService, sizeMin: number): Promise<SignedCheckpoint | undefined> {
  // The newest quorum checkpoint when it covers what the stream sent; else one made now (a
  // cosigning round, shared with other requests), or the newest the node has if none can be.
  const latest = service.latestCheckpoint();
  if (latest && latest.checkpoint.size >= sizeMin) return latest;
  const signed = await service.checkpoint();
  return signed.checkpoint.size >= sizeMin ? signed : undefined;
}

const watchHeaders = { "content-type": watchContentType, "cache-control": "no-store", "x-content-type-options": "nosniff" };

/** GET /watch: the stream (400 for a bad request, 503 too_many_streams past the bound); HEAD: its headers, no stream. */
export function watchResponse(service: LedgerService, request: Request): Response {
  const query = parseWatchQuery(request.url, service.size);
  if (request.method === "HEAD") return new Response(null, { headers: watchHeaders });
  const stream = new WatchStream(service, service.watchFeed, query);
  return new Response(stream.readable, { headers: watchHeaders });
}

/** The final line of a stream, without its resume_from. */
type Ending = { reason: WatchEndReason; line: Record<string, unknown> };

const hexList = (hashes: readonly Uint8Array[]) => hashes.map(toHex);
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A rough size of an entry's line, to cut pages before reading values. */
function lineBytesEstimate(entry: StoredEntry, values: boolean): number {
  return 320 + entry.key.length * 3 + entry.contentType.length + (values ? Math.ceil(entry.valueBytes / 3) * 4 : 0);
}

class WatchStream implements WatchListener {
  readonly readable: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly unregister: () => void;
  /** Full stream: the next index to send; prefix stream: the next index to look at. */
  private next: number;
  /** Where the next checkpoint line's consistency proof starts (the last checkpoint line's size). */
  private proofFrom: number;
  /** `next` when the last checkpoint line was sent. */
  private checkpointNext: number;
  private checkpoints = 0;
  /** Indexes of the entry lines sent since the last checkpoint line. */
  private sentIndexes: number[] = [];
  private sentBytes = 0;
  private lastCheckpointMs = performance.now();
  /** The stream reached the head once: from then on a consumer that stops reading is a slow consumer. */
  private live = false;
  /** The leader the stream started under (0 until one is known). */
  private leader: number;
  private ending: Ending | undefined;
  private state: "open" | "finishing" | "done" = "open";
  private pulling = false;
  private wakeUp: (() => void) | undefined;
  private finished!: () => void;
  private readonly finishedPromise = new Promise<void>((resolve) => (this.finished = resolve));

  constructor(
    private readonly service: LedgerService,
    private readonly feed: WatchFeed,
    private readonly query: WatchQuery,
  ) {
    this.next = query.from;
    this.checkpointNext = query.from;
    this.proofFrom = query.checkpointSize ?? 0;
    this.leader = feed.leader;
    this.unregister = feed.register(this);
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.pull(),
        cancel: () => this.done("client_closed"),
      },
      { highWaterMark: watchQueueBytesMax, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  // ---- WatchListener ----------------------------------------------------------------------

  changed(): void {
    if (this.state !== "open") return;
    const leader = this.feed.leader;
    if (this.leader === 0) this.leader = leader;
    else if (leader !== this.leader) return this.endWith({ reason: "leader_changed", line: { end: "leader_changed" } });
    if (this.slowConsumer()) return;
    this.wakeUp?.();
  }

  end(reason: "shutting_down"): Promise<void> {
    this.endWith({ reason, line: { end: reason } });
    return this.finishedPromise;
  }

  bufferedBytes(): number {
    if (this.state === "done") return 0;
    return Math.max(0, watchQueueBytesMax - (this.controller.desiredSize ?? watchQueueBytesMax));
  }

  // ---- the stream ---------------------------------------------------------------------------

  /**
   * Ends the stream with slow_consumer when it reached the head once, its consumer is the
   * bottleneck (the queue is full) and the ledger is more than the backlog bound ahead. Checked
   * when entries are applied (a consumer that reads nothing) and after every page (one that
   * reads too slowly).
   */
  private slowConsumer(): boolean {
    const behind = this.service.size - this.next;
    const bound = this.feed.limits.backlogEntriesMax;
    if (!this.live || !this.blocked() || behind <= bound) return false;
    const message = `the consumer does not keep up: the ledger is ${behind} entries ahead of the stream (api.watch_backlog_entries_max ${bound}); resume with from=resume_from`;
    this.endWith({ reason: "slow_consumer", line: { error: message, code: "slow_consumer" } });
    return true;
  }

  /** The consumer took nothing since the queue filled. */
  private blocked(): boolean {
    const desired = this.controller.desiredSize;
    return desired !== null && desired <= 0;
  }

  private endWith(ending: Ending): void {
    if (this.state !== "open" || this.ending) return;
    this.ending = ending;
    this.wakeUp?.();
    if (!this.pulling) void this.finish();
  }

  private async pull(): Promise<void> {
    if (this.state !== "open" || this.pulling) return;
    this.pulling = true;
    try {
      await this.produce();
    } catch (error) {
      if (!(error instanceof ScribeError)) this.feed.onInternalError(error);
      const known = error instanceof ScribeError;
      this.ending ??= { reason: "error", line: { error: known ? error.message : "internal error", code: known ? error.code : "internal" } };
    } finally {
      this.pulling = false;
    }
    if (this.ending) await this.finish();
  }

  /** Queues lines until the consumer has something new; returns at once when the stream should end. */
  private async produce(): Promise<void> {
    for (;;) {
      if (this.ending || this.state !== "open") return;
      const { until } = this.query;
      const head = this.service.size;
      const limit = until === undefined ? head : Math.min(head, until);
      if (this.next < limit) {
        const lines = await this.readPage(limit);
        if (lines.length > 0) this.enqueue(lines);
        if (this.slowConsumer()) return;
        if (this.checkpointDue() && (await this.sendCheckpoint())) return;
        if (lines.length > 0) return;
        await nextTurn(); // a prefix scan found nothing in this page: let the event loop breathe
        continue;
      }
      if (until !== undefined && this.next >= until) {
        this.ending = { reason: "until", line: { end: "until" } };
        return;
      }
      // At the head: anchor at once the first time, then at most one checkpoint line a second.
      const firstTime = !this.live;
      this.live = true;
      if (!this.needsCheckpoint()) {
        const quietMs = heartbeatIntervalMs - (performance.now() - this.lastCheckpointMs);
        if (quietMs <= 0 && (await this.sendCheckpoint())) return;
        await this.waitForChange(Math.max(quietMs, checkpointIntervalMs));
        continue;
      }
      const waitMs = firstTime ? 0 : checkpointIntervalMs - (performance.now() - this.lastCheckpointMs);
      if (waitMs <= 0 && (await this.sendCheckpoint())) return;
      await this.waitForChange(waitMs <= 0 ? checkpointIntervalMs : waitMs);
    }
  }

  /** Reads the page at `next` (below `limit`), keeps the entries under the prefix, returns their lines. */
  private async readPage(limit: number): Promise<string[]> {
    const stored = this.service.entries(this.next, Math.min(watchPageEntriesMax, limit - this.next));
    if (stored.length === 0 || stored[0]!.index !== this.next) throw new ScribeError("internal", `the ledger returned no entry at index ${this.next} below its size ${limit}`);
    const { prefix, values } = this.query;
    const chosen: StoredEntry[] = [];
    let bytes = 0;
    let end = this.next;
    for (const entry of stored) {
      if (chosen.length > 0 && bytes >= watchPageBytesMax) break;
      end = entry.index + 1;
      if (prefix !== "" && !entry.key.startsWith(prefix)) continue;
      chosen.push(entry);
      bytes += lineBytesEstimate(entry, values);
    }
    const bodies = await Promise.all(chosen.map((entry) => entryWithValue(this.service, entry, values)));
    this.next = end;
    for (const entry of chosen) this.sentIndexes.push(entry.index);
    return bodies.map((body) => JSON.stringify(body));
  }

  private needsCheckpoint(): boolean {
    return this.checkpoints === 0 || this.next !== this.checkpointNext;
  }

  private checkpointDue(): boolean {
    const linesMax = this.query.prefix === "" ? checkpointEntriesMax : checkpointProofsMax;
    if (this.sentIndexes.length >= linesMax || this.sentBytes >= checkpointBytesMax) return true;
    return this.needsCheckpoint() && performance.now() - this.lastCheckpointMs >= checkpointIntervalMs;
  }

  /** Sends a checkpoint line covering everything sent; false when no checkpoint covers it yet. */
  private async sendCheckpoint(): Promise<boolean> {
    const signed = await watchCheckpoint(this.service, Math.max(this.next, this.proofFrom));
    if (!signed || this.state === "done") return false;
    const tree = this.service.tree;
    const size = signed.checkpoint.size;
    const line: Record<string, unknown> = { checkpoint: signed.note, from_size: this.proofFrom, proof: hexList(tree.consistencyProof(this.proofFrom, size)), next_index: this.next };
    if (this.query.prefix === "") {
      line.position_proof = hexList(tree.consistencyProof(this.next, size));
      if (this.checkpoints === 0) line.frontier = hexList(tree.compactRange(this.query.from));
    } else {
      line.inclusion = this.sentIndexes.map((index) => hexList(tree.inclusionProof(index, size)));
    }
    this.enqueue([JSON.stringify(line)]);
    this.proofFrom = size;
    this.checkpointNext = this.next;
    this.sentIndexes = [];
    this.sentBytes = 0;
    this.checkpoints++;
    this.lastCheckpointMs = performance.now();
    return true;
  }

  private enqueue(lines: readonly string[]): void {
    if (this.state === "done") return;
    const chunk = utf8(`${lines.join("\n")}\n`);
    this.controller.enqueue(chunk);
    this.sentBytes += chunk.length;
    this.feed.noteBuffered(this.bufferedBytes());
  }

  /** Resolves on the next change the feed reports, an end, or after `timeoutMs`. */
  private waitForChange(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wake = () => {
        clearTimeout(timer);
        if (this.wakeUp === wake) this.wakeUp = undefined;
        resolve();
      };
      this.wakeUp = wake;
      if (timeoutMs !== undefined) timer = setTimeout(wake, timeoutMs);
    });
  }

  /**
   * Queues the final lines and closes: a last checkpoint covering what was sent (so a verifying
   * client loses nothing), then the end or error line with resume_from.
   */
  private async finish(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "finishing";
    const ending = this.ending!;
    if (ending.reason !== "error" && this.needsCheckpoint()) {
      try {
        await this.sendCheckpoint();
      } catch (error) {
        // A courtesy only: the client resumes from what it verified.
        if (!(error instanceof ScribeError)) this.feed.onInternalError(error);
      }
    }
    if (this.state === "finishing") {
      try {
        this.enqueue([JSON.stringify({ ...ending.line, resume_from: this.next })]);
        this.controller.close();
      } catch {
        // the consumer went away meanwhile
      }
    }
    this.done(ending.reason);
  }

  private done(reason: WatchEndReason): void {
    if (this.state === "done") return;
    this.state = "done";
    this.unregister();
    this.feed.ended(reason);
    this.wakeUp?.();
    this.finished();
  }
}
