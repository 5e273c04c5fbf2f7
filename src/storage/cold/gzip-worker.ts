/**
 * @module gzip-worker. Runs fflate's streaming gzip off the event loop. Protocol (one stream at a
 * time; a worker is kept for the next stream, compression.ts GzipPool): `{type:"start", level}`,
 * then `{type:"push", chunk, final}` messages; the worker answers `{type:"data", chunk}` for
 * compressed output, `{type:"ack"}` after each push but the final one, and `{type:"end"}` after
 * the final one (its last message for the stream), or `{type:"error", message}`.
 *
 * The options are gzip-options.ts's: the gzip header's mtime is 0 and no file name is written, so
 * the output is a pure function of the input, the level and the fflate version.
 */

import { Gzip } from "fflate";
import { segmentGzipOptions } from "./gzip-options.ts";

declare const self: Worker;

let gzip: Gzip | undefined;

function owned(chunk: Uint8Array): Uint8Array {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : new Uint8Array(chunk);
}

self.onmessage = (event: MessageEvent) => {
  const message = event.data as { type: "start"; level: number } | { type: "push"; chunk: Uint8Array; final: boolean };
  try {
    if (message.type === "start") {
      gzip = new Gzip(segmentGzipOptions(message.level), (chunk, final) => {
        if (chunk.length > 0) {
          const out = owned(chunk);
          self.postMessage({ type: "data", chunk: out }, [out.buffer]);
        }
        if (final) self.postMessage({ type: "end" });
      });
      return;
    }
    if (!gzip) throw new Error("push before start");
    gzip.push(message.chunk, message.final);
    // "end" (sent by the final push) is the stream's last message: the next stream starts clean.
    if (message.final) gzip = undefined;
    else self.postMessage({ type: "ack" });
  } catch (error) {
    self.postMessage({ type: "error", message: (error as Error).message });
  }
};
