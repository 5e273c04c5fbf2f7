/**
 * ScribeHttpClient with injected fetches: endpoint failover (only on connection errors, sticky to
 * the endpoint that answered; a write only when nothing was sent), HTTP errors as HttpError with
 * the node's status and code, timeouts, paging of /keys and /history, and LedgerClient's verified
 * get and history over it (a FakeLedger answering, tampered answers refused).
 */
import { describe, expect, test } from "bun:test";
import { entryToJson, HttpError, LedgerClient, NetworkError, ScribeHttpClient, VerificationError, type FetchInit, type FetchLike } from "../../src/client/index.ts";
import { toHex } from "../../src/lib/index.ts";
import { generateSigner } from "../../src/crypto/index.ts";
import { FakeLedger, origin } from "./fake-ledger.ts";

/** An error shaped like the runtime's connection errors (Bun and Node put a code on them). */
function connectionError(code: string): Error {
  return Object.assign(new TypeError(`${code}: connection failed`), { code });
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** A fetch over named hosts: each host is a function of (path, init) or an error code to throw. */
function hosts(table: Record<string, string | ((path: string, init?: FetchInit) => Response | Promise<Response>)>, calls: string[] = []): FetchLike {
  return async (url, init) => {
    const { host, pathname, search } = new URL(url);
    calls.push(`${init?.method ?? "GET"} ${host}${pathname}${search}`);
    const entry = table[host];
    if (entry === undefined) throw connectionError("ENOTFOUND");
    if (typeof entry === "string") throw connectionError(entry);
    return entry(pathname + search, init);
  };
}

describe("failover", () => {
  test("a read moves past refused endpoints and then starts at the one that answered", async () => {
    const calls: string[] = [];
    let bDown = false;
    const fetch = hosts(
      {
        a: "ECONNREFUSED",
        b: (path) => {
          if (bDown) throw connectionError("ECONNRESET");
          return new Response(`b${path}`);
        },
        c: (path) => new Response(`c${path}`),
      },
      calls,
    );
    const http = new ScribeHttpClient({ endpoints: ["http://a", "http://b/", "http://c"], fetch });
    expect(await http.getText("/one")).toBe("b/one");
    expect(await http.getText("/two")).toBe("b/two");
    expect(http.endpoint).toBe("http://b");
    bDown = true;
    expect(await http.getText("/three")).toBe("c/three"); // a read is safe to send anywhere
    expect(calls).toEqual(["GET a/one", "GET b/one", "GET b/two", "GET b/three", "GET c/three"]);
  });

  test("a write fails over only when nothing was sent; after a reset its outcome is unknown", async () => {
    const receipt = { key: "k", op: "put", index: 0, version: 1, leaf_hash: "0".repeat(64), tree_size: 1, timestamp_ms: 1 };
    const calls: string[] = [];
    const refused = new ScribeHttpClient({ endpoints: ["http://a", "http://b"], fetch: hosts({ a: "ECONNREFUSED", b: () => json(receipt) }, calls) });
    expect(await refused.put("k", "v")).toEqual(receipt as never);
    expect(calls).toEqual(["PUT a/kv/k", "PUT b/kv/k"]);

    calls.length = 0;
    const reset = new ScribeHttpClient({ endpoints: ["http://a", "http://b"], fetch: hosts({ a: "ECONNRESET", b: () => json(receipt) }, calls) });
    const error = await reset.put("k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).code).toBe("outcome_unknown");
    expect((error as Error).message).toContain("outcome is unknown");
    expect(calls).toEqual(["PUT a/kv/k"]); // no key: never retried
  });

  test("a write with an idempotency key is retried after an unknown outcome, with the same key; only then", async () => {
    const receipt = { key: "k", op: "put", index: 7, version: 2, leaf_hash: "0".repeat(64), tree_size: 8, timestamp_ms: 1 };
    const keys: (string | undefined)[] = [];
    let answers = 0;
    // The first answer is a 504 outcome_unknown, the retry gets the (replayed) receipt.
    const node = (_path: string, init?: { headers?: Record<string, string> }) => {
      keys.push(init?.headers?.["idempotency-key"]);
      return ++answers === 1 ? json({ error: "the leader was lost", code: "outcome_unknown" }, 504) : json(receipt);
    };
    const http = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hosts({ a: node }) });
    expect(await http.put("k", "v", { idempotencyKey: "key-1" })).toEqual(receipt as never);
    expect(keys).toEqual(["key-1", "key-1"]);

    // A connection reset after sending is an unknown outcome too: retried once (the default), then reported.
    keys.length = 0;
    const calls: string[] = [];
    const resetting = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hosts({ a: "ECONNRESET" }, calls) });
    const error = (await resetting.delete("k", { idempotencyKey: "key-2" }).catch((e: unknown) => e)) as NetworkError;
    expect(error.code).toBe("outcome_unknown");
    expect(calls).toEqual(["DELETE a/kv/k", "DELETE a/kv/k"]);

    // A refusal is an answer: not retried, even with a key.
    answers = 0;
    const refusing = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hosts({ a: () => (answers++, json({ error: "full", code: "insufficient_storage" }, 507)) }) });
    const refused = (await refusing.put("k", "v", { idempotencyKey: "key-3" }).catch((e: unknown) => e)) as HttpError;
    expect(refused.httpStatus).toBe(507);
    expect(refused.code).toBe("insufficient_storage");
    expect(answers).toBe(1);

    // Without a key an unknown outcome is reported at once.
    answers = 0;
    const unkeyed = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hosts({ a: node }) });
    expect(((await unkeyed.put("k", "v").catch((e: unknown) => e)) as HttpError).code).toBe("outcome_unknown");
    expect(answers).toBe(1);
  });

  test("an HTTP error is an answer: no failover", async () => {
    const calls: string[] = [];
    const http = new ScribeHttpClient({ endpoints: ["http://a", "http://b"], fetch: hosts({ a: () => json({ error: "no leader", code: "no_leader" }, 503), b: () => new Response("b") }, calls) });
    const error = await http.getText("/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(calls).toEqual(["GET a/x"]);
  });

  test("no endpoint answers: one NetworkError naming every endpoint", async () => {
    const http = new ScribeHttpClient({ endpoints: ["http://a", "http://b"], fetch: hosts({ a: "ECONNREFUSED", b: "EHOSTUNREACH" }) });
    const error = (await http.getText("/x").catch((e: unknown) => e)) as NetworkError;
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.message).toBe("cannot reach any endpoint: http://a (ECONNREFUSED: connection failed), http://b (EHOSTUNREACH: connection failed)");
  });

  test("a request that outlives timeoutMs is a timeout", async () => {
    const hanging: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason)));
    const http = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hanging, timeoutMs: 20 });
    const error = (await http.getText("/x").catch((e: unknown) => e)) as NetworkError;
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.code).toBe("timeout");
    expect(error.message).toContain("no complete answer within 0.02 s");
  });

  test("the API key is sent as a Bearer token", async () => {
    let seen: string | undefined;
    const http = new ScribeHttpClient({ endpoints: ["http://a"], apiKey: "k-123", fetch: hosts({ a: (_p, init) => ((seen = init?.headers?.authorization), new Response("ok")) }) });
    await http.getText("/");
    expect(seen).toBe("Bearer k-123");
  });
});

