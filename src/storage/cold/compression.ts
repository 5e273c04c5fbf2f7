/**
 * @module compression. Streaming gzip in a Worker (fflate), and streaming gunzip for reads.
 */

import { assert, concatBytes } from "../../lib/index.ts";

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

/**
 * Gzips `source` at `level` (0-9) in a dedicated Worker, yielding compressed chunks as they are
 * produced. Input chunks are copied before being transferred to the worker (a memcpy is ~100x
 * cheaper than deflate), so the caller's buffers stay intact. The worker is terminated when the
 * stream ends or the consumer stops early.
 */
export async function* gzipStream(source: ChunkSource, level: number): AsyncGenerator<Uint8Array> {
  assert(Number.isInteger(level) && level >= 0 && level <= 9, `gzip level must be 0..9, got ${level}`);
  const worker = new Worker(gzipWorkerSpecifier());
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
    else if (message.type === "error") failure = new Error(`gzip worker: ${message.message}`);
    notify();
  };
  worker.onerror = (event) => {
    failure = new Error(`gzip worker failed: ${event.message}`);
    notify();
  };
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
    worker.terminate();
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
