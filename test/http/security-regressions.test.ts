/**
 * One regression test per access-control finding of issue 10 (HTTP side), against a node started
 * as scribe-node starts it, spoken to over raw TCP: a path hidden in the query behind a short
 * Host, a trailing slash past the admin check, a Host-less request (500, or a key cut from the
 * URL by position), a replayed node-to-node call, forwarded writes missing from the audit log,
 * invalid UTF-8 keys, stored pages served as active content, and refusals with an empty body.
 * Every refused request is checked to change nothing.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeForward } from "../../src/http/index.ts";
import type { Operation } from "../../src/ledger/index.ts";
import { utf8 } from "../../src/lib/index.ts";
import { rawExchange, rawRequest } from "../support/raw-http.ts";
import { apiKeys, clusterHeaders, keyNames, startSecuredServer, type SecuredServer } from "../support/secured-server.ts";

let s: SecuredServer;
beforeAll(async () => {
  s = await startSecuredServer({ "storage.max_value_size": 1024, "storage.max_batch_bytes": 4096 });
  const put = await rawRequest(s.port, ["PUT /kv/secret HTTP/1.1", "Host: 127.0.0.1", `X-API-Key: ${apiKeys.write}`], "the secret value");
  expect(put.status).toBe(200);
});
afterAll(() => s.stop());

const host = () => `Host: 127.0.0.1:${s.port}`;
const asAdmin = () => `X-API-Key: ${apiKeys.admin}`;
const members = () => s.server.node.status().membership.length;
const headerLines = (headers: Record<string, string>) => Object.entries(headers).map(([k, v]) => `${k}: ${v}`);

/** Runs `act` and checks the ledger and the membership did not change. */
async function changesNothing<T>(act: () => Promise<T>): Promise<T> {
  const [size, count] = [s.server.node.size, members()];
  const result = await act();
  expect(s.server.node.size).toBe(size);
  expect(members()).toBe(count);
  return result;
}

describe("a path hidden in the query string behind a short Host", () => {
  test("GET /health?/entries?values=true with Host: x and no key is the health route, not every value", async () => {
    const response = await rawRequest(s.port, ["GET /health?/entries?values=true HTTP/1.1", "Host: x"]);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ status: "ok" });
    expect(response.text).not.toContain("entries");
    expect(response.text).not.toContain(Buffer.from("the secret value").toString("base64"));
  });

  test("POST /health?/batch and POST /health?/cluster/nodes/add append nothing and change no membership", async () => {
    await changesNothing(async () => {
      const batch = await rawRequest(s.port, ["POST /health?/batch HTTP/1.1", "Host: x"], JSON.stringify({ ops: [{ op: "put", key: "pwned", value: "1" }] }));
      expect(batch.status).toBe(405);
      expect(batch.json).toMatchObject({ code: "method_not_allowed" });
      const add = await rawRequest(s.port, ["POST /health?/cluster/nodes/add HTTP/1.1", "Host: x"], JSON.stringify({ node_id: 9, address: "127.0.0.1:9" }));
      expect(add.status).toBe(405);
      expect(add.headers.allow).toBe("GET");
    });
  });
});

test("a write key cannot reach an admin route through a trailing slash", async () => {
  await changesNothing(async () => {
    const response = await rawRequest(s.port, ["POST /cluster/nodes/add/ HTTP/1.1", host(), `X-API-Key: ${apiKeys.write}`], JSON.stringify({ node_id: 9, address: "127.0.0.1:9" }));
    expect(response.status).toBe(403);
    expect(response.json).toMatchObject({ code: "forbidden" });
  });
});

