/**
 * GET /openapi: the OpenAPI 3.1 document, derived from the route table, matches the app's real
 * routes both ways: every route the app registers is documented (operationId = the table's id),
 * and every documented operation answers something other than 404 no_route (or 405); and every
 * route's answers (each line of a stream) match the response schemas its operation names, with no
 * field they do not describe.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeForward, routeTable, type RouteId } from "../../src/http/index.ts";
import { openApiPathOf } from "../../src/http/routes.ts";
import type { S3State } from "../../src/cluster/s3-state.ts";
import { registrationBody } from "../../src/cluster/checkpoints.ts";
import { assessReadiness, type ReadinessInputs } from "../../src/cluster/readiness.ts";
import { generateSigner } from "../../src/crypto/index.ts";
import { utf8 } from "../../src/lib/index.ts";
import { signNote } from "../../src/merkle/index.ts";
import { makeApp } from "../support/app.ts";
import { schemaErrors } from "../support/schemas.ts";
import { followerStatus } from "../support/status.ts";
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

/** The component names a documented JSON (or NDJSON line) schema allows: a $ref, or anyOf $refs. */
function schemaNames(schema: { $ref?: string; anyOf?: { $ref?: string }[] } | undefined): string[] {
  const refs = schema?.anyOf ? schema.anyOf.map((s) => s.$ref) : [schema?.$ref];
  return refs.filter((ref): ref is string => ref !== undefined).map((ref) => ref.replace("#/components/schemas/", ""));
}

/**
 * Every answer a route gives matches the schema its OpenAPI operation names for that status (the
 * TypeBox schemas of src/http/response-schemas.ts, made strict, checked with TypeBox): a 200 of
 * every route, and error answers of the routes whose bodies are validated; each line of a GET
 * /watch stream against the schema its NDJSON names.
 */
