/**
 * GET routes run without a promise when their handler answers at once (src/http/app.ts,
 * `syncGetRoute`): a cached read comes back from the app's fetch as a Response, not a promise of
 * one; and since the router no longer awaits a GET's handler, an error after a promise (a
 * version that is not there, a failure inside the node) still gets the documented JSON answer.
 * `GET`, `PUT` and `DELETE /kv/<key>` without a query skip the router (src/http/app.ts,
 * `directKeyRoutes`): their answers are compared with the router's (the same path with an empty
 * query goes through it).
 * Through the real app over a real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { batchOpsMax } from "../../src/config/index.ts";
import { createApp } from "../../src/http/index.ts";
import { makeApp } from "../support/app.ts";

let t: Awaited<ReturnType<typeof makeApp>>;
const internalErrors: unknown[] = [];
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  t = await makeApp();
  const { config } = t;
  app = createApp({
    service: t.node,
    cluster: t.node,
    limits: { valueBytesMax: config.storage.max_value_size, batchOpsMax: batchOpsMax(config), batchBytesMax: config.storage.max_batch_bytes },
    onInternalError: (error) => internalErrors.push(error),
  });
});
afterAll(() => t.close());

const get = (path: string, init: RequestInit = {}) => app.fetch(new Request(`http://scribe.test${path}`, init));

/** An answer as compared: status, every header but Date, body. */
async function answer(response: Response | Promise<Response>) {
  const r = await response;
  const headers: [string, string][] = [];
  r.headers.forEach((value, name) => {
    if (name !== "date") headers.push([name, value]);
  });
  return { status: r.status, headers, body: await r.text() };
}

test("a cached GET is answered without a promise, the same answer as before", async () => {
  expect((await get("/kv/sync/a", { method: "PUT", body: "hello" })).status).toBe(200);
  // The first request compiles the route (Elysia does that lazily, behind a promise).
  expect(await (await get("/kv/sync/a")).text()).toBe("hello");
  for (const path of ["/kv/sync/a", "/kv/sync/a?consistency=stale"]) {
    const answer = get(path);
    expect(answer instanceof Promise).toBe(false);
    const response = answer as Response;
    expect(response.status).toBe(200);
    expect(response.headers.get("x-scribe-version")).toBe("1");
    expect(response.headers.get("etag")).toBe('"1"');
    expect(await response.text()).toBe("hello");
  }
  // HEAD runs the GET route: the same headers, no body.
  const head = await get("/kv/sync/a", { method: "HEAD" });
  expect(head.status).toBe(200);
  expect(head.headers.get("content-length")).toBe("5");
  expect(await head.text()).toBe("");
});

test("an error after a promise gets the JSON answer onError gives", async () => {
  // A version read is not served from the cache: its handler returns a promise that rejects.
  const missing = get("/kv/sync/a?version=7");
  expect(missing instanceof Promise).toBe(true);
  const response = await missing;
  expect(response.status).toBe(404);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(((await response.json()) as { code: string }).code).toBe("version_not_found");

  const absent = await get("/kv/sync/none");
  expect(absent.status).toBe(404);
  expect(((await absent.json()) as { code: string }).code).toBe("not_found");
});

test("a failure inside the node after a promise is a 500 internal, reported once", async () => {
  const node = t.node as unknown as { getVersion: (...args: unknown[]) => Promise<unknown> };
  const original = node.getVersion;
  const failure = new Error("the disk went away");
  node.getVersion = () => Promise.reject(failure);
  try {
    const response = await get("/kv/sync/a?version=1");
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: "internal error", code: "internal" });
    expect(internalErrors).toEqual([failure]);
  } finally {
    node.getVersion = original;
  }
  expect(await (await get("/kv/sync/a?version=1")).text()).toBe("hello");
});