describe("requests without a Host", () => {
  test("an HTTP/1.0 GET without Host is served (not 500) with the right key", async () => {
    const response = await rawRequest(s.port, ["GET /kv/secret HTTP/1.0", `X-API-Key: ${apiKeys.read}`]);
    expect(response.status).toBe(200);
    expect(response.text).toBe("the secret value");
    const refused = await rawRequest(s.port, ["GET /kv/secret HTTP/1.0"]);
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ code: "unauthorized" });
  });

  test("with auth off, PUT /kv/abcdef without Host stores key abcdef, not a key cut from the URL by position", async () => {
    const open = await startSecuredServer({ "security.api_keys": "[]" });
    try {
      const put = await rawRequest(open.port, ["PUT /kv/abcdef HTTP/1.0"], "v");
      expect(put.status).toBe(200);
      expect(put.json).toMatchObject({ key: "abcdef", index: 0 });
      expect((await rawRequest(open.port, ["GET /kv/def HTTP/1.0"])).status).toBe(404);
      expect((await rawRequest(open.port, ["GET /kv/abcdef HTTP/1.0"])).text).toBe("v");
      // and the audit record names the client's address, taken from the original socket
      expect(open.audit().at(-1)).toMatchObject({ action: "put", key: "abcdef", client: "127.0.0.1" });
    } finally {
      await open.stop();
    }
  });

  test("HTTP/1.1 without Host is refused by Bun itself (400), and changes nothing", async () => {
    await changesNothing(async () => {
      expect((await rawRequest(s.port, ["PUT /kv/x HTTP/1.1", asAdmin()], "v")).status).toBe(400);
    });
  });
});

test("odd request targets: a fragment is refused with {error, code}; an encoded slash is not a way around /:key's rules", async () => {
  await changesNothing(async () => {
    const fragment = await rawRequest(s.port, ["PUT /kv/a#b HTTP/1.1", host(), asAdmin()], "v");
    expect(fragment.status).toBe(400);
    expect(fragment.json).toMatchObject({ code: "invalid_request" });
    const encoded = await rawRequest(s.port, ["PUT /cluster%2Fnodes%2Fadd HTTP/1.1", host(), asAdmin()], "v");
    expect(encoded.status).toBe(400);
    expect(encoded.json).toMatchObject({ code: "invalid_key" });
    const post = await rawRequest(s.port, ["POST /cluster%2Fnodes%2Fadd HTTP/1.1", host(), asAdmin()], "{}");
    expect(post.status).toBe(405);
  });
});

describe("node-to-node calls", () => {
  const put = (key: string): Operation => ({ op: "put", key, value: utf8("v"), valueHash: new Uint8Array(32), contentType: "text/plain" });
  const propose = (body: Uint8Array, headers: Record<string, string>) =>
    rawRequest(s.port, ["POST /cluster/propose HTTP/1.1", host(), "Content-Type: application/octet-stream", ...headerLines(headers)], body);

  test("a signed request is accepted once: its replay is refused with replayed and appends nothing", async () => {
    const body = encodeForward({ from: 2, to: 1, commands: [{ ops: [put("replay-me")] }] });
    const headers = clusterHeaders(s.secret, "POST", "/cluster/propose", body);
    const first = await propose(body, headers);
    expect(first.status).toBe(200);
    const size = s.server.node.size;
    for (let i = 0; i < 3; i++) {
      const again = await propose(body, headers);
      expect(again.status).toBe(401);
      expect(again.json).toMatchObject({ code: "replayed" });
    }
    expect(s.server.node.size).toBe(size);
    const history = await rawRequest(s.port, ["GET /history/replay-me HTTP/1.1", host(), asAdmin()]);
    expect((history.json as { versions: unknown[] }).versions).toHaveLength(1);
  });

  test("a clock past the window (either way) is refused with clock_skew; a signature for another request with unauthorized", async () => {
    await changesNothing(async () => {
      const body = encodeForward({ from: 2, to: 1, commands: [{ ops: [put("skewed")] }] });
      for (const offsetMs of [-60_000, 60_000]) {
        const skewed = await propose(body, clusterHeaders(s.secret, "POST", "/cluster/propose", body, Date.now() + offsetMs));
        expect(skewed.status).toBe(401);
        expect(skewed.json).toMatchObject({ code: "clock_skew" });
      }
      const otherTarget = await propose(body, clusterHeaders(s.secret, "POST", "/batch", body));
      expect(otherTarget.json).toMatchObject({ code: "unauthorized" });
      const otherSecret = await propose(body, clusterHeaders("f".repeat(64), "POST", "/cluster/propose", body));
      expect(otherSecret.json).toMatchObject({ code: "unauthorized" });
      // An admin key is not a node: /cluster/propose is for the cluster principal only.
      const admin = await propose(body, { "x-api-key": apiKeys.admin });
      expect(admin.status).toBe(403);
    });
  });

  test("a forwarded write is audited on the leader under the original caller, with the forwarding node's id", async () => {
    const body = encodeForward({
      from: 2,
      to: 1,
      commands: [
        { ops: [put("fwd-a")], context: { principal: keyNames.write, role: "write", client: "192.0.2.7" } },
        { ops: [put("fwd-b"), { op: "delete", key: "fwd-missing" }], context: { principal: keyNames.admin, role: "admin", client: "192.0.2.8" } },
      ],
    });
    const response = await propose(body, clusterHeaders(s.secret, "POST", "/cluster/propose", body));
    expect(response.status).toBe(200);
    const records = s.audit().filter((r) => r.forwarded_by === 2);
    expect(records).toContainEqual(expect.objectContaining({ action: "put", key: "fwd-a", principal: keyNames.write, role: "write", client: "192.0.2.7", result: "ok", status: 200 }));
    expect(records).toContainEqual(expect.objectContaining({ action: "batch", keys: ["fwd-b", "fwd-missing"], principal: keyNames.admin, client: "192.0.2.8", result: "error", code: "not_found" }));
  });
});

