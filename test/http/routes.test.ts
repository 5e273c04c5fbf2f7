/**
 * The route table (src/http/routes.ts) and what is derived from it: reserved key names, the
 * Allow header of a 405, and the role table of docs/SECURITY.md (generated; checked current).
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { renderRouteSection, withRouteSection } from "../../scripts/gen-security-docs.ts";
import { allowedMethods, reservedNames, routeTable } from "../../src/http/index.ts";
import { makeApp } from "../support/app.ts";

test("route ids and (method, path) pairs are unique", () => {
  expect(new Set(routeTable.map((r) => r.id)).size).toBe(routeTable.length);
  expect(new Set(routeTable.map((r) => `${r.method} ${r.path}`)).size).toBe(routeTable.length);
});

test("docs/SECURITY.md lists every route with its role, from the table", async () => {
  const doc = await Bun.file(`${import.meta.dir}/../../docs/SECURITY.md`).text();
  expect(withRouteSection(doc)).toBe(doc);
  const section = renderRouteSection();
  for (const route of routeTable) expect(section).toContain(`| ${route.method} | \`${route.path}\` |`);
});

test("Allow comes from the table; literal routes win over key routes", () => {
  expect(allowedMethods("/health")).toEqual(["GET"]);
  expect(allowedMethods("/cluster/nodes/add/")).toEqual(["POST"]);
  expect(allowedMethods("/kv/a/b")).toEqual(["GET", "PUT", "DELETE"]);
  expect(allowedMethods("/some-key")).toEqual(["GET", "PUT", "DELETE"]);
  expect(allowedMethods("/cluster")).toEqual([]);
  expect(allowedMethods("/no/such/route")).toEqual([]);
});

describe("reserved names", () => {
  let t: Awaited<ReturnType<typeof makeApp>>;
  beforeAll(async () => (t = await makeApp()));
  afterAll(() => t.close());

  test("are the first segments of the table's literal routes", () => {
    expect([...reservedNames].sort()).toEqual(["batch", "checkpoint", "cluster", "entries", "health", "history", "keys", "kv", "metrics", "openapi", "proof", "ready", "tile", "verify", "watch"]);
  });

  test("PUT /<reserved name> is refused with {error, code} and changes nothing; the key lives under /kv/", async () => {
    for (const name of reservedNames) {
      const response = await t.call("PUT", `/${name}`, { body: "v" });
      expect([404, 405], name).toContain(response.status);
      const body = (await response.json()) as { code: string; error: string };
      expect(body.error, name).toContain(`/kv/${name}`);
      if (response.status === 405) expect(response.headers.get("allow"), name).toBe(allowedMethods(`/${name}`).join(", "));
      expect((await t.call("PUT", `/kv/${name}`, { body: name })).status, name).toBe(200);
    }
    expect(t.node.size).toBe(reservedNames.size);
    expect(await (await t.call("GET", "/kv/cluster")).text()).toBe("cluster");
  });

  test("a percent-encoded reserved name is the same name", async () => {
    const response = await t.call("PUT", "/%68ealth", { body: "v" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET");
  });
});

test("HEAD runs the GET route, guarded as GET", async () => {
  const t = await makeApp();
  try {
    await t.call("PUT", "/kv/h", { body: "value" });
    const head = await t.call("HEAD", "/kv/h");
    expect(head.status).toBe(200);
    expect(head.headers.get("x-scribe-version")).toBe("1");
  } finally {
    await t.close();
  }
});
