import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { makeApp } from "../support/app.ts";

let t: Awaited<ReturnType<typeof makeApp>>;
beforeEach(async () => {
  t = await makeApp({ "storage.max_value_size": 1024, "storage.max_batch_ops": 5, "storage.max_batch_bytes": 4096 });
});
afterEach(() => t.close());

async function put(path: string, body: BodyInit, headers: Record<string, string> = {}) {
  const response = await t.call("PUT", path, { body, headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("PUT and GET", () => {
  test("the original example: PUT /hello then GET /hello", async () => {
    const receipt = await put("/hello", "Hello, Hyra!", { "content-type": "application/x-www-form-urlencoded" });
    expect(receipt.status).toBe(200);
    expect(receipt.body).toMatchObject({ key: "hello", op: "put", index: 0, version: 1, tree_size: 1 });
    expect(receipt.body.leaf_hash).toMatch(/^[0-9a-f]{64}$/);
    const response = await t.call("GET", "/hello");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("Hello, Hyra!");
    expect(response.headers.get("x-scribe-index")).toBe("0");
    expect(response.headers.get("x-scribe-version")).toBe("1");
    expect(response.headers.get("etag")).toBe('"1"');
  });

  test("binary values round-trip byte for byte with their content type", async () => {
    const value = new Uint8Array(256).map((_, i) => i);
    await put("/kv/bin/a%00b", value, { "content-type": "image/x-test" });
    const response = await t.call("GET", "/kv/bin/a%00b");
    expect(response.headers.get("content-type")).toBe("image/x-test");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(value);
  });

  test("/kv/* takes any key, including reserved names and slashes", async () => {
    await put("/kv/health", "not the health route");
    await put("/kv/a/b/c", "deep");
    expect(await (await t.call("GET", "/kv/health")).text()).toBe("not the health route");
    expect(await (await t.call("GET", "/kv/a/b/c")).text()).toBe("deep");
    expect((await t.call("GET", "/health")).status).toBe(200);
  });

  test("versions and past reads", async () => {
    await put("/k", "one"); // index 0
    await put("/other", "x"); // index 1
    await put("/k", "two"); // index 2
    expect(await (await t.call("GET", "/k")).text()).toBe("two");
    expect(await (await t.call("GET", "/k?version=1")).text()).toBe("one");
    expect(await (await t.call("GET", "/k?at=1")).text()).toBe("one");
    expect(await (await t.call("GET", "/k?at=2")).text()).toBe("two");
    expect((await t.call("GET", "/k?version=3")).status).toBe(404);
    expect(((await (await t.call("GET", "/k?version=3")).json()) as { code: string }).code).toBe("version_not_found");
    expect((await t.call("GET", "/k?consistency=stale")).status).toBe(200);
  });

  test("DELETE appends a tombstone; history keeps every version", async () => {
    await put("/k", "one");
    const del = await t.call("DELETE", "/k");
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ op: "delete", index: 1, version: 2 });
    const gone = await t.call("GET", "/k");
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ code: "deleted" });
    expect(await (await t.call("GET", "/k?version=1")).text()).toBe("one");
    expect((await t.call("DELETE", "/k")).status).toBe(404);
    const history = (await (await t.call("GET", "/history/k")).json()) as { versions: { version: number; op: string; prev_index: number }[] };
    expect(history.versions.map((v) => [v.version, v.op, v.prev_index])).toEqual([
      [1, "put", -1],
      [2, "delete", 0],
    ]);
    expect((await t.call("GET", "/history/never")).status).toBe(404);
  });

  test("If-Match and If-None-Match answer 412 on mismatch and change nothing", async () => {
    expect((await put("/c", "a", { "if-none-match": "*" })).status).toBe(200);
    const conflict = await put("/c", "b", { "if-none-match": "*" });
    expect(conflict.status).toBe(412);
    expect(conflict.body.code).toBe("precondition_failed");
    expect((await put("/c", "b", { "if-match": "2" })).status).toBe(412);
    expect((await put("/c", "b", { "if-match": '"1"' })).status).toBe(200);
    expect((await t.call("DELETE", "/c", { headers: { "if-match": "1" } })).status).toBe(412);
    expect(t.node.size).toBe(2);
    expect(await (await t.call("GET", "/c")).text()).toBe("b");
  });
});

