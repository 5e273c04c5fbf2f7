/**
 * GET routes run without a promise when their handler answers at once (src/http/app.ts,
 * `syncGetRoute`): a cached read comes back from the app's fetch as a Response, not a promise of
 * one; and since the router no longer awaits a GET's handler, an error after a promise (a
 * version that is not there, a failure inside the node) still gets the documented JSON answer.
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
