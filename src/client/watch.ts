/**
 * @module client/watch. Follows a node's GET /watch stream and hands out only what verified
 * (client/watch-verify.ts): each checkpoint line that verified, with the entries it covers. With
 * `follow`, a stream that ends (the node's final line: leader change, shutdown, slow consumer; or
 * a cut connection) is resumed where verification stopped: from = the last verified next_index,
 * checkpoint_size = the last verified checkpoint's size, and (full streams) the client's own
 * compact range, which the new stream's frontier must match. So a resumed stream is chained to
 * everything verified before it. Portable: fetch and WHATWG streams only.
 */

import { ScribeError } from "../lib/index.ts";
import { VerificationError, type CheckpointPolicy, type Hasher, type NoteVerifier } from "../merkle/index.ts";
import { loadHasher } from "../crypto/index.ts";
import { HttpError, NetworkError, type ScribeHttpClient } from "./http-client.ts";
import { readLines, TruncatedStreamError } from "./ndjson.ts";
import { WatchVerifier, type WatchAnchor, type WatchEvent } from "./watch-verify.ts";

/** Longest line a watch client takes by default: a 4 MiB value in base64 with room to spare. */
export const watchLineBytesMaxDefault = 64 * 1024 * 1024;
/**
 * Longest silence before a client takes a stream for dead and reconnects (following) or fails:
 * a node repeats its last checkpoint line every 5 s at the head, so this is six missed beats.
 */
export const watchIdleTimeoutMsDefault = 30_000;
/** Connection attempts in a row (each failing) before a following client gives up. */
export const watchReconnectAttemptsMax = 8;
/** Longest pause between two attempts; pauses double from 100 ms up to it. */
export const watchReconnectDelayMsMax = 4000;

export interface WatchOptions {
  http: ScribeHttpClient;
  from: number;
  prefix?: string;
  values?: boolean;
  /** End once every entry below this index was verified. */
  until?: number;
  verifiers: readonly NoteVerifier[];
  /** How many of `verifiers` must have signed, and which witnesses (default: a majority of them). */
  policy?: Omit<CheckpointPolicy, "members" | "origin">;
  origin?: string;
  hasher?: Hasher;
  /** The checkpoint the client trusts: the first stream is opened with checkpoint_size = its size. */
  anchor?: WatchAnchor;
  /** Full streams: the compact range of [0, from) the client holds (a mirror's own). */
  frontier?: readonly Uint8Array[];
  /** Resume across stream ends and cut connections (see the module comment). */
  follow?: boolean;
  signal?: AbortSignal;
  lineBytesMax?: number;
  /** Silence after which a stream is taken for dead (default watchIdleTimeoutMsDefault; 0: never). */
  idleTimeoutMs?: number;
  /** Told about each (re)connection attempt that failed, before the pause (for logs). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** What a stream said at its end, and where the client resumes. */
export interface WatchEnd {
  kind: "end";
  reason: string;
  code: string | null;
  message: string | null;
  /** The node's resume_from; the client resumes from its own verified position (`nextIndex`). */
  resumeFrom: number;
  unverified: number;
  nextIndex: number;
}

/** The events watchLedger yields: verified checkpoints with their entries, and stream ends. */
export type WatchLedgerEvent = Extract<WatchEvent, { kind: "checkpoint" }> | WatchEnd;

function watchPath(options: WatchOptions, from: number, anchorSize: number | undefined): string {
  const params = [`from=${from}`];
  if (options.prefix) params.push(`prefix=${encodeURIComponent(options.prefix)}`);
  if (options.values) params.push("values=true");
  if (anchorSize !== undefined) params.push(`checkpoint_size=${anchorSize}`);
  if (options.until !== undefined) params.push(`until=${options.until}`);
  return `/watch?${params.join("&")}`;
}

/** Whether a failure to get (or keep) a stream is worth another attempt while following. */
function retryable(error: unknown): boolean {
  if (error instanceof VerificationError) return false;
  if (error instanceof HttpError) return error.httpStatus === 429 || error.httpStatus >= 500;
  return error instanceof NetworkError || error instanceof TruncatedStreamError || !(error instanceof ScribeError);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Streams verified events from the nodes of `options.http`. Throws a VerificationError when the
 * stream fails verification (nothing of it is handed out), an HttpError when the node refuses the
 * request, a NetworkError when it cannot be reached (following: after watchReconnectAttemptsMax
 * attempts in a row). Without `follow`, returns after the first stream's end (a cut connection
 * throws); with it, only when `until` is reached or `signal` aborts.
 */
export async function* watchLedger(options: WatchOptions): AsyncGenerator<WatchLedgerEvent> {
  const hasher = options.hasher ?? (await loadHasher());
  let from = options.from;
  let anchor = options.anchor;
  let frontier = options.frontier;
  let failures = 0;
  while (!options.signal?.aborted) {
    const verifier = new WatchVerifier({ from, prefix: options.prefix, values: options.values, verifiers: options.verifiers, policy: options.policy, origin: options.origin, hasher, anchor, frontier });
    let ended: WatchEnd | undefined;
    const stream = new AbortController();
    const stopStream = () => stream.abort();
    options.signal?.addEventListener("abort", stopStream, { once: true });
    const idleMs = options.idleTimeoutMs ?? watchIdleTimeoutMsDefault;
    let idle: ReturnType<typeof setTimeout> | undefined;
    let silent = false;
    const heard = () => {
      clearTimeout(idle);
      if (idleMs > 0) idle = setTimeout(() => ((silent = true), stream.abort()), idleMs);
    };
    try {
      heard();
      const { body } = await options.http.openStream(watchPath(options, from, anchor?.size), stream.signal);
      for await (const line of readLines(body, options.lineBytesMax ?? watchLineBytesMaxDefault)) {
        heard();
        let parsed: unknown;
        try {
          parsed = JSON.parse(line.text);
        } catch {
          throw new VerificationError(`the stream sent a line that is not JSON: ${line.text.slice(0, 80)}`);
        }
        const event = await verifier.accept(parsed, line.bytes);
        if (event?.kind === "checkpoint") {
          failures = 0;
          yield event;
        } else if (event?.kind === "end") {
          ended = { ...event, nextIndex: verifier.nextIndex };
          break;
        }
      }
      if (!ended && !options.signal?.aborted) throw new TruncatedStreamError("the stream ended without a final line (the connection was cut)");
    } catch (caught) {
      if (options.signal?.aborted) return;
      const error = silent ? new TruncatedStreamError(`the stream sent nothing for ${idleMs / 1000} s (the connection is taken for dead)`) : caught;
      if (!options.follow || !retryable(error) || ++failures > watchReconnectAttemptsMax) throw error;
      const delayMs = Math.min(watchReconnectDelayMsMax, 100 * 2 ** (failures - 1));
      options.onRetry?.(error, failures, delayMs);
      await pause(delayMs, options.signal);
    } finally {
      clearTimeout(idle);
      options.signal?.removeEventListener("abort", stopStream);
      stream.abort();
    }
    // Resume where verification stopped, chained to the last verified checkpoint.
    from = verifier.nextIndex;
    anchor = verifier.lastCheckpoint ?? anchor;
    frontier = verifier.frontier() ?? frontier;
    if (ended) {
      yield ended;
      if (!options.follow || ended.reason === "until") return;
    }
    if (options.until !== undefined && from >= options.until) return;
  }
}