describe("HTTP errors", () => {
  test("carry the status, the node's code and message; an unknown or verification code is not adopted", async () => {
    const answers: Record<string, Response> = {
      "/a": json({ error: 'key "a" not found', code: "not_found" }, 404),
      "/b": new Response("<html>bad gateway</html>", { status: 502 }),
      "/c": json({ error: "trust me", code: "verification_failed" }, 400),
      "/d": json({ error: "nope", code: "brand_new_code" }, 403),
    };
    const http = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hosts({ a: (path) => answers[path]! }) });
    const errors = (await Promise.all(Object.keys(answers).map((path) => http.getText(path).then(() => undefined, (e: unknown) => e)))) as HttpError[];
    expect(errors.map((e) => [e.httpStatus, e.code])).toEqual([
      [404, "not_found"],
      [502, "unavailable"],
      [400, "invalid_request"],
      [403, "forbidden"],
    ]);
    expect(errors[0]!.message).toBe('GET /a: 404 key "a" not found (not_found)');
    expect(errors[1]!.message).toBe("GET /b: 502 <html>bad gateway</html>");
  });
});

describe("paging", () => {
  test("keysPages follows next until null, and stops at limit", async () => {
    const all = Array.from({ length: 7 }, (_, i) => ({ key: `k${i}`, index: i, version: 1, deleted: i === 3 }));
    const calls: string[] = [];
    const fetch = hosts(
      {
        a: (path) => {
          const url = new URL(`http://a${path}`);
          const after = url.searchParams.get("after");
          const limit = Number(url.searchParams.get("limit"));
          const start = after === null ? 0 : all.findIndex((k) => k.key === after) + 1;
          const keys = all.slice(start, start + limit);
          return json({ keys, next: start + limit < all.length ? keys.at(-1)!.key : null, ledger_size: 7 });
        },
      },
      calls,
    );
    const http = new ScribeHttpClient({ endpoints: ["http://a"], fetch });
    const pages = [];
    for await (const page of http.keysPages({ prefix: "k", limit: 5 })) pages.push(page);
    expect(pages.flatMap((p) => p.keys)).toEqual(all.slice(0, 5));
    expect(pages.at(-1)!.next).toBe("k4");
    calls.length = 0;
    const everything = [];
    for await (const page of http.keysPages()) everything.push(...page.keys);
    expect(everything).toEqual(all);
    expect(calls).toEqual(["GET a/keys?limit=1000"]);
  });

  test("a malformed page is refused", async () => {
    const http = new ScribeHttpClient({ endpoints: ["http://a"], fetch: hosts({ a: () => json({ keys: [{ key: "k", index: -1, version: 1, deleted: false }], next: null, ledger_size: 1 }) }) });
    await expect(http.keys()).rejects.toThrow("keys.keys[0].index must be an integer >= 0");
  });
});

