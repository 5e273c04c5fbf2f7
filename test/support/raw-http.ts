/**
 * @module raw-http. An HTTP client over a plain TCP socket (node:net) that sends exactly the bytes
 * it is given: requests without a Host, with a short or odd one, absolute-form targets, malformed
 * framing. It reads the answer until the server closes the connection.
 */

import { connect } from "node:net";

export interface RawResponse {
  status: number;
  /** Lowercased header names. */
  headers: Record<string, string>;
  body: Uint8Array;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: Record<string, unknown> | undefined;
}

/** Longest a raw exchange may take before the test gives up on it. */
const exchangeMsMax = 10_000;

/** Sends `parts` in order (each written separately, `gapMs` apart) and reads until close. */
export function rawExchange(port: number, parts: readonly (string | Uint8Array)[], gapMs = 0): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${exchangeMsMax} ms`));
    }, exchangeMsMax);
    socket.on("data", (data: Buffer) => chunks.push(data));
    socket.on("error", () => {}); // a reset after the answer is fine; a missing answer fails below
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    socket.on("connect", async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await Bun.sleep(gapMs);
      }
    });
  });
}

/** One request: `head` is the request line and header lines (no trailing blank line). */
export function rawRequest(port: number, head: string[], body: string | Uint8Array = ""): Promise<RawResponse> {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const lines = [...head];
  if (bytes.length > 0 && !lines.some((l) => /^(content-length|transfer-encoding):/i.test(l))) lines.push(`Content-Length: ${bytes.length}`);
  if (head[0]!.endsWith("HTTP/1.1") && !lines.some((l) => /^connection:/i.test(l))) lines.push("Connection: close");
  return rawExchange(port, [`${lines.join("\r\n")}\r\n\r\n`, bytes]);
}

function parseResponse(bytes: Buffer): RawResponse {
  const end = bytes.indexOf("\r\n\r\n");
  if (end === -1) throw new Error(`no HTTP answer (got ${bytes.length} bytes: ${JSON.stringify(bytes.toString("latin1").slice(0, 80))})`);
  const [statusLine, ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body: Uint8Array = bytes.subarray(end + 4);
  if (headers["transfer-encoding"]?.toLowerCase() === "chunked") body = dechunk(body);
  else if (headers["content-length"] !== undefined) body = body.subarray(0, Number(headers["content-length"]));
  const text = new TextDecoder().decode(body);
  let json: Record<string, unknown> | undefined;
  try {
    json = headers["content-type"]?.includes("application/json") ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status, headers, body, text, json };
}

function dechunk(data: Uint8Array): Uint8Array {
  const buffer = Buffer.from(data);
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = buffer.indexOf("\r\n", at);
    if (lineEnd === -1) break;
    const size = parseInt(buffer.subarray(at, lineEnd).toString("latin1"), 16);
    if (!(size > 0)) break;
    out.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}
