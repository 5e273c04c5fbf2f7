/**
 * GET routes run without a promise when their handler answers at once (src/http/app.ts,
 * `syncGetRoute`): a cached read comes back from the app's fetch as a Response, not a promise of
 * one; and since the router no longer awaits a GET's handler, an error after a promise (a
 * version that is not there, a failure inside the node) still gets the documented JSON answer.
 * `GET /kv/<key>` without a query skips the router (src/http/app.ts, `directKeyRead`): its
 * answers are compared with the router's (the same path with an empty query goes through it).
 * Through the real app over a real SQLite file.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
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
  const answer = async (response: Response | Promise<Response>) => {
    const r = await response;
    const headers: [string, string][] = [];
    r.headers.forEach((value, name) => {
      if (name !== "date") headers.push([name, value]);
    });
    return { status: r.status, headers, body: await r.text() };
  };
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
