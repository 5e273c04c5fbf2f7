/**
 * @module compression. Streaming gzip in a Worker (fflate), and streaming gunzip for reads.
 */

import { assert, concatBytes, ScribeError } from "../../lib/index.ts";

/**
 * Chunks handed to the worker but not yet compressed. Bounds memory: with 256 KiB input chunks at
 * most ~1 MiB of input waits in the worker, and the consumer pulling output paces the producer.
 */
export const gzipInFlightChunksMax = 4;

/**
 * Where the gzip worker lives inside a `bun build --compile` binary, relative to the bundle root
 * (the common folder of the entry points, `src/` for `src/main.ts`). The binary must be built with
 * the worker as an extra entry point: `bun build --compile src/main.ts src/storage/cold/gzip-worker.ts`.
 */
export const compiledGzipWorkerPath = "./storage/cold/gzip-worker.ts";

/** The worker's specifier: beside this module when run from source, else the compiled path. */
function gzipWorkerSpecifier(): string {
  const beside = new URL("./gzip-worker.ts", import.meta.url).href;
  return beside.includes("$bunfs") ? compiledGzipWorkerPath : beside;
}

export type ChunkSource = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Bun's Worker, which can stop (and start again) keeping the process alive. */
type RefWorker = Worker & { ref(): void; unref(): void };

/**
 * Gzip Workers a pool keeps by default: one, because the archiver compresses one segment at a
 * time (it prepares one segment ahead, `preparedSegmentsAheadMax`), so a second worker would sit
 * idle; a caller that compresses more streams at once asks for more.
 */
export const gzipWorkersMaxDefault = 1;

/**
 * Gzip Workers kept across streams. A Worker of its own per stream cost a 4 MiB segment about
 * 550 ms of CPU against 135-195 ms in a kept one: besides its start (its runtime, a parse of
 * fflate), a new Worker runs deflate before the JIT has compiled it. At most `workersMax` exist;
 * a stream waits for a free one. A worker that failed, exited, or was left mid-stream (the
 * consumer stopped early) is terminated, never reused; its stream fails with an `unavailable`
 * error that the caller retries (the archiver's next run). Idle workers do not keep the process
 * alive; `close()` terminates them all (the cold tier calls it when it stops).
 */
export class GzipPool {
  private readonly live = new Set<RefWorker>();
  private readonly idle: RefWorker[] = [];
  private readonly waiting: ((worker: RefWorker | undefined) => void)[] = [];
  private closed = false;

  /** @param workerSpecifier the worker's module (tests pass one that fails on purpose). */
  constructor(
    readonly workersMax = gzipWorkersMaxDefault,
    private readonly workerSpecifier = gzipWorkerSpecifier(),
  ) {
    assert(Number.isInteger(workersMax) && workersMax >= 1, `gzip workersMax must be >= 1, got ${workersMax}`);
  }

  /** Workers alive now (idle or in use). */
  get workers(): number {
    return this.live.size;
  }

  /** Gzips `source` at `level` (0-9) in one of the pool's workers; see gzipStream. */
  async *stream(source: ChunkSource, level: number): AsyncGenerator<Uint8Array> {
    assert(Number.isInteger(level) && level >= 0 && level <= 9, `gzip level must be 0..9, got ${level}`);
    const worker = await this.acquire();
    let reusable = false;
    try {
      yield* streamThrough(worker, source, level);
      reusable = true;
    } finally {
      this.release(worker, reusable);
    }
  }

  /** Terminates every worker (those in use once their stream ends); later streams are refused. */
  close(): void {
    this.closed = true;
    for (const worker of this.idle.splice(0)) this.discard(worker);
    for (const wake of this.waiting.splice(0)) wake(undefined);
  }

  private async acquire(): Promise<RefWorker> {
    const refused = () => new ScribeError("unavailable", "the gzip worker pool is closed");
    if (this.closed) throw refused();
    const worker = this.idle.pop() ?? (this.live.size < this.workersMax ? this.spawn() : await new Promise<RefWorker | undefined>((resolve) => this.waiting.push(resolve)));
    if (worker && this.closed) this.discard(worker);
    if (!worker || this.closed) throw refused();
    worker.ref();
    return worker;
  }