describe("POST /batch", () => {
  test("appends atomically at consecutive indexes", async () => {
    await put("/x", "0");
    const response = await t.call("POST", "/batch", {
      body: JSON.stringify({ ops: [{ op: "put", key: "a", value: "1" }, { op: "put", key: "b", value_base64: "AAEC" }, { op: "delete", key: "x" }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { first_index: number; last_index: number; receipts: { index: number }[] };
    expect(body.first_index).toBe(1);
    expect(body.last_index).toBe(3);
    expect(body.receipts.map((r) => r.index)).toEqual([1, 2, 3]);
    expect(new Uint8Array(await (await t.call("GET", "/b")).arrayBuffer())).toEqual(new Uint8Array([0, 1, 2]));
  });

  test("a failing precondition refuses the whole batch", async () => {
    const response = await t.call("POST", "/batch", { body: JSON.stringify({ ops: [{ op: "put", key: "a", value: "1" }, { op: "delete", key: "missing" }] }) });
    expect(response.status).toBe(404);
    expect(t.node.size).toBe(0);
    expect((await t.call("GET", "/a")).status).toBe(404);
  });
});

describe("bad input gets a clear error and changes nothing", () => {
  const cases: [string, string, string, BodyInit | undefined, number, string][] = [
    ["empty key", "PUT", "/", "v", 400, "invalid_key"],
    ["empty kv key", "PUT", "/kv/", "v", 400, "invalid_key"],
    ["oversize key", "PUT", `/kv/${"k".repeat(1025)}`, "v", 400, "key_too_large"],
    ["bad percent-encoding", "PUT", "/%E0%A4%A", "v", 400, "invalid_key"],
    ["oversize value", "PUT", "/big", "x".repeat(1025), 413, "value_too_large"],
    ["invalid JSON batch", "POST", "/batch", "{nope", 400, "invalid_json"],
    ["batch not an object", "POST", "/batch", "[1,2]", 400, "invalid_request"],
    ["empty batch", "POST", "/batch", '{"ops":[]}', 400, "invalid_request"],
    ["batch over the op limit", "POST", "/batch", JSON.stringify({ ops: Array.from({ length: 6 }, (_, i) => ({ op: "put", key: `k${i}`, value: "v" })) }), 413, "batch_too_large"],
    ["batch over the byte limit", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v".repeat(5000) }] }), 413, "batch_too_large"],
    ["batch value over the limit", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v".repeat(1025) }] }), 413, "value_too_large"],
    ["batch unknown op", "POST", "/batch", JSON.stringify({ ops: [{ op: "merge", key: "k" }] }), 400, "invalid_request"],
    ["batch unknown field", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v", ttl: 3 }] }), 400, "invalid_request"],
    ["batch bad base64", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value_base64: "!!" }] }), 400, "invalid_value"],
    ["batch empty key", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "", value: "v" }] }), 400, "invalid_key"],
    ["batch key not a string", "POST", "/batch", JSON.stringify({ ops: [{ op: "delete", key: 5 }] }), 400, "invalid_key"],
    ["batch key missing", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", value: "v" }] }), 400, "invalid_key"],
    ["batch key too large", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "é".repeat(513), value: "v" }] }), 400, "key_too_large"],
    ["batch op not an object", "POST", "/batch", JSON.stringify({ ops: [1] }), 400, "invalid_request"],
    ["batch ops not an array", "POST", "/batch", JSON.stringify({ ops: { op: "put" } }), 400, "invalid_request"],
    ["batch unknown top-level field", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v" }], atomic: true }), 400, "invalid_request"],
    ["batch fractional if_match", "POST", "/batch", JSON.stringify({ ops: [{ op: "delete", key: "k", if_match: 1.5 }] }), 400, "invalid_request"],
    ["batch if_none_match not a boolean", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v", if_none_match: "yes" }] }), 400, "invalid_request"],
    ["batch value not a string", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: 5 }] }), 400, "invalid_request"],
    ["batch both value and value_base64", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v", value_base64: "dg==" }] }), 400, "invalid_request"],
    ["batch neither value nor value_base64", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k" }] }), 400, "invalid_request"],
    ["batch content type not printable", "POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "k", value: "v", content_type: "text/\u0001" }] }), 400, "invalid_request"],
    ["batch a delete with a value", "POST", "/batch", JSON.stringify({ ops: [{ op: "delete", key: "k", value: "v" }] }), 400, "invalid_request"],
    ["empty batch body", "POST", "/batch", "", 400, "invalid_json"],
    ["unknown version", "GET", "/k?version=0", undefined, 400, "invalid_version"],
    ["non-numeric version", "GET", "/k?version=abc", undefined, 400, "invalid_version"],
    ["non-numeric at", "GET", "/k?at=-1", undefined, 400, "invalid_index"],
    ["at beyond the ledger", "GET", "/k?at=99", undefined, 400, "invalid_index"],
    ["both version and at", "GET", "/k?version=1&at=0", undefined, 400, "invalid_request"],
    ["bad consistency", "GET", "/k?consistency=eventual", undefined, 400, "invalid_request"],
    ["wrong method on a key", "POST", "/k", "v", 405, "method_not_allowed"],
    ["wrong method on batch", "GET", "/batch", undefined, 405, "method_not_allowed"],
    ["unknown route", "GET", "/no/such/route", undefined, 404, "no_route"],
  ];
  for (const [name, method, path, body, status, code] of cases) {
    test(name, async () => {
      await put("/k", "original");
      const before = t.node.size;
      const response = await t.call(method, path, { body });
      expect(response.status).toBe(status);
      const json = (await response.json()) as { error: string; code: string };
      expect(json.code).toBe(code);
      expect(json.error.length).toBeGreaterThan(5);
      expect(t.node.size).toBe(before);
      expect(await (await t.call("GET", "/k")).text()).toBe("original");
    });
  }

  test("bad If-Match header", async () => {
    const response = await t.call("PUT", "/k", { body: "v", headers: { "if-match": "latest" } });
    expect(response.status).toBe(400);
    expect(t.node.size).toBe(0);
  });
});