describe("invalid UTF-8 keys get 400 invalid_key, anywhere", () => {
  const batch = (body: Uint8Array) => rawRequest(s.port, ["POST /batch HTTP/1.1", host(), asAdmin(), "Content-Type: application/json"], body);
  /** A batch body with `bytes` spliced into the key's string (raw bytes, not escapes). */
  const batchWithKeyBytes = (bytes: number[]) => {
    const [head, tail] = ['{"ops":[{"op":"put","key":"k', '","value":"v"}]}'];
    return new Uint8Array([...utf8(head), ...bytes, ...utf8(tail)]);
  };

  test("in a batch, raw invalid bytes in a key are refused (not stored as U+FFFD); a real U+FFFD key is fine", async () => {
    await changesNothing(async () => {
      for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
        const response = await batch(batchWithKeyBytes(bytes));
        expect(response.status).toBe(400);
        expect(response.json).toMatchObject({ code: "invalid_key" });
      }
      const escaped = await batch(utf8('{"ops":[{"op":"put","key":"k\\udc80","value":"v"}]}'));
      expect(escaped.json).toMatchObject({ code: "invalid_key" });
      const value = await batch(new Uint8Array([...utf8('{"ops":[{"op":"put","key":"k","value":"'), 0xff, ...utf8('"}]}')]));
      expect(value.status).toBe(400);
      expect(value.json).toMatchObject({ code: "invalid_value" });
    });
    const replacement = await batch(batchWithKeyBytes([0xef, 0xbf, 0xbd]));
    expect(replacement.status).toBe(200);
  });

  test("in a path, under /kv/, /:key, /history/ and /verify/", async () => {
    await changesNothing(async () => {
      for (const [method, target] of [["PUT", "/kv/%FF"], ["PUT", "/%FF"], ["GET", "/kv/a%C0%AF"], ["GET", "/history/%ED%A0%80"], ["GET", "/verify/%E2%82"], ["DELETE", "/%F4%90%80%80"]] as const) {
        const response = await rawRequest(s.port, [`${method} ${target} HTTP/1.1`, host(), asAdmin()], method === "PUT" ? "v" : "");
        expect(response.status, `${method} ${target}`).toBe(400);
        expect(response.json, `${method} ${target}`).toMatchObject({ code: "invalid_key" });
      }
    });
  });

  test("in a forwarded command list", async () => {
    await changesNothing(async () => {
      const envelope = encodeForward({ from: 2, to: 1, commands: [{ ops: [{ op: "delete", key: "k\u00e9" }] }] });
      const at = envelope.lastIndexOf(0xc3);
      envelope[at] = 0xff;
      const response = await rawRequest(s.port, ["POST /cluster/propose HTTP/1.1", host(), ...headerLines(clusterHeaders(s.secret, "POST", "/cluster/propose", envelope))], envelope);
      expect(response.status).toBe(400);
      expect(response.json).toMatchObject({ code: "invalid_key" });
    });
  });
});