  private spawn(): RefWorker {
    const worker = new Worker(this.workerSpecifier) as RefWorker;
    this.live.add(worker);
    // A worker that exits while idle is forgotten (one in use fails its stream: streamThrough).
    worker.addEventListener("close", () => {
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      this.live.delete(worker);
    });
    return worker;
  }

  private discard(worker: RefWorker): void {
    worker.terminate();
    this.live.delete(worker);
  }

  private release(worker: RefWorker, reusable: boolean): void {
    if (!reusable || this.closed || !this.live.has(worker)) {
      this.discard(worker);
      // A waiter may now start a worker of its own.
      if (!this.closed && this.waiting.length > 0) this.waiting.shift()!(this.spawn());
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) return waiter(worker);
    worker.unref();
    this.idle.push(worker);
  }
}

/**
 * Gzips `source` at `level` (0-9) in a Worker of its own, yielding compressed chunks as they are
 * produced. Input chunks are copied before being transferred to the worker (a memcpy is ~100x
 * cheaper than deflate), so the caller's buffers stay intact. The worker is terminated when the
 * stream ends or the consumer stops early. A GzipPool keeps its workers across streams instead.
 */
export async function* gzipStream(source: ChunkSource, level: number): AsyncGenerator<Uint8Array> {
  const pool = new GzipPool(1);
  try {
    yield* pool.stream(source, level);
  } finally {
    pool.close();
  }
}

/** One stream through `worker` (its protocol: gzip-worker.ts); throws `unavailable` when the worker fails or exits. */
async function* streamThrough(worker: Worker, source: ChunkSource, level: number): AsyncGenerator<Uint8Array> {
  const outputs: Uint8Array[] = [];
  let acks = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const waitForMessage = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  worker.onmessage = (event: MessageEvent) => {
    const message = event.data as { type: string; chunk?: Uint8Array; message?: string };
    if (message.type === "data") outputs.push(message.chunk!);
    else if (message.type === "ack") acks += 1;
    else if (message.type === "end") ended = true;
    else if (message.type === "error") failure = new ScribeError("unavailable", `gzip worker: ${message.message}`);
    notify();
  };
  worker.onerror = (event) => {
    failure = new ScribeError("unavailable", `gzip worker failed: ${event.message}`);
    notify();
  };
  const onClose = (): void => {
    failure ??= new ScribeError("unavailable", "gzip worker exited mid-stream");
    notify();
  };
  worker.addEventListener("close", onClose);
  worker.postMessage({ type: "start", level });
  try {
    let sent = 0;
    for await (const chunk of source) {
      if (chunk.length === 0) continue;
      while (sent - acks >= gzipInFlightChunksMax) {
        if (failure) throw failure;
        while (outputs.length > 0) yield outputs.shift()!;
        if (sent - acks >= gzipInFlightChunksMax) await waitForMessage();
      }
      const owned = new Uint8Array(chunk);
      worker.postMessage({ type: "push", chunk: owned, final: false }, [owned.buffer as ArrayBuffer]);
      sent += 1;
      while (outputs.length > 0) yield outputs.shift()!;
    }
    worker.postMessage({ type: "push", chunk: new Uint8Array(0), final: true });
    for (;;) {
      if (failure) throw failure;
      while (outputs.length > 0) yield outputs.shift()!;
      if (ended) break;
      await waitForMessage();
    }
  } finally {
    worker.removeEventListener("close", onClose);
  }
}

/** Gunzips a stream of chunks with the runtime's native decompressor. */
export async function* gunzipStream(source: ChunkSource): AsyncGenerator<Uint8Array> {
  const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  const input = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
  const reader = input.pipeThrough(new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Lets timers and I/O callbacks run: long CPU loops call this between chunks. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Re-yields a (synchronous) chunk source, letting the event loop run between chunks. */
export async function* yielding(source: ChunkSource): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    yield chunk;
    await yieldToEventLoop();
  }
}

/** Collects a chunk stream into one buffer (tests, small objects). */
export async function collect(source: ChunkSource): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of source) parts.push(chunk);
  return concatBytes(parts);
}