describe("schema failures name the field at fault", () => {
  const cases: [string, unknown, string, string][] = [
    ["unknown field", { ops: [{ op: "put", key: "k", value: "v", ttl: 3, tags: [] }] }, "invalid_request", "ops[0] has unknown field(s): ttl, tags"],
    ["unknown op", { ops: [{ op: "put", key: "k", value: "v" }, { op: "merge", key: "k" }] }, "invalid_request", 'ops[1].op must be "put" or "delete", got "merge"'],
    ["missing key", { ops: [{ op: "delete" }] }, "invalid_key", "ops[0].key: the key is empty; keys are 1..1024 bytes of UTF-8"],
    ["if_match", { ops: [{ op: "delete", key: "k", if_match: -1 }] }, "invalid_request", "ops[0].if_match must be a non-negative integer"],
    ["too many operations", { ops: Array.from({ length: 6 }, (_, i) => ({ op: "delete", key: `k${i}` })) }, "batch_too_large", "the batch has 6 operations; the most is 5"],
    ["no operations", { ops: [] }, "invalid_request", "the batch has no operations"],
    ["not an object", [1], "invalid_request", 'the batch body must be {"ops": [...]}'],
    ["a key that is not UTF-8 (checked after the schema)", { ops: [{ op: "delete", key: "k\udc80" }] }, "invalid_key", "ops[0].key: the key is not valid UTF-8"],
  ];
  for (const [name, body, code, message] of cases) {
    test(name, async () => {
      const response = await t.call("POST", "/batch", { body: JSON.stringify(body).replace("\\\\udc80", "\\udc80") });
      expect(await response.json()).toEqual({ code, error: message });
      expect(t.node.size).toBe(0);
    });
  }
});

