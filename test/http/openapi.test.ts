/**
 * GET /openapi: the OpenAPI 3.1 document, derived from the route table, matches the app's real
 * routes both ways: every route the app registers is documented (operationId = the table's id),
 * and every documented operation answers something other than 404 no_route (or 405).
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { routeTable } from "../../src/http/index.ts";
import { makeApp } from "../support/app.ts";
const methods = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** An Elysia path as an OpenAPI path: `/:key` and a trailing `/*` become `{key}` (`{tile_path}` under /tile/). */
function openApiPath(path: string): string {
  return path.replace(/\/:([a-zA-Z_]+)/g, "/{$1}").replace(/\/\*$/, path.startsWith("/tile/") ? "/{tile_path}" : "/{key}");
}

describe("GET /openapi", () => {
  let s: Awaited<ReturnType<typeof makeApp>>;
  let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };
  beforeAll(async () => {
    s = await makeApp();
    const response = await s.call("GET", "/openapi");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    doc = (await response.json()) as typeof doc;
  });
  afterAll(() => s.close());

  test("is an OpenAPI 3.1 document whose operations all describe responses", () => {
    expect(doc.openapi).toBe("3.1.0");
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of methods) {
        const operation = item[method] as { responses?: Record<string, unknown> } | undefined;
        if (operation) expect(Object.keys(operation.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
  });

  test("every route of the app is documented", () => {
    const routes = (s.app.routes as { method: string; path: string }[]).map((r) => `${r.method} ${r.path}`);
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter((route) => {
      const [method, path] = route.split(" ") as [string, string];
      return doc.paths[openApiPath(path)]?.[method.toLowerCase()] === undefined;
    });
    expect(missing).toEqual([]);
  });

  test("every entry of the route table is one operation, with its id as operationId and its role", () => {
    const operations = Object.values(doc.paths).flatMap((item) => methods.map((m) => item[m] as { operationId?: string; "x-scribe-role"?: string } | undefined).filter((o) => o !== undefined));
    expect(operations.map((o) => o!.operationId).sort()).toEqual(routeTable.map((r) => r.id).sort());
    for (const route of routeTable) expect(operations.find((o) => o!.operationId === route.id)!["x-scribe-role"]).toBe(route.role);
  });

  test("every documented operation exists: it answers something other than no_route or method_not_allowed", async () => {
    await s.call("PUT", "/kv/doc-key", { body: "v" });
    await s.call("PUT", "/doc-key", { body: "v" });
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of methods) {
        if (!item[method]) continue;
        const concrete = path.replace("{key}", "doc-key").replace("{tile_path}", "0/000.p/1");
        const body = method === "put" ? "x" : method === "post" ? "{}" : undefined;
        const response = await s.call(method.toUpperCase(), concrete, { body });
        const answer = response.headers.get("content-type")?.includes("application/json") ? ((await response.clone().json()) as { code?: string }) : {};
        expect(answer.code, `${method.toUpperCase()} ${concrete}`).not.toBe("no_route");
        expect(response.status, `${method.toUpperCase()} ${concrete}`).not.toBe(405);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(25);
  });
});