const { signer, verifierKey } = await generateSigner("http-client-test");

describe("LedgerClient over the HTTP client", () => {
  /** Serves a FakeLedger: /kv/KEY (latest), /verify, /history, proofs and checkpoints. */
  function serve(ledger: FakeLedger, tamper: { value?: boolean; history?: boolean } = {}): FetchLike {
    return hosts({
      node: async (path) => {
        const url = new URL(`http://node${path}`);
        const key = decodeURIComponent(url.pathname.split("/").slice(2).join("/"));
        if (url.pathname === "/checkpoint") return new Response(await ledger.checkpoint());
        if (url.pathname === "/proof/consistency") return json(await ledger.consistency(Number(url.searchParams.get("from")), Number(url.searchParams.get("to"))));
        if (url.pathname === "/proof/inclusion") return json(ledger.inclusion(Number(url.searchParams.get("index")), Number(url.searchParams.get("tree_size"))));
        if (url.pathname.startsWith("/verify/")) return json(await ledger.verify(key));
        const versions = ledger.history(key);
        if (url.pathname.startsWith("/history/")) {
          const items = versions.map((entry, i) => ({ ...entryToJson(entry), version: i + 1, leaf_hash: toHex(ledger.tree.leafHash(entry.index)) }));
          if (tamper.history) items.splice(1, 1); // hide a version
          return json({ key, versions: items });
        }
        const latest = versions.at(-1)!;
        const value = tamper.value ? new TextEncoder().encode("forged") : ledger.values[latest.index]!;
        return new Response(value as Uint8Array<ArrayBuffer>, { headers: { "x-scribe-index": String(latest.index), "x-scribe-version": String(versions.length), "content-type": "text/plain" } });
      },
    });
  }

  function filled(): FakeLedger {
    const ledger = new FakeLedger(signer);
    for (let i = 0; i < 12; i++) ledger.put(i % 3 === 0 ? "story" : `k${i}`, `v${i}`);
    return ledger;
  }

  test("getVerified and historyVerified pass on honest answers", async () => {
    const ledger = filled();
    const http = new ScribeHttpClient({ endpoints: ["http://node"], fetch: serve(ledger) });
    const client = await LedgerClient.create({ http, verifierKeys: [verifierKey], origin });
    const got = await client.getVerified("story");
    expect(new TextDecoder().decode(got.value)).toBe("v9");
    expect(got.entry.index).toBe(9);
    const { versions, latest } = await client.historyVerified("story");
    expect(versions.map((v) => v.entry.index)).toEqual([0, 3, 6, 9]);
    expect(latest.checkpoint.size).toBe(12);
  });

  test("a forged value or a history with a version left out is refused", async () => {
    const ledger = filled();
    const forged = await LedgerClient.create({ http: new ScribeHttpClient({ endpoints: ["http://node"], fetch: serve(ledger, { value: true }) }), verifierKeys: [verifierKey], origin });
    await expect(forged.getVerified("story")).rejects.toThrow(VerificationError);
    const gapped = await LedgerClient.create({ http: new ScribeHttpClient({ endpoints: ["http://node"], fetch: serve(ledger, { history: true }) }), verifierKeys: [verifierKey], origin });
    await expect(gapped.historyVerified("story")).rejects.toThrow("the history omits or reorders versions");
  });
});
