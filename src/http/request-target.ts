/**
 * @module request-target. Makes the path the router matches the request's real path.
 *
 * Elysia finds the path in `request.url` by position: the first "/" at or after index 11, which
 * assumes an authority of at least four characters ("http://abcd/"). Bun builds `request.url`
 * from the Host header, so a short Host (`Host: x`) moves that position into the query string
 * (`/health?/entries` was routed to /entries), and a missing or unusable Host (HTTP/1.0, or a
 * Host with "/" or "@") leaves `request.url` relative ("/kv/abcdef"). This module checks, with a
 * few index scans and no URL parsing, that the router will see the real path; when it would
 * not, the request is rebuilt with a placeholder authority (nothing in the app reads the host),
 * and a target no router may see (a fragment, a target that is not a path) is refused.
 */

import { ScribeError } from "../lib/index.ts";

/** Where the router starts reading the path in a URL (Elysia's rule, see above). */
export const routerPathFrom = 11;

/** The authority put into rebuilt requests: long enough for the router, and reserved (RFC 2606). */
const placeholderAuthority = "scribe.invalid";

/** The request target (path and query) as the router sees it; valid for a checked request. */
export function routerTarget(url: string): string {
  return url.substring(url.indexOf("/", routerPathFrom));
}

/** Where the path starts in an absolute http(s) URL, or -1 when `url` is not one. */
function pathStart(url: string): number {
  const authorityStart = url.startsWith("http://") ? 7 : url.startsWith("https://") ? 8 : -1;
  if (authorityStart === -1) return -1;
  for (let i = authorityStart; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */) return i;
    // "?", "#", "@" or "\" in the authority: let the slow path rebuild it from the real path.
    if (c === 63 || c === 35 || c === 64 || c === 92) return -1;
  }
  return -1;
}

/**
 * `request` itself when the router will see its real path (the common case: a few index scans),
 * a rebuilt request with the same method, headers and body when it would not, or a refusal.
 */
export function routableRequest(request: Request): Request | ScribeError {
  const url = request.url;
  const start = pathStart(url);
  if (start !== -1 && start === url.indexOf("/", routerPathFrom) && url.indexOf("#", start) === -1) return request;
  let target: string;
  if (start !== -1) target = url.substring(start);
  else if (url.charCodeAt(0) === 47) target = url; // relative: no usable Host
  else {
    // An absolute URL whose authority holds "?", "#", "@" or "\": Bun validated the Host, so
    // this is not expected; refuse rather than guess where the path starts.
    return new ScribeError("invalid_request", "the request's Host cannot be used to locate its path; send a plain host[:port]");
  }
  if (target.includes("#")) return new ScribeError("invalid_request", "a request target may not contain a fragment (#)");
  const scheme = url.startsWith("https://") ? "https" : "http";
  try {
    return new Request(`${scheme}://${placeholderAuthority}${target}`, request);
  } catch (error) {
    return new ScribeError("invalid_request", `the request target cannot be parsed: ${(error as Error).message}`);
  }
}
