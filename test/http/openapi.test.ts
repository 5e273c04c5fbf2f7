/**
 * GET /openapi: the OpenAPI 3.1 document, derived from the route table, matches the app's real
 * routes both ways: every route the app registers is documented (operationId = the table's id),
 * and every documented operation answers something other than 404 no_route (or 405); and every
 * route's answers match the response schemas its operation names.
 */

import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeForward, routeTable, type RouteId } from "../../src/http/index.ts";
import { openApiPathOf } from "../../src/http/routes.ts";
import { responseSchemas } from "../../src/http/schemas.ts";
import { utf8 } from "../../src/lib/index.ts";
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

/**
 * Every answer a route gives matches the schema its OpenAPI operation names for that status (the
 * TypeBox schemas of src/http/schemas.ts, checked with TypeBox): a 200 of every route, and error
 * answers of the routes whose bodies are validated.
 */
describe("answers match their documented schemas", () => {
  let s: Awaited<ReturnType<typeof makeApp>>;
  let doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>> };
  beforeAll(async () => {
    s = await makeApp();
    doc = (await (await s.call("GET", "/openapi")).json()) as typeof doc;
    await s.call("PUT", "/kv/sample", { body: "sample-value" });
    await s.call("PUT", "/doomed", { body: "v" });
  });
  afterAll(() => s.close());

  const forward = (to: number) => <Uint8Array<ArrayBuffer>>encodeForward({ from: 2, to, commands: [{ ops: [{ op: "put", key: "fwd", value: utf8("f"), valueHash: new Uint8Array(32), contentType: "text/plain" }] }] });
  const samples: Record<RouteId, { target: string; body?: BodyInit; status: number }[]> = {
    root: [{ target: "/", status: 200 }],
    health: [{ target: "/health", status: 200 }],
    ready: [{ target: "/ready", status: 200 }],
    metrics: [{ target: "/metrics", status: 200 }],
    metricsPrometheus: [{ target: "/metrics/prometheus", status: 200 }],
    openapi: [{ target: "/openapi", status: 200 }],
    batch: [
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b1", value: "1" }, { op: "delete", key: "doomed" }] }), status: 200 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b1", value: "1", ttl: 3 }] }), status: 400 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "delete", key: "never-written" }] }), status: 404 },
    ],
    history: [{ target: "/history/sample", status: 200 }, { target: "/history/never-written", status: 404 }],
    verify: [{ target: "/verify/sample", status: 200 }],
    checkpoint: [{ target: "/checkpoint", status: 200 }],
    checkpointKey: [{ target: "/checkpoint/key", status: 200 }],
    inclusionProof: [{ target: "/proof/inclusion?index=0", status: 200 }, { target: "/proof/inclusion?index=999", status: 400 }],
    consistencyProof: [{ target: "/proof/consistency?from=1", status: 200 }],
    entries: [{ target: "/entries?limit=10&values=true", status: 200 }],
    keys: [{ target: "/keys", status: 200 }],
    tile: [{ target: "/tile/0/000.p/1", status: 200 }],
    clusterInfo: [{ target: "/cluster/info", status: 200 }],
    clusterNodes: [{ target: "/cluster/nodes", status: 200 }],
    clusterLeader: [{ target: "/cluster/leader/info", status: 200 }],
    clusterReadIndex: [{ target: "/cluster/read-index", status: 200 }],
    clusterLedgerSize: [{ target: "/cluster/ledger-size?raft_index=0", status: 200 }],
    clusterNodesAdd: [{ target: "/cluster/nodes/add", body: JSON.stringify({ node_id: 1.5, address: "x" }), status: 400 }],
    clusterNodesRemove: [{ target: "/cluster/nodes/remove", body: "{nope", status: 400 }],
    clusterPropose: [{ target: "/cluster/propose", body: forward(1), status: 200 }],
    kvGet: [{ target: "/kv/sample", status: 200 }],
    kvPut: [{ target: "/kv/put-sample", body: "v", status: 200 }],
    kvDelete: [{ target: "/kv/put-sample", status: 200 }],
    keyGet: [{ target: "/sample", status: 200 }],
    keyPut: [{ target: "/put-sample", body: "v", status: 200 }],
    keyDelete: [{ target: "/put-sample", status: 200 }],
  };

  test("for every route", async () => {
    const schemas = responseSchemas as Record<string, TSchema>;
    for (const route of routeTable) {
      for (const sample of samples[route.id]) {
        const response = await s.call(route.method, sample.target, sample.body === undefined ? {} : { body: sample.body });
        const where = `${route.method} ${sample.target}`;
        expect(response.status, `${where}: ${await response.clone().text()}`).toBe(sample.status);
        const documented = doc.paths[openApiPathOf(route)]![route.method.toLowerCase()]!.responses[String(sample.status)];
        expect(documented, `${where}: status ${sample.status} is documented`).toBeDefined();
        const content = documented!.content ?? {};
        const type = response.headers.get("content-type") ?? "";
        if (!type.startsWith("application/json") || route.id === "kvGet" || route.id === "keyGet") {
          // Raw values, tiles, notes and the Prometheus text: the documented media type names them.
          expect(Object.keys(content).some((media) => media === "*/*" || type.startsWith(media)), `${where}: ${type} in ${Object.keys(content)}`).toBe(true);
          continue;
        }
        const name = content["application/json"]?.schema?.$ref?.replace("#/components/schemas/", "");
        expect(name, `${where}: a named JSON schema`).toBeDefined();
        const body = await response.json();
        const errors = [...Value.Errors(schemas[name!]!, body)].slice(0, 3).map((e) => `${e.path}: ${e.message}`);
        expect(errors, `${where} against ${name}: ${JSON.stringify(body).slice(0, 300)}`).toEqual([]);
      }
    }
  });
});
