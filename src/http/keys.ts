/**
 * @module keys. GET /keys?prefix=&after=&limit=&consistency=: the ledger's keys in UTF-8 byte order,
 * each with its latest index, version and whether its latest entry is a delete, a page at a time.
 * `next` is the cursor of the following page (pass it as `after`), null on the last page.
 */

import { keyBytesMax, type LedgerService } from "../ledger/index.ts";
import { ScribeError, utf8 } from "../lib/index.ts";
import { parseConsistency, parseNonNegative } from "./parse.ts";

/** Keys per page when `limit` is not given. */
export const keysLimitDefault = 100;
/**
 * Most keys per page: up to ~1 MB of JSON with keys of the largest size, and two index seeks per
 * key keep a page to a few milliseconds of the event loop.
 */
export const keysLimitMax = 1000;

const knownParameters = new Set(["prefix", "after", "limit", "consistency"]);

/**
 * The query parameters of a URL named in `known` (others are ignored), decoded strictly: malformed
 * percent-encoding, invalid UTF-8 and a repeated parameter are refused (400) instead of being
 * silently replaced or merged. Shared with GET /watch (its prefix is a key prefix too).
 */
export function strictQuery(url: string, known: ReadonlySet<string> = knownParameters): Map<string, string> {
  const params = new Map<string, string>();
  const queryAt = url.indexOf("?");
  if (queryAt === -1) return params;
  for (const part of url.slice(queryAt + 1).split("&")) {
    if (part === "") continue;
    const equals = part.indexOf("=");
    const [rawName, rawValue] = equals === -1 ? [part, ""] : [part.slice(0, equals), part.slice(equals + 1)];
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName.replaceAll("+", " "));
      value = decodeURIComponent(rawValue.replaceAll("+", " "));
    } catch {
      throw new ScribeError("invalid_request", `the query parameter ${JSON.stringify(rawName)} is not valid percent-encoded UTF-8`);
    }
    if (!known.has(name)) continue;
    if (params.has(name)) throw new ScribeError("invalid_request", `the query parameter ${name} is given more than once`);
    params.set(name, value);
  }
  return params;
}

/** A prefix or cursor: well-formed text of at most keyBytesMax bytes (longer could match no key). */
export function keyText(value: string, name: string): string {
  if (!value.isWellFormed()) throw new ScribeError("invalid_request", `${name} is not valid UTF-8`);
  const bytes = utf8(value).length;
  if (bytes > keyBytesMax) throw new ScribeError("invalid_request", `${name} is ${bytes} bytes; keys are at most ${keyBytesMax}`);
  return value;
}

/** The page GET /keys asks for, validated (400 invalid_request / invalid_range on bad input). */
export function parseKeysQuery(url: string) {
  const params = strictQuery(url);
  const prefix = keyText(params.get("prefix") ?? "", "prefix");
  const afterText = params.get("after");
  const after = afterText === undefined || afterText === "" ? undefined : keyText(afterText, "after");
  const limitText = params.get("limit");
  const limit = limitText === undefined ? keysLimitDefault : parseNonNegative(limitText, "limit", "invalid_range");
  if (limit < 1 || limit > keysLimitMax) throw new ScribeError("invalid_range", `limit must be 1..${keysLimitMax}, got ${limit}`);
  return { prefix, after, limit, consistency: parseConsistency(params.get("consistency")) };
}

/** GET /keys: one page of keys, read after the requested consistency barrier. */
export async function listKeys(service: LedgerService, url: string): Promise<Record<string, unknown>> {
  const { prefix, after, limit, consistency } = parseKeysQuery(url);
  await service.readBarrier(consistency);
  // One key more than asked tells whether another page follows.
  const found = service.keys({ prefix, after, limit: limit + 1 });
  const keys = found.slice(0, limit);
  const next = found.length > limit ? keys[keys.length - 1]!.key : null;
  return { keys, next, ledger_size: service.size };
}
