/**
 * @module parse. Turns untrusted request parts into validated values, or throws a ScribeError
 * with a stable code. Nothing here has side effects, so bad input changes nothing.
 */

import { idempotencyKeyProblem, putOperation, validateContentType, validateKey, type Consistency, type Operation } from "../ledger/index.ts";
import { defaultHasher } from "../crypto/index.ts";
import { concatBytes, fromBase64, ScribeError, utf8, type ErrorCode } from "../lib/index.ts";

/**
 * The key of a key route from the router's path parameter. `decoded`: the router already
 * percent-decoded it (a `:key` segment; null when that failed), else it is raw (a `*` rest) and
 * is decoded here, once. `slashes`: whether the key may hold "/" (under /kv/, /history/,
 * /verify/); a one-segment /:key may not, even percent-encoded, so /cluster%2Fnodes%2Fadd is
 * never a key that looks like a route.
 */
export function keyFromParam(raw: string | null | undefined, options: { decoded: boolean; slashes: boolean }): string {
  if (raw === null) throw new ScribeError("invalid_key", "the key is not valid percent-encoded UTF-8");
  let key = raw ?? "";
  if (!options.decoded && key.includes("%")) {
    try {
      key = decodeURIComponent(key);
    } catch {
      throw new ScribeError("invalid_key", "the key is not valid percent-encoded UTF-8");
    }
  }
  if (!options.slashes && key.includes("/")) throw new ScribeError("invalid_key", "a key with \"/\" (here percent-encoded) goes under /kv/");
  return validateKey(key);
}

/** Reads the whole body, refusing (with `code`, 413) past `bytesMax` without buffering it all. */
export async function readBody(request: Request, bytesMax: number, code: ErrorCode, what: string): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > bytesMax) {
    throw new ScribeError(code, `the ${what} is ${declared} bytes; the most is ${bytesMax}`);
  }
  try {
    // With a declared length within the limit, one buffered read is far cheaper than a stream
    // (and `request.body` is not touched: reading it makes a ReadableStream).
    if (declared !== null) {
      const body = new Uint8Array(await request.arrayBuffer());
      if (body.length > bytesMax) throw new ScribeError(code, `the ${what} exceeds ${bytesMax} bytes`);
      return body;
    }
    if (!request.body) return new Uint8Array(0);
    return await readStream(request.body, bytesMax, code, what);
  } catch (error) {
    if (error instanceof ScribeError) throw error;
    // The connection closed, or Bun refused a malformed chunk or a body past its own cap
    // mid-stream (it answers the client itself): not a bug of ours.
    throw new ScribeError("invalid_request", `the ${what} could not be read: ${(error as Error).message}`);
  }
}

async function readStream(stream: ReadableStream<Uint8Array>, bytesMax: number, code: ErrorCode, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value: chunk } = await reader.read();
    if (done) break;
    total += chunk.length;
    if (total > bytesMax) {
      await reader.cancel();
      throw new ScribeError(code, `the ${what} exceeds ${bytesMax} bytes`);
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}

/** Parses a non-negative decimal integer query parameter. */
export function parseNonNegative(text: string, name: string, code: ErrorCode): number {
  if (!/^\d{1,15}$/.test(text)) throw new ScribeError(code, `${name} must be a non-negative integer, got "${text}"`);
  return Number(text);
}

/** `?consistency=linearizable|stale` (linearizable when absent). */
export function parseConsistency(value: string | undefined): Consistency {
  if (value === undefined || value === "linearizable") return "linearizable";
  if (value === "stale") return "stale";
  throw new ScribeError("invalid_request", `consistency must be "linearizable" or "stale", got "${value}"`);
}

/** `If-Match: <version>` and `If-None-Match: *` as operation preconditions. */
export function preconditions(headers: Headers, op: "put" | "delete"): { ifMatch?: number; ifNoneMatch?: boolean } {
  const out: { ifMatch?: number; ifNoneMatch?: boolean } = {};
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null) {
    const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(ifMatch);
    if (!match) throw new ScribeError("invalid_request", `If-Match must be a version number, got "${ifMatch}"`);
    out.ifMatch = Number(match[1]);
  }
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() !== "*" || op !== "put") throw new ScribeError("invalid_request", `only "If-None-Match: *" on PUT is supported`);
    out.ifNoneMatch = true;
  }
  return out;
}

const strictHeaderUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `Idempotency-Key` header (undefined when absent): 1..255 bytes of printable UTF-8. HTTP
 * hands header bytes over one character per byte, so UTF-8 is decoded here.
 */
export function parseIdempotencyKeyHeader(value: string | null): string | undefined {
  if (value === null) return undefined;
  let key = value.trim();
  if (/[^\x00-\x7f]/.test(key)) {
    const bytes = Uint8Array.from(key, (c) => c.charCodeAt(0));
    try {
      key = strictHeaderUtf8.decode(bytes);
    } catch {
      throw new ScribeError("invalid_request", "the Idempotency-Key header is not valid UTF-8");
    }
  }
  return checkedIdempotencyKey(key, "the Idempotency-Key header");
}

function checkedIdempotencyKey(key: string, where: string): string {
  const problem = idempotencyKeyProblem(key);
  if (problem !== undefined) throw new ScribeError("invalid_request", `${where}: ${problem}`);
  return key;
}