describe("membership request bodies are checked by their schemas", () => {
  const cases: [string, string, string, string][] = [
    ["add: not JSON", "/cluster/nodes/add", "{nope", "invalid_json"],
    ["add: not an object", "/cluster/nodes/add", "[]", "invalid_request"],
    ["add: no node_id", "/cluster/nodes/add", JSON.stringify({ address: "127.0.0.1:9002" }), "invalid_request"],
    ["add: fractional node_id", "/cluster/nodes/add", JSON.stringify({ node_id: 2.5, address: "127.0.0.1:9002" }), "invalid_request"],
    ["add: node_id 0", "/cluster/nodes/add", JSON.stringify({ node_id: 0, address: "127.0.0.1:9002" }), "invalid_request"],
    ["add: address not host:port", "/cluster/nodes/add", JSON.stringify({ node_id: 2, address: "nowhere" }), "invalid_request"],
    ["add: client not a string", "/cluster/nodes/add", JSON.stringify({ node_id: 2, address: "127.0.0.1:9002", client: 8002 }), "invalid_request"],
    ["add: unknown field", "/cluster/nodes/add", JSON.stringify({ node_id: 2, address: "127.0.0.1:9002", voter: true }), "invalid_request"],
    ["remove: node_id a string", "/cluster/nodes/remove", JSON.stringify({ node_id: "2" }), "invalid_request"],
    ["remove: unknown field", "/cluster/nodes/remove", JSON.stringify({ node_id: 2, force: true }), "invalid_request"],
  ];
  for (const [name, path, body, code] of cases) {
    test(name, async () => {
      const before = t.node.status().membership;
      const response = await t.call("POST", path, { body });
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { code: string; error: string };
      expect(answer.code).toBe(code);
      expect(answer.error.length).toBeGreaterThan(10);
      expect(t.node.status().membership).toEqual(before);
    });
  }

  test("messages name the field", async () => {
    const answer = async (path: string, body: unknown) => (await (await t.call("POST", path, { body: JSON.stringify(body) })).json()) as { error: string };
    expect((await answer("/cluster/nodes/add", { node_id: 2.5, address: "a:1" })).error).toBe("node_id must be a positive integer, got 2.5");
    expect((await answer("/cluster/nodes/add", { node_id: 2, address: "a:1", voter: true })).error).toBe("unknown field(s): voter");
    expect((await answer("/cluster/nodes/remove", { node_id: 2, address: "a:1" })).error).toBe("unknown field(s): address");
  });
});

/**
 * The node-to-node JSON bodies (a leader asking a member to cosign, a follower asking the leader
 * for a checkpoint, a member registering its key) are checked by their schemas too, with the
 * codes and words the hand-written checks gave; a refused one changes nothing.
 */