describe("answers match their documented schemas", () => {
  type Schema = { $ref?: string; anyOf?: { $ref?: string }[] };
  let s: Awaited<ReturnType<typeof makeApp>>;
  let doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: Schema }> }> }>> };
  beforeAll(async () => {
    s = await makeApp();
    doc = (await (await s.call("GET", "/openapi")).json()) as typeof doc;
    await s.call("PUT", "/kv/sample", { body: "sample-value" });
    await s.call("PUT", "/doomed", { body: "v" });
  });
  afterAll(() => s.close());

  const forward = (to: number) => <Uint8Array<ArrayBuffer>>encodeForward({ from: 2, to, commands: [{ ops: [{ op: "put", key: "fwd", value: utf8("f"), valueHash: new Uint8Array(32), contentType: "text/plain" }] }] });
  /** The body of the node's newest quorum checkpoint (what a leader asks a member to cosign). */
  const checkpointBody = async () => `${(await (await s.call("GET", "/checkpoint")).text()).split("\n\n")[0]}\n`;
  /** A registration of a new member's key for node 2, with a real proof of possession. */
  const registration = async () => {
    const { origin } = (await (await s.call("GET", "/cluster/identity")).json()) as { origin: string };
    const { signer, verifierKey } = await generateSigner("openapi-member");
    return JSON.stringify({ node_id: 2, key: verifierKey, proof: await signNote(registrationBody(origin, 2, verifierKey), signer) });
  };
  const samples: Record<RouteId, { target: string; body?: BodyInit | (() => Promise<BodyInit>); status: number }[]> = {
    root: [{ target: "/", status: 200 }],
    health: [{ target: "/health", status: 200 }],
    ready: [{ target: "/ready", status: 200 }],
    metrics: [{ target: "/metrics", status: 200 }],
    metricsPrometheus: [{ target: "/metrics/prometheus", status: 200 }],
    openapi: [{ target: "/openapi", status: 200 }],
    batch: [
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b1", value: "1" }, { op: "delete", key: "doomed" }] }), status: 200 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b2", value: "2" }], idempotency_key: "openapi-1" }), status: 200 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b2", value: "2" }], idempotency_key: "openapi-1" }), status: 200 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b2", value: "3" }], idempotency_key: "openapi-1" }), status: 422 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "b1", value: "1", ttl: 3 }] }), status: 400 },
      { target: "/batch", body: JSON.stringify({ ops: [{ op: "delete", key: "never-written" }] }), status: 404 },
    ],
    history: [{ target: "/history/sample", status: 200 }, { target: "/history/never-written", status: 404 }],
    verify: [{ target: "/verify/sample", status: 200 }],
    checkpoint: [{ target: "/checkpoint", status: 200 }],
    checkpointKey: [{ target: "/checkpoint/key", status: 200 }],
    checkpointKeys: [{ target: "/checkpoint/keys", status: 200 }],
    checkpointKeyHistory: [{ target: "/checkpoint/keys/history", status: 200 }],
    inclusionProof: [{ target: "/proof/inclusion?index=0", status: 200 }, { target: "/proof/inclusion?index=999", status: 400 }],
    consistencyProof: [{ target: "/proof/consistency?from=1", status: 200 }],
    entries: [{ target: "/entries?limit=10&values=true", status: 200 }],
    // Streams that end by themselves: a full one (its first checkpoint line carries a frontier) and a prefix one with values.
    watch: [
      { target: "/watch?from=1&until=2", status: 200 },
      { target: "/watch?from=0&until=1&prefix=sam&values=true", status: 200 },
      { target: "/watch", status: 400 },
    ],
    keys: [{ target: "/keys", status: 200 }],
    tile: [{ target: "/tile/0/000.p/1", status: 200 }],
    clusterInfo: [{ target: "/cluster/info", status: 200 }],
    clusterNodes: [{ target: "/cluster/nodes", status: 200 }],
    clusterLeader: [{ target: "/cluster/leader/info", status: 200 }],
    clusterReadIndex: [{ target: "/cluster/read-index", status: 200 }],
    clusterLedgerSize: [{ target: "/cluster/ledger-size?raft_index=0", status: 200 }],
    clusterCosign: [
      { target: "/cluster/cosign", body: async () => JSON.stringify({ body: await checkpointBody() }), status: 200 },
      { target: "/cluster/cosign", body: async () => JSON.stringify({ latest: await (await s.call("GET", "/checkpoint")).text() }), status: 200 },
      { target: "/cluster/cosign", body: JSON.stringify({ latest: "not a note" }), status: 500 },
      { target: "/cluster/cosign", body: JSON.stringify({ body: "x", latest: "y" }), status: 400 },
    ],
    clusterCheckpoint: [
      { target: "/cluster/checkpoint", body: JSON.stringify({ size: 1 }), status: 200 },
      { target: "/cluster/checkpoint", body: JSON.stringify({ size: -1 }), status: 400 },
    ],
    clusterKeys: [
      { target: "/cluster/keys", body: registration, status: 200 },
      { target: "/cluster/keys", body: JSON.stringify({ node_id: 2, key: 7, proof: "p" }), status: 400 },
    ],
    clusterIdentity: [{ target: "/cluster/identity", status: 200 }],
    clusterIdempotency: [{ target: "/cluster/idempotency?from=0&to=100", status: 200 }, { target: "/cluster/idempotency?from=5&to=1", status: 400 }],
    clusterNodesAdd: [{ target: "/cluster/nodes/add", body: JSON.stringify({ node_id: 1.5, address: "x" }), status: 400 }],
    clusterNodesRemove: [{ target: "/cluster/nodes/remove", body: "{nope", status: 400 }, { target: "/cluster/nodes/remove", body: JSON.stringify({ node_id: 9 }), status: 404 }],
    clusterPropose: [{ target: "/cluster/propose", body: forward(1), status: 200 }],
    kvGet: [{ target: "/kv/sample", status: 200 }],
    kvPut: [{ target: "/kv/put-sample", body: "v", status: 200 }],
    kvDelete: [{ target: "/kv/put-sample", status: 200 }],
    keyGet: [{ target: "/sample", status: 200 }, { target: "/batch", status: 405 }, { target: "/cluster", status: 404 }],
    keyPut: [{ target: "/put-sample", body: "v", status: 200 }, { target: "/health", body: "v", status: 405 }, { target: "/cluster", body: "v", status: 404 }],
    keyDelete: [{ target: "/put-sample", status: 200 }, { target: "/health", status: 405 }, { target: "/cluster", status: 404 }],
  };

  test("for every route", async () => {
    let lines = 0;
    for (const route of routeTable) {
      for (const sample of samples[route.id]) {
        const body = typeof sample.body === "function" ? await sample.body() : sample.body;
        const response = await s.call(route.method, sample.target, body === undefined ? {} : { body });
        const where = `${route.method} ${sample.target}`;
        expect(response.status, `${where}: ${await response.clone().text()}`).toBe(sample.status);
        const documented = doc.paths[openApiPathOf(route)]![route.method.toLowerCase()]!.responses[String(sample.status)];
        expect(documented, `${where}: status ${sample.status} is documented`).toBeDefined();
        const content = documented!.content ?? {};
        const type = response.headers.get("content-type") ?? "";
        if (type.startsWith("application/x-ndjson")) {
          const names = schemaNames(content["application/x-ndjson"]?.schema);
          expect(names, `${where}: a named schema for each line`).not.toEqual([]);
          for (const line of (await response.text()).split("\n").filter((l) => l !== "")) {
            expect(schemaErrors(names, JSON.parse(line)), `${where}: ${line.slice(0, 300)}`).toEqual([]);
            lines++;
          }
          continue;
        }
        if (!type.startsWith("application/json") || route.id === "kvGet" || route.id === "keyGet" && sample.status === 200) {
          // Raw values, tiles, notes and the Prometheus text: the documented media type names them.
          expect(Object.keys(content).some((media) => media === "*/*" || type.startsWith(media)), `${where}: ${type} in ${Object.keys(content)}`).toBe(true);
          continue;
        }
        const names = schemaNames(content["application/json"]?.schema);
        expect(names, `${where}: a named JSON schema`).not.toEqual([]);
        const answer = await response.json();
        expect(schemaErrors(names, answer), `${where}: ${JSON.stringify(answer).slice(0, 300)}`).toEqual([]);
      }
    }
    // Entry, checkpoint and end lines of the two streams.
    expect(lines).toBeGreaterThanOrEqual(6);
  });

  test("a replayed write says so in the header its operation documents", async () => {
    const put = () => s.call("PUT", "/kv/replayed", { body: "v", headers: { "idempotency-key": "openapi-put" } });
    expect((await put()).headers.get("idempotent-replayed")).toBeNull();
    expect((await put()).headers.get("idempotent-replayed")).toBe("true");
    for (const [path, method] of [["/kv/{key}", "put"], ["/{key}", "delete"], ["/batch", "post"]] as const) {
      const headers = (doc.paths[path]![method]!.responses["200"] as { headers?: Record<string, unknown> }).headers ?? {};
      expect(Object.keys(headers), `${method} ${path}`).toContain("Idempotent-Replayed");
    }
  });

  test("the strict check refuses a field a schema does not describe", () => {
    const status = { node_id: 1, role: "leader", term: 1, leader_id: 1, commit_index: 1, leader_commit_index: 1, applied_index: 1, ledger_size: 1, membership: [], healthy: true, failed: null, checkpoint_disagreement: null, storage: { writable: true, free_bytes: 1, min_free_bytes: 0 } };
    expect(schemaErrors(["NodeStatus"], status)).toEqual([]);
    expect(schemaErrors(["NodeStatus"], { ...status, storage_status: {} })).not.toEqual([]);
    expect(schemaErrors(["NodeStatus"], { ...status, storage: { ...status.storage, full: true } })).not.toEqual([]);
  });
});

