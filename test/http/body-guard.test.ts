/**
 * Routes whose JSON body is checked by a schema (POST /batch, /cluster/nodes/add,
 * /cluster/nodes/remove, and the node-to-node /cluster/cosign, /cluster/checkpoint,
 * /cluster/keys) judge the caller before the body is read: the router validates a body before its
 * handler runs, so the guard runs in the route's parse hook (src/http/app.ts). A refused caller
 * gets 401/403 whatever the body holds — malformed, oversized, or never sent — nothing changes,
 * and no audit record is written; a node-to-node body other than the one its signature covers is
 * refused before it is parsed; an admitted caller whose body fails its schema gets the body's
 * error and one audit record of it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rawExchange, rawRequest } from "../support/raw-http.ts";
import { apiKeys, clusterHeaders, keyNames, startSecuredServer, type SecuredServer } from "../support/secured-server.ts";

let s: SecuredServer;
beforeAll(async () => {
  s = await startSecuredServer({ "storage.max_value_size": 1024, "storage.max_batch_bytes": 4096 });
});
afterAll(() => s.stop());

const host = () => `Host: 127.0.0.1:${s.port}`;
const members = () => s.server.node.status().membership.length;

async function changesNothing<T>(act: () => Promise<T>): Promise<T> {
  const [size, count, audited] = [s.server.node.size, members(), s.audit().length];
  const result = await act();
  expect(s.server.node.size).toBe(size);
  expect(members()).toBe(count);
  expect(s.audit().length).toBe(audited);
  return result;
}

const routes = [
  ["/batch", "write"],
  ["/cluster/nodes/add", "admin"],
  ["/cluster/nodes/remove", "admin"],
  ["/cluster/cosign", "internal"],
  ["/cluster/checkpoint", "internal"],
  ["/cluster/keys", "internal"],
] as const;

/** An API key whose role is too low for `role` (no API key is enough for a node-to-node route). */
const keyBelow = { write: apiKeys.read, admin: apiKeys.write, internal: apiKeys.admin } as const;

describe("a refused caller is answered before its body is read", () => {
  for (const [target, role] of routes) {
    test(`POST ${target}: no key → 401, a key below ${role} → 403, whatever the body`, async () => {
      const lower = keyBelow[role];
      await changesNothing(async () => {
        for (const body of ["{nope", "[]", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v", ttl: 1 }], node_id: "x" }), "x".repeat(5000)]) {
          const anonymous = await rawRequest(s.port, [`POST ${target} HTTP/1.1`, host()], body);
          expect(anonymous.status).toBe(401);
          expect(anonymous.json).toMatchObject({ code: "unauthorized" });
          expect(anonymous.headers["www-authenticate"]).toContain("Bearer");
          const tooLow = await rawRequest(s.port, [`POST ${target} HTTP/1.1`, host(), `X-API-Key: ${lower}`], body);
          expect(tooLow.status).toBe(403);
          expect(tooLow.json).toMatchObject({ code: "forbidden" });
        }
      });
    });
  }

  test("a body that never arrives: the refusal comes from the headers alone", async () => {
    await changesNothing(async () => {
      // Declares 3000 bytes, sends 10, then nothing: a node that read the body first would wait
      // for the rest and never answer (rawExchange gives up and fails the test).
      const answer = await rawExchange(s.port, [`POST /batch HTTP/1.1\r\n${host()}\r\nContent-Length: 3000\r\nConnection: close\r\n\r\n`, '{"ops": [{']);
      expect(answer.status).toBe(401);
    });
  });
});

describe("a node-to-node body is judged against its signature before it is parsed", () => {
  for (const target of ["/cluster/cosign", "/cluster/checkpoint", "/cluster/keys"]) {
    test(`POST ${target}: a body other than the signed one → 401, even when it is not JSON`, async () => {
      const signed = JSON.stringify({ size: 0 });
      await changesNothing(async () => {
        for (const sent of ["{nope", "[]", JSON.stringify({ size: 1 })]) {
          const answer = await rawRequest(s.port, [`POST ${target} HTTP/1.1`, host(), "Content-Type: application/json", ...Object.entries(clusterHeaders(s.secret, "POST", target, signed)).map(([k, v]) => `${k}: ${v}`)], sent);
          expect(answer.status).toBe(401);
          expect(answer.json).toMatchObject({ code: "unauthorized" });
        }
      });
    });
  }

  test("the signed body itself gets past the guard to its schema", async () => {
    const body = JSON.stringify({ size: "0" });
    const answer = await rawRequest(s.port, ["POST /cluster/checkpoint HTTP/1.1", host(), ...Object.entries(clusterHeaders(s.secret, "POST", "/cluster/checkpoint", body)).map(([k, v]) => `${k}: ${v}`)], body);
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: "invalid_request", error: 'size must be a non-negative integer, got "0"' });
  });
});

describe("an admitted caller's bad body gets its error and one audit record", () => {
  test("a batch failing its schema", async () => {
    const before = s.audit().length;
    const size = s.server.node.size;
    const answer = await rawRequest(s.port, ["POST /batch HTTP/1.1", host(), `X-API-Key: ${apiKeys.write}`], JSON.stringify({ ops: [{ op: "put", key: "k", value: "v", ttl: 1 }] }));
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual({ code: "invalid_request", error: "ops[0] has unknown field(s): ttl" });
    expect(s.server.node.size).toBe(size);
    const records = s.audit().slice(before);
    expect(records).toEqual([expect.objectContaining({ action: "batch", principal: keyNames.write, result: "error", status: 400, code: "invalid_request" })]);
  });

  test("a membership change failing its schema, with the node id it named", async () => {
    const before = s.audit().length;
    const count = members();
    const answer = await rawRequest(s.port, ["POST /cluster/nodes/add HTTP/1.1", host(), `X-API-Key: ${apiKeys.admin}`], JSON.stringify({ node_id: 7, address: "127.0.0.1:9007", voter: true }));
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: "invalid_request" });
    expect(members()).toBe(count);
    expect(s.audit().slice(before)).toEqual([expect.objectContaining({ action: "node_add", principal: keyNames.admin, node_id: 7, result: "error", code: "invalid_request" })]);
  });

  test("invalid JSON and an oversized batch", async () => {
    const before = s.audit().length;
    const json = await rawRequest(s.port, ["POST /batch HTTP/1.1", host(), `X-API-Key: ${apiKeys.write}`], "{nope");
    expect(json.json).toMatchObject({ code: "invalid_json" });
    const big = await rawRequest(s.port, ["POST /batch HTTP/1.1", host(), `X-API-Key: ${apiKeys.write}`], JSON.stringify({ ops: [{ op: "put", key: "k", value: "v".repeat(5000) }] }));
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ code: "batch_too_large" });
    expect(s.audit().slice(before).map((r) => r.code)).toEqual(["invalid_json", "batch_too_large"]);
  });
});
