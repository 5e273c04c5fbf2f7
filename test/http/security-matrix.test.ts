/**
 * The access-control matrix, driven by the route table itself: for every route of
 * src/http/routes.ts, every principal (none, read, write, admin, cluster) and every spelling of
 * its request (trailing or doubled slash, case, dot segments, percent-encoded separators, a path
 * hidden in the query, short / empty / odd / missing Host, absolute-form targets), the answer
 * the node gives over a real TCP socket. A spelling either reaches the same route with the same
 * role (and gets the same status as the canonical request), or is refused with a 4xx
 * `{error, code}`; a caller whose role is too low never gets a 2xx. A refused request changes
 * nothing: the tree size is compared before and after every request.
 *
 * A new route needs a sample request below (the map is typed by RouteId, and a test checks every
 * entry of the table has one), and is then covered by every principal and spelling.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeForward, routeTable, type Route, type RouteId, type RouteRole } from "../../src/http/index.ts";
import { utf8 } from "../../src/lib/index.ts";
import { rawRequest, type RawResponse } from "../support/raw-http.ts";
import { apiKeys, clusterHeaders, startSecuredServer, type SecuredServer } from "../support/secured-server.ts";

type PrincipalName = "none" | "read" | "write" | "admin" | "cluster";
const principals: PrincipalName[] = ["none", "read", "write", "admin", "cluster"];

/** A request that the route answers with `status` once the guard lets the caller through. */
interface Sample {
  target: string;
  body?: string | Uint8Array;
  contentType?: string;
  status: number;
  /** For key routes: the key the answer must be about (never another one cut from the URL). */
  key?: string;
  /** For value reads: the value the answer must carry. */
  value?: string;
}

const storedValue = "sample-value";
const forwardBody = (to: number) => encodeForward({ from: 2, to, commands: [{ ops: [{ op: "put", key: "m-forwarded", value: utf8("f"), valueHash: new Uint8Array(32), contentType: "text/plain" }], context: { principal: "someone", role: "write", client: "192.0.2.7" } }] });

const samples: Record<RouteId, Sample> = {
  root: { target: "/", status: 200 },
  health: { target: "/health", status: 200 },
  ready: { target: "/ready", status: 200 },
  metrics: { target: "/metrics", status: 200 },
  metricsPrometheus: { target: "/metrics/prometheus", status: 200 },
  openapi: { target: "/openapi", status: 200 },
  batch: { target: "/batch", body: JSON.stringify({ ops: [{ op: "put", key: "m-batch", value: "1" }] }), contentType: "application/json", status: 200 },
  history: { target: "/history/sample", status: 200, key: "sample" },
  verify: { target: "/verify/sample", status: 200, key: "sample" },
  checkpoint: { target: "/checkpoint", status: 200 },
  checkpointKey: { target: "/checkpoint/key", status: 200 },
  checkpointKeys: { target: "/checkpoint/keys", status: 200 },
  checkpointKeyHistory: { target: "/checkpoint/keys/history", status: 200 },
  inclusionProof: { target: "/proof/inclusion?index=0", status: 200 },
  consistencyProof: { target: "/proof/consistency?from=0", status: 200 },
  entries: { target: "/entries?limit=1&values=true", status: 200 },
  keys: { target: "/keys?prefix=sam", status: 200 },
  // A stream that ends by itself (until=1): the entry at index 0, a checkpoint, {"end": "until"}.
  watch: { target: "/watch?from=0&until=1", status: 200 },
  tile: { target: "/tile/0/000.p/1", status: 200 },
  clusterInfo: { target: "/cluster/info", status: 200 },
  clusterNodes: { target: "/cluster/nodes", status: 200 },
  clusterLeader: { target: "/cluster/leader/info", status: 200 },
  clusterReadIndex: { target: "/cluster/read-index", status: 200 },
  clusterLedgerSize: { target: "/cluster/ledger-size?raft_index=0", status: 200 },
  clusterIdempotency: { target: "/cluster/idempotency?from=0&to=10", status: 200 },
  // Authorized callers get past the guard to body validation: 400 proves the guard let them in
  // without changing the membership of the one-node cluster.
  clusterNodesAdd: { target: "/cluster/nodes/add", body: "{}", contentType: "application/json", status: 400 },
  clusterNodesRemove: { target: "/cluster/nodes/remove", body: "{}", contentType: "application/json", status: 400 },
  clusterCosign: { target: "/cluster/cosign", body: "{}", contentType: "application/json", status: 400 },
  clusterCheckpoint: { target: "/cluster/checkpoint", body: "{}", contentType: "application/json", status: 400 },
  clusterKeys: { target: "/cluster/keys", body: "{}", contentType: "application/json", status: 400 },
  clusterIdentity: { target: "/cluster/identity", status: 200 },
  clusterPropose: { target: "/cluster/propose", body: forwardBody(1), contentType: "application/octet-stream", status: 200 },
  kvGet: { target: "/kv/sample", status: 200, key: "sample", value: storedValue },
  kvPut: { target: "/kv/m-put", body: "v", status: 200, key: "m-put" },
  kvDelete: { target: "/kv/m-never", status: 404 },
  keyGet: { target: "/sample", status: 200, key: "sample", value: storedValue },
  keyPut: { target: "/m-put", body: "v", status: 200, key: "m-put" },
  keyDelete: { target: "/m-never", status: 404 },
};