test("GET /kv/<key> without a query answers as the router answers the same path", async () => {
  const write = async (method: string, key: string, body?: string) => expect((await get(`/kv/${key}`, { method, body })).status).toBe(200);
  await write("PUT", "direct/a", "one");
  await write("PUT", "direct/a", "two");
  await write("PUT", "caf%C3%A9", "accented");
  await write("PUT", "a%2Fb", "encoded slash");
  await write("PUT", "direct/gone", "soon deleted");
  await write("DELETE", "direct/gone");
  const paths = [
    "/kv/direct/a",
    "/kv/caf%C3%A9",
    "/kv/café",
    "/kv/a%2Fb",
    "/kv/a/b",
    "/kv/direct/gone",
    "/kv/direct/none",
    "/kv/",
    "/kv/%ZZ",
    "/kv/direct/a/",
    `/kv/${"k".repeat(1025)}`,
  ];
  const seen = new Set<number>();
  for (const path of paths) {
    const direct = await answer(get(path));
    const routed = await answer(get(`${path}?`));
    expect({ path, ...direct }).toEqual({ path, ...routed });
    seen.add(direct.status);
  }
  // The list covers values, deleted and absent keys and refused keys.
  expect([...seen].sort()).toEqual([200, 400, 404]);
});

describe("PUT and DELETE /kv/<key> without a query answer as the router answers the same path", () => {
  /** The same request straight and through the router; both must be refused alike and change nothing. */
  async function bothRefused(method: string, path: string, init: RequestInit = {}) {
    const size = t.node.size;
    const direct = await answer(get(path, { method, ...init }));
    const routed = await answer(get(`${path}?`, { method, ...init }));
    expect({ path, ...direct }).toEqual({ path, ...routed });
    expect(direct.status).toBeGreaterThanOrEqual(400);
    expect(t.node.size).toBe(size);
    return direct;
  }

  test("refusals: bad keys, failed preconditions, an oversized value, a missing key", async () => {
    expect((await get("/kv/refuse/a", { method: "PUT", body: "one" })).status).toBe(200);
    const codes: string[] = [];
    const code = async (method: string, path: string, init: RequestInit = {}) => codes.push((JSON.parse((await bothRefused(method, path, init)).body) as { code: string }).code);
    await code("PUT", "/kv/", { body: "x" });
    await code("PUT", "/kv/%ZZ", { body: "x" });
    await code("PUT", `/kv/${"k".repeat(1025)}`, { body: "x" });
    await code("PUT", "/kv/refuse/a", { body: "x", headers: { "if-match": '"7"' } });
    await code("PUT", "/kv/refuse/a", { body: "x", headers: { "if-none-match": "*" } });
    await code("PUT", "/kv/refuse/big", { body: "x".repeat(t.config.storage.max_value_size + 1) });
    await code("DELETE", "/kv/refuse/none");
    await code("DELETE", "/kv/%ZZ");
    await code("DELETE", "/kv/refuse/a", { headers: { "if-match": '"7"' } });
    expect(codes).toEqual(["invalid_key", "invalid_key", "key_too_large", "precondition_failed", "precondition_failed", "value_too_large", "not_found", "invalid_key", "precondition_failed"]);
  });

  test("writes: a put and a delete straight and through the router give the same receipts", async () => {
    const receipt = async (method: string, path: string, body?: string) => {
      const response = await get(path, { method, body, headers: body === undefined ? {} : { "content-type": "text/plain" } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      const { key, op, version } = (await response.json()) as { key: string; op: string; version: number };
      return { key, op, version };
    };
    expect(await receipt("PUT", "/kv/write/a%2Fb", "one")).toEqual({ key: "write/a/b", op: "put", version: 1 });
    expect(await receipt("PUT", "/kv/write/a%2Fb?", "two")).toEqual({ key: "write/a/b", op: "put", version: 2 });
    expect(await (await get("/kv/write/a%2Fb")).text()).toBe("two");
    expect((await get("/kv/write/a%2Fb")).headers.get("content-type")).toBe("text/plain");
    expect(await receipt("DELETE", "/kv/write/a%2Fb")).toEqual({ key: "write/a/b", op: "delete", version: 3 });
    expect(await receipt("PUT", "/kv/write/c", "three")).toEqual({ key: "write/c", op: "put", version: 1 });
    expect(await receipt("DELETE", "/kv/write/c?")).toEqual({ key: "write/c", op: "delete", version: 2 });
    expect((await get("/kv/write/a%2Fb")).status).toBe(404);
  });
});