/**
 * GET /ready's answer in every state its checks can be in (src/cluster/readiness.ts, the function
 * the node answers with) matches the Ready schema: the happy path above shows only one.
 */
test("every readiness verdict matches the Ready schema", () => {
  const status = followerStatus;
  const s3 = (fields: Partial<S3State>): S3State => ({ reachable: true, age_ms: 10, source: "probe", detail: null, ...fields });
  const verdicts: ReadinessInputs[] = [
    { status: status(), running: true, s3: undefined, policy: { lagEntriesMax: 10, requiresS3: true } },
    { status: status({ leader_id: null, role: "candidate" }), running: true, s3: s3({}), policy: { lagEntriesMax: 10, requiresS3: true } },
    { status: status({ applied_index: 50, leader_commit_index: 200 }), running: true, s3: s3({ reachable: null, age_ms: null, source: null }), policy: { lagEntriesMax: 10, requiresS3: true } },
    { status: status({ storage: { writable: false, reason: "free space below its reserve", free_bytes: 10, min_free_bytes: 64 << 20 } }), running: true, s3: s3({ reachable: false, detail: "ECONNREFUSED" }), policy: { lagEntriesMax: 10, requiresS3: false } },
    { status: status({ failed: "SQLITE_CORRUPT", storage: { writable: true, free_bytes: null, min_free_bytes: 0 } }), running: false, s3: s3({ reachable: false, detail: "timeout" }), policy: { lagEntriesMax: 10, requiresS3: true } },
  ];
  for (const inputs of verdicts) {
    const readiness = assessReadiness(inputs);
    const answer = readiness.ready ? { ready: true, checks: readiness.checks } : readiness;
    expect(schemaErrors(["Ready"], answer), JSON.stringify(answer)).toEqual([]);
  }
});