function mayCall(role: RouteRole, principal: PrincipalName): boolean {
  if (role === "none" || principal === "cluster") return true;
  if (role === "internal") return false;
  const rank = { none: 0, read: 1, write: 2, admin: 3 }[principal];
  return rank >= { read: 1, write: 2, admin: 3 }[role];
}

/** What the canonical request gets: the sample's status, or the guard's refusal. */
function expectedStatus(route: Route, principal: PrincipalName): number {
  if (mayCall(route.role, principal)) return samples[route.id].status;
  return principal === "none" ? 401 : 403;
}

/**
 * How a spelling relates to the canonical request: "same" (the same route, so the same status),
 * "refusable" (the same route or a 4xx refusal), "health" (the real path is /health, so that route
 * answers, never the one hidden in the query), or "skip" (not a different spelling here).
 */
type Relation = "same" | "refusable" | "health" | "skip";

interface Spelling {
  name: string;
  relation(route: Route, target: string): Relation;
  /** The request line and Host lines, and the target the server sees (which a node would sign). */
  build(method: string, target: string, port: number): { head: string[]; seen: string };
}

const splitTarget = (target: string): [string, string] => {
  const q = target.indexOf("?");
  return q === -1 ? [target, ""] : [target.slice(0, q), target.slice(q)];
};
const http11 = (method: string, target: string, host: string | null): string[] => [`${method} ${target} HTTP/1.1`, ...(host === null ? [] : [`Host: ${host}`])];

const spellings: Spelling[] = [
  { name: "canonical", relation: () => "same", build: (m, t, port) => ({ head: http11(m, t, `127.0.0.1:${port}`), seen: t }) },
  {
    name: "trailing slash",
    // Under a `*` route the slash belongs to the key (another key, perhaps absent).
    relation: (route, t) => (splitTarget(t)[0] === "/" ? "skip" : route.path.endsWith("*") ? "refusable" : "same"),
    build: (m, t, port) => {
      const [path, query] = splitTarget(t);
      return { head: http11(m, `${path}/${query}`, `127.0.0.1:${port}`), seen: `${path}/${query}` };
    },
  },
  { name: "doubled slash", relation: () => "refusable", build: (m, t, port) => ({ head: http11(m, `/${t}`, `127.0.0.1:${port}`), seen: `/${t}` }) },
  {
    name: "upper case",
    relation: (_, t) => (splitTarget(t)[0].toUpperCase() === splitTarget(t)[0] ? "skip" : "refusable"),
    build: (m, t, port) => {
      const [path, query] = splitTarget(t);
      return { head: http11(m, path.toUpperCase() + query, `127.0.0.1:${port}`), seen: path.toUpperCase() + query };
    },
  },
  { name: "dot segments", relation: () => "same", build: (m, t, port) => ({ head: http11(m, `/kv/..${t}`, `127.0.0.1:${port}`), seen: t }) },
  { name: "encoded dot segments", relation: () => "same", build: (m, t, port) => ({ head: http11(m, `/history/%2e%2E${t}`, `127.0.0.1:${port}`), seen: t }) },
  {
    name: "encoded separators",
    relation: (_, t) => (splitTarget(t)[0].lastIndexOf("/") === 0 ? "skip" : "refusable"),
    build: (m, t, port) => {
      const [path, query] = splitTarget(t);
      const spelled = `/${path.slice(1).replaceAll("/", "%2F")}${query}`;
      return { head: http11(m, spelled, `127.0.0.1:${port}`), seen: spelled };
    },
  },
  { name: "path hidden in the query (short Host)", relation: () => "health", build: (m, t) => ({ head: http11(m, `/health?${t}`, "x"), seen: `/health?${t}` }) },
  {
    name: "lower route in the query (short Host)",
    relation: () => "same",
    build: (m, t) => {
      const spelled = `${t}${t.includes("?") ? "&" : "?"}/health`;
      return { head: http11(m, spelled, "x"), seen: spelled };
    },
  },
  { name: "short Host", relation: () => "same", build: (m, t) => ({ head: http11(m, t, "ab"), seen: t }) },
  { name: "empty Host", relation: () => "same", build: (m, t) => ({ head: http11(m, t, ""), seen: t }) },
  { name: "odd Host", relation: () => "same", build: (m, t) => ({ head: http11(m, t, "user@evil.example/x?y"), seen: t }) },
  { name: "no Host (HTTP/1.0)", relation: () => "same", build: (m, t) => ({ head: [`${m} ${t} HTTP/1.0`], seen: t }) },
  { name: "absolute-form target", relation: () => "same", build: (m, t, port) => ({ head: http11(m, `http://elsewhere.example${t}`, `127.0.0.1:${port}`), seen: t }) },
];

