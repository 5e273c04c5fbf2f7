/**
 * How a PUT's body is read (src/http/parse.ts readBody), over raw TCP against a node started as
 * scribe-node starts it: with a Content-Length (one buffered read), chunked (streamed, no length
 * declared), empty with `Content-Length: 0`, and with no body and no length at all. Each stores
 * exactly the bytes sent, and a declared length past the limit is refused before anything is read.
 */

import { afterAll, beforeAll, expect, test } from "bun:test";
import { rawExchange, rawRequest } from "../support/raw-http.ts";
import { apiKeys, startSecuredServer, type SecuredServer } from "../support/secured-server.ts";

let s: SecuredServer;
beforeAll(async () => {
  s = await startSecuredServer({ "storage.max_value_size": 1024 });
});
afterAll(() => s.stop());

const head = (method: string, key: string) => [`${method} /kv/${key} HTTP/1.1`, `Host: 127.0.0.1:${s.port}`, `X-API-Key: ${apiKeys.admin}`];

async function stored(key: string): Promise<string> {
  const response = await rawRequest(s.port, head("GET", key));
  expect(response.status).toBe(200);
  return response.text;
}

test("a body with a Content-Length is stored as sent", async () => {
  const response = await rawRequest(s.port, head("PUT", "declared"), "x".repeat(1024));
  expect(response.status).toBe(200);
  expect(await stored("declared")).toBe("x".repeat(1024));
});

test("a chunked body (no length declared) is streamed and stored whole", async () => {
  const request = `${head("PUT", "chunked").join("\r\n")}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
  const response = await rawExchange(s.port, [request, "5\r\nhello\r\n", "6\r\n world\r\n", "0\r\n\r\n"], 20);
  expect(response.status).toBe(200);
  expect(response.json).toMatchObject({ key: "chunked", version: 1 });
  expect(await stored("chunked")).toBe("hello world");
});

test("Content-Length: 0, and no body and no length at all, store an empty value", async () => {
  for (const [key, extra] of [["zero", ["Content-Length: 0"]], ["none", []]] as const) {
    const response = await rawRequest(s.port, [...head("PUT", key), ...extra]);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ key, version: 1 });
    const get = await rawRequest(s.port, head("GET", key));
    expect(get.status).toBe(200);
    expect(get.body.length).toBe(0);
  }
});

test("a declared length past the limit is a 413 and stores nothing", async () => {
  const size = s.server.node.size;
  const response = await rawRequest(s.port, head("PUT", "big"), "x".repeat(1025));
  expect(response.status).toBe(413);
  expect(response.json).toMatchObject({ code: "value_too_large" });
  expect(s.server.node.size).toBe(size);
  expect((await rawRequest(s.port, head("GET", "big"))).status).toBe(404);
});