/**
 * The idempotency key of a POST /batch: its body's `idempotency_key` field (the schema checked it
 * is a string) or the Idempotency-Key header's `header`; both given and different: 400.
 */
export function batchIdempotencyKey(field: string | undefined, header: string | undefined): string | undefined {
  if (field === undefined) return header;
  const key = checkedIdempotencyKey(field, "idempotency_key");
  if (header !== undefined && header !== key) throw new ScribeError("invalid_request", "the Idempotency-Key header and the body's idempotency_key differ; give one, or the same in both");
  return key;
}

/** A batch operation as its schema (src/http/request-schemas.ts) admits it. */
export type BatchOpJson =
  | { op: "put"; key: string; value?: string; value_base64?: string; content_type?: string; if_match?: number; if_none_match?: boolean }
  | { op: "delete"; key: string; if_match?: number };

/**
 * Parses a JSON request body (POST /batch, /cluster/nodes/*): its text (see jsonText), then JSON.
 * The shape is checked next by the route's schema, before the handler runs.
 */
export function parseJsonBody(body: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(jsonText(body));
  } catch (error) {
    throw new ScribeError("invalid_json", `the ${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The operations of a POST /batch body that passed its schema (which checked the shape: an
 * object `{"ops": [...]}` of 1..batch_max operations, each a put or a delete with known fields of
 * the right types; src/http/body-errors.ts words its failures). What a schema cannot say is
 * checked here: keys' UTF-8 validity and byte length, exactly one of value / value_base64, the
 * value's UTF-8 or base64 validity and its byte length.
 */
export function batchOperations(ops: readonly BatchOpJson[], limits: { valueBytesMax: number }): Operation[] {
  return ops.map((op, i) => batchOperation(op, i, limits.valueBytesMax));
}

function batchOperation(op: BatchOpJson, i: number, valueBytesMax: number): Operation {
  const where = `ops[${i}]`;
  let key: string;
  try {
    key = validateKey(op.key);
  } catch (error) {
    throw new ScribeError((error as ScribeError).code, `${where}.key: ${(error as ScribeError).message}`);
  }
  if (op.op === "delete") return op.if_match === undefined ? { op: "delete", key } : { op: "delete", key, ifMatch: op.if_match };
  const value = batchValue(op, where);
  if (value.length > valueBytesMax) throw new ScribeError("value_too_large", `${where} value is ${value.length} bytes; the most is ${valueBytesMax}`);
  const fallback = op.value_base64 !== undefined ? "application/octet-stream" : "text/plain; charset=utf-8";
  const contentType = validateContentType(op.content_type, fallback);
  return putOperation({ key, value, contentType, ifMatch: op.if_match, ifNoneMatch: op.if_none_match === true }, defaultHasher()!);
}

function batchValue(op: { value?: string; value_base64?: string }, where: string): Uint8Array {
  if (op.value !== undefined && op.value_base64 !== undefined) throw new ScribeError("invalid_request", `${where} has both value and value_base64`);
  if (op.value !== undefined) {
    if (!op.value.isWellFormed()) throw new ScribeError("invalid_value", `${where}.value is not valid UTF-8 (send bytes as value_base64)`);
    return utf8(op.value);
  }
  if (op.value_base64 !== undefined) {
    const bytes = fromBase64(op.value_base64);
    if (!bytes) throw new ScribeError("invalid_value", `${where}.value_base64 is not valid base64`);
    return bytes;
  }
  throw new ScribeError("invalid_request", `${where} needs a string "value" or "value_base64"`);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

/**
 * The text of a JSON body. Valid UTF-8 (the common case) is decoded in one native call. Invalid
 * bytes are not replaced by U+FFFD (which a key may legitimately hold, so a bad key would pass
 * as another key): each invalid sequence becomes a lone surrogate, U+DFFF, which no valid UTF-8
 * decodes to, so the key or value holding it is refused as not valid UTF-8.
 */
export function jsonText(body: Uint8Array): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    const parts: string[] = [];
    let runStart = 0;
    for (let i = 0; i < body.length; ) {
      const length = utf8SequenceLength(body, i);
      if (length > 0) {
        i += length;
        continue;
      }
      parts.push(lenientUtf8.decode(body.subarray(runStart, i)), "\uDFFF");
      i += Math.max(1, -length);
      runStart = i;
    }
    parts.push(lenientUtf8.decode(body.subarray(runStart)));
    return parts.join("");
  }
}

/**
 * The length of the valid UTF-8 sequence at `i`, or minus the length of the invalid prefix
 * there (at least 1 byte), per the Unicode "maximal subpart" rule.
 */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  if (b < 0x80) return 1;
  let need: number;
  let low = 0x80;
  let high = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    if (b === 0xe0) low = 0xa0;
    if (b === 0xed) high = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    if (b === 0xf0) low = 0x90;
    if (b === 0xf4) high = 0x8f;
  } else return -1;
  for (let k = 1; k <= need; k++) {
    const c = bytes[i + k];
    const [min, max] = k === 1 ? [low, high] : [0x80, 0xbf];
    if (c === undefined || c < min || c > max) return -k;
  }
  return need + 1;
}
