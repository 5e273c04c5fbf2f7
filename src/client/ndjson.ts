/**
 * @module client/ndjson. Lines of a streamed NDJSON body (GET /watch), read as they arrive with a
 * bound on one line's length, so a server that never sends a newline cannot make the client
 * buffer without end. Portable: a WHATWG ReadableStream, no Bun or Node.
 */

import { concatBytes, ScribeError } from "../lib/index.ts";

/** One line without its newline, and its length in bytes. */
export interface NdjsonLine {
  text: string;
  bytes: number;
}

/** The body ended in the middle of a line: the connection was cut, nothing the server said. */
export class TruncatedStreamError extends ScribeError {
  override name = "TruncatedStreamError";
  constructor(message: string) {
    super("unavailable", message);
  }
}

const newline = 0x0a;

/**
 * Yields every non-empty line of `body` (UTF-8, checked). Throws payload_too_large when a line
 * passes `lineBytesMax`, invalid_json for bytes that are not UTF-8, and a TruncatedStreamError
 * when the body ends inside a line. Stopping early (break, return) cancels the body.
 */
export async function* readLines(body: ReadableStream<Uint8Array>, lineBytesMax: number): AsyncGenerator<NdjsonLine> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (bytes: Uint8Array) => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new ScribeError("invalid_json", "the stream sent a line that is not UTF-8");
    }
  };
  const tooLong = (bytes: number) => new ScribeError("payload_too_large", `the stream sent a line of more than ${lineBytesMax} bytes (${bytes} so far); the client's limit is lineBytesMax`);
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  try {
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      let start = 0;
      for (let at = chunk.indexOf(newline); at !== -1; at = chunk.indexOf(newline, start)) {
        const piece = chunk.subarray(start, at);
        const bytes = partBytes + piece.length;
        if (bytes > lineBytesMax) throw tooLong(bytes);
        const line = parts.length === 0 ? piece : concatBytes([...parts, piece]);
        parts = [];
        partBytes = 0;
        start = at + 1;
        if (bytes > 0) yield { text: decode(line), bytes };
      }
      if (start < chunk.length) {
        const rest = chunk.slice(start);
        partBytes += rest.length;
        if (partBytes > lineBytesMax) throw tooLong(partBytes);
        parts.push(rest);
      }
    }
    if (partBytes > 0) throw new TruncatedStreamError(`the stream ended inside a line (${partBytes} bytes without a newline)`);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