describe("node-to-node request bodies are checked by their schemas", () => {
  const cases: [string, string, unknown, string, string][] = [
    ["cosign: not JSON", "/cluster/cosign", "{nope", "invalid_json", "the request body is not valid JSON"],
    ["cosign: not an object", "/cluster/cosign", [], "invalid_request", "the body must be a JSON object"],
    ["cosign: nothing", "/cluster/cosign", {}, "invalid_request", "give exactly one of body, keys_body, latest, a string; got nothing"],
    ["cosign: not a string", "/cluster/cosign", { body: 1 }, "invalid_request", "give exactly one of body, keys_body, latest, a string; got body"],
    ["cosign: two fields", "/cluster/cosign", { body: "a", latest: "b" }, "invalid_request", "give exactly one of body, keys_body, latest, a string; got body, latest"],
    ["cosign: another field", "/cluster/cosign", { note: "a" }, "invalid_request", "give exactly one of body, keys_body, latest, a string; got note"],
    ["checkpoint: no size", "/cluster/checkpoint", {}, "invalid_request", "size must be a non-negative integer, got undefined"],
    ["checkpoint: negative size", "/cluster/checkpoint", { size: -1 }, "invalid_request", "size must be a non-negative integer, got -1"],
    ["checkpoint: fractional size", "/cluster/checkpoint", { size: 1.5 }, "invalid_request", "size must be a non-negative integer, got 1.5"],
    ["checkpoint: size a string", "/cluster/checkpoint", { size: "1" }, "invalid_request", 'size must be a non-negative integer, got "1"'],
    ["checkpoint: unknown field", "/cluster/checkpoint", { size: 1, wait: true }, "invalid_request", "unknown field(s): wait"],
    ["keys: no node_id", "/cluster/keys", { key: "k", proof: "p" }, "invalid_request", "node_id must be a positive integer, got undefined"],
    ["keys: key not a string", "/cluster/keys", { node_id: 2, key: 7, proof: "p" }, "invalid_request", "key must be a string (a verifier key), got 7"],
    ["keys: no proof", "/cluster/keys", { node_id: 2, key: "k" }, "invalid_request", "proof must be a string (a signed note), got undefined"],
  ];
  for (const [name, path, body, code, message] of cases) {
    test(name, async () => {
      const [size, identity] = [t.node.size, t.node.identity()];
      const response = await t.call("POST", path, { body: typeof body === "string" ? body : JSON.stringify(body) });
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { code: string; error: string };
      expect(answer.code).toBe(code);
      expect(answer.error.startsWith(message), answer.error).toBe(true);
      expect([t.node.size, t.node.identity()]).toEqual([size, identity]);
    });
  }

  test("a body past 64 KiB is refused 413 payload_too_large before it is parsed", async () => {
    const response = await t.call("POST", "/cluster/cosign", { body: JSON.stringify({ latest: "x".repeat(70_000) }) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "payload_too_large" });
  });
});

describe("health and metrics", () => {
  test("report the node's true state", async () => {
    await put("/a", "1");
    await put("/b", "2");
    const health = (await (await t.call("GET", "/health")).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: "ok", node_id: 1, ledger_size: 2, checkpoint_disagreement: null });
    // The identity entries (origin with the leader's key, then the key history's epoch 0) are proposed on their own.
    for (let i = 0; i < 400 && t.node.keyHistory().epochs.length === 0; i++) await Bun.sleep(5);
    const metrics = (await (await t.call("GET", "/metrics")).json()) as Record<string, any>;
    // A single node is a one-voter Raft group: the leader's no-op, two identity entries, the two writes.
    expect(metrics).toMatchObject({ node_id: 1, leader_id: 1, role: "leader", commit_index: 5, applied_index: 5, ledger_size: 2 });
    expect(metrics.checkpoints).toMatchObject({ voter_keys: 1, key_epochs: 1 });
    expect(metrics.membership).toEqual([expect.objectContaining({ id: 1, role: "voter" })]);
    expect(metrics.requests.put.requests).toBe(2);
    expect(metrics.storage).toMatchObject({ entries: 2, liveKeys: 2 });
  });

  test("a batch refused for its body (before its handler ran) still counts as a batch request", async () => {
    expect((await t.call("POST", "/batch", { body: JSON.stringify({ ops: [{ op: "put", key: "k", value: "v" }] }) })).status).toBe(200);
    expect((await t.call("POST", "/batch", { body: "{nope" })).status).toBe(400);
    expect((await t.call("POST", "/batch", { body: JSON.stringify({ ops: [] }) })).status).toBe(400);
    const metrics = (await (await t.call("GET", "/metrics")).json()) as { requests: { batch: { requests: number; errors: number } } };
    expect(metrics.requests.batch).toMatchObject({ requests: 3, errors: 0 }); // 4xx are the client's errors, not the node's
  });
});
