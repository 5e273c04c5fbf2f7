/**
 * routableRequest: the router must read a request's real path. Raw-socket cases (no Host, empty
 * or odd Host, fragments) are in security-regressions.test.ts and security-matrix.test.ts.
 */

import { expect, test } from "bun:test";
import { routableRequest, routerTarget } from "../../src/http/request-target.ts";
import { ScribeError } from "../../src/lib/index.ts";

test("a request whose path the router reads correctly is passed through as is (no copy)", () => {
  for (const url of ["http://127.0.0.1:8001/kv/a?x=1", "http://abcd/health", "https://abc/x", "http://localhost/"]) {
    const request = new Request(url);
    expect(routableRequest(request)).toBe(request);
    expect(routerTarget(request.url)).toBe(url.slice(url.indexOf("/", url.indexOf("//") + 2)));
  }
});

test("a short authority is replaced, keeping method, path, query, headers and body", async () => {
  for (const url of ["http://x/health?/entries?values=true", "http://ab/kv/abcdef", "https://a/kv/k", "https://ab/"]) {
    const request = new Request(url, { method: "PUT", headers: { "x-test": "1" }, body: "payload" });
    const routable = routableRequest(request) as Request;
    expect(routable).toBeInstanceOf(Request);
    expect(routable).not.toBe(request);
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    expect(routerTarget(routable.url)).toBe(path);
    expect(routable.method).toBe("PUT");
    expect(routable.headers.get("x-test")).toBe("1");
    expect(await routable.text()).toBe("payload");
  }
});

test("the router's reading of a checked request is its real path", () => {
  const routable = routableRequest(new Request("http://x/health?/batch")) as Request;
  expect(routable.url.indexOf("/", 11)).toBe(routable.url.indexOf("/", routable.url.indexOf("//") + 2));
  expect(routableRequest(new Request("http://x/a")) instanceof ScribeError).toBe(false);
});