let s: SecuredServer;
beforeAll(async () => {
  s = await startSecuredServer();
  for (const target of ["/kv/sample", "/sample"]) {
    const put = await rawRequest(s.port, [`PUT ${target} HTTP/1.1`, `Host: 127.0.0.1:${s.port}`, `X-API-Key: ${apiKeys.admin}`], storedValue);
    expect(put.status).toBe(200);
  }
});
afterAll(() => s.stop());

function credentials(principal: PrincipalName, method: string, seen: string, body: string | Uint8Array): string[] {
  if (principal === "none") return [];
  if (principal === "cluster") return Object.entries(clusterHeaders(s.secret, method, seen, body)).map(([k, v]) => `${k}: ${v}`);
  return [`X-API-Key: ${apiKeys[principal]}`];
}

/** Why `response` is wrong for this cell of the matrix, or undefined when it is right. */
function problem(route: Route, principal: PrincipalName, relation: Relation, response: RawResponse): string | undefined {
  const want = expectedStatus(route, principal);
  const got = response.status;
  if (got >= 400 && (typeof response.json?.code !== "string" || typeof response.json?.error !== "string")) return `${got} without {error, code}`;
  if (got >= 500 && got !== want) return `server error ${got} ${response.text}`;
  if (relation === "health") {
    if (route.method === "GET") return got === 200 && response.json?.status === "ok" ? undefined : `want the health route's answer, got ${got} ${response.text.slice(0, 80)}`;
    // POST /health is 405; PUT or DELETE /health is the key route (guarded as such), which refuses the reserved name.
    return got >= 400 && got < 500 ? undefined : `want a 4xx from /health, got ${got}`;
  }
  if (got >= 200 && got < 300 && !mayCall(route.role, principal)) return `a ${principal} caller got ${got} on a ${route.role} route`;
  if (got !== want && !(relation === "refusable" && got >= 400 && got < 500)) return `want ${want}, got ${got} ${response.text.slice(0, 120)}`;
  const sample = samples[route.id];
  if (got === want && got === 200 && relation === "same") {
    if (sample.value !== undefined && response.text !== sample.value) return `want the value of ${sample.key}, got ${JSON.stringify(response.text)}`;
    if (sample.key !== undefined && sample.value === undefined && response.json?.key !== sample.key) return `want key ${sample.key}, got ${JSON.stringify(response.json?.key)}`;
  }
  return undefined;
}

test("every route of the table has a sample request", () => {
  expect(routeTable.filter((route) => samples[route.id] === undefined).map((route) => route.id)).toEqual([]);
  expect(routeTable.length).toBe(Object.keys(samples).length);
});

describe("access control: every route × principal × spelling, over TCP", () => {
  for (const route of routeTable) {
    test(`${route.method} ${route.path} (${route.role})`, async () => {
      const sample = samples[route.id];
      const failures: string[] = [];
      let checked = 0;
      for (const principal of principals) {
        for (const spelling of spellings) {
          const relation = spelling.relation(route, sample.target);
          if (relation === "skip") continue;
          // A forward names its receiver; the body is signed as is.
          const body = sample.body ?? "";
          const { head, seen } = spelling.build(route.method, sample.target, s.port);
          const lines = [...head, ...credentials(principal, route.method, seen, body)];
          if (sample.contentType) lines.push(`Content-Type: ${sample.contentType}`);
          const before = s.server.node.size;
          const response = await rawRequest(s.port, lines, body);
          const after = s.server.node.size;
          const wrong = problem(route, principal, relation, response);
          if (wrong) failures.push(`${principal} / ${spelling.name}: ${wrong}`);
          if ((response.status < 200 || response.status >= 300) && after !== before) failures.push(`${principal} / ${spelling.name}: refused with ${response.status} but the tree grew ${before} -> ${after}`);
          checked++;
        }
      }
      expect(failures).toEqual([]);
      expect(checked).toBeGreaterThanOrEqual(principals.length * 10);
    });
  }
});