test("a stored text/html value is served with nosniff and a sandbox CSP, under /kv/ and /:key", async () => {
  const page = "<script>fetch('/kv/secret')</script>";
  for (const target of ["/kv/page.html", "/page.html"]) {
    expect((await rawRequest(s.port, [`PUT ${target} HTTP/1.1`, host(), asAdmin(), "Content-Type: text/html"], page)).status).toBe(200);
    const response = await rawRequest(s.port, [`GET ${target} HTTP/1.1`, host(), asAdmin()]);
    expect(response.text).toBe(page);
    expect(response.headers["content-type"]).toBe("text/html");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["content-security-policy"]).toBe("sandbox");
  }
});

describe("refusals carry {error, code} wherever the node shapes them", () => {
  test("a declared body past a route's limit, even far past it, is a JSON 413 and the connection closes", async () => {
    await changesNothing(async () => {
      for (const [target, declared, code] of [["/kv/big", 2048, "value_too_large"], ["/kv/big", 20 * 1024 * 1024, "value_too_large"], ["/batch", 5000, "batch_too_large"]] as const) {
        const method = target === "/batch" ? "POST" : "PUT";
        const response = await rawExchange(s.port, [`${method} ${target} HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nContent-Length: ${declared}\r\n\r\n`]);
        expect(response.status).toBe(413);
        expect(response.json).toMatchObject({ code });
        expect(response.headers.connection).toBe("close");
      }
    });
  });

  test("a chunked body past the limit is a JSON 413", async () => {
    await changesNothing(async () => {
      const chunk = `400\r\n${"x".repeat(1024)}\r\n`;
      const response = await rawExchange(s.port, [`PUT /kv/big HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nTransfer-Encoding: chunked\r\n\r\n`, chunk, chunk, "0\r\n\r\n"], 20);
      expect(response.status).toBe(413);
      expect(response.json).toMatchObject({ code: "value_too_large" });
    });
  });

  test("what Bun answers before the app sees the request (docs/SECURITY.md): 431, malformed framing, a body past its cap", async () => {
    await changesNothing(async () => {
      const bun = [
        [431, `GET /kv/secret HTTP/1.1\r\n${host()}\r\nX-Pad: ${"a".repeat(80_000)}\r\n\r\n`],
        [400, `PUT /kv/x HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nContent-Length: abc\r\n\r\nv`],
        [400, `PUT /kv/x HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nvv`],
        [400, `PUT /kv/x HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nv\r\n0\r\n\r\n`],
        [413, `PUT /kv/x HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nContent-Length: ${4 * 1024 * 1024 * 1024}\r\n\r\n`],
      ] as const;
      for (const [status, request] of bun) expect((await rawExchange(s.port, [request])).status).toBe(status);
      // A chunk that turns bad after the handler started reading: Bun answers 400 itself; the
      // handler's read fails and is mapped to a refusal, not an internal error.
      const late = await rawExchange(s.port, [`PUT /kv/x HTTP/1.1\r\n${host()}\r\n${asAdmin()}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nv\r\n`, "zz\r\nv\r\n0\r\n\r\n"], 100);
      expect(late.status).toBe(400);
    });
  });
});

test("HEAD runs the GET route with the GET route's guard", async () => {
  const denied = await rawRequest(s.port, ["HEAD /kv/secret HTTP/1.1", host()]);
  expect(denied.status).toBe(401);
  const allowed = await rawRequest(s.port, ["HEAD /kv/secret HTTP/1.1", host(), `X-API-Key: ${apiKeys.read}`]);
  expect(allowed.status).toBe(200);
  expect(allowed.body.length).toBe(0);
});
