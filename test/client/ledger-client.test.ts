import { expect, test } from "bun:test";
import { isScribeError, utf8 } from "../../src/lib/index.ts";
import { LedgerClient, MemoryPersistence, VerificationError, type FetchLike } from "../../src/client/index.ts";
import { generateSigner } from "../../src/crypto/index.ts";
import { FakeLedger, origin } from "./fake-ledger.ts";

const { signer, verifierKey } = await generateSigner("client-test");

/** A fetch that answers from whichever fake ledger `current()` returns, recording the paths. */
function fakeFetch(current: () => FakeLedger, paths: string[]): FetchLike {
  return async (url) => {
    const { pathname, searchParams } = new URL(url);
    paths.push(pathname + (searchParams.size ? `?${searchParams}` : ""));
    const ledger = current();
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (pathname === "/checkpoint") return new Response(await ledger.checkpoint());
    if (pathname === "/proof/consistency") return json(await ledger.consistency(Number(searchParams.get("from")), Number(searchParams.get("to"))));
    if (pathname === "/proof/inclusion") return json(ledger.inclusion(Number(searchParams.get("index")), Number(searchParams.get("tree_size"))));
    if (pathname.startsWith("/verify/")) {
      const key = decodeURIComponent(pathname.slice("/verify/".length));
      if (!ledger.history(key).length) return json({ error: `key ${key} not found`, code: "not_found" }, 404);
      return json(await ledger.verify(key));
    }
    return json({ error: "no route", code: "not_found" }, 404);
  };
}

function filled(count: number, suffix = ""): FakeLedger {
  const ledger = new FakeLedger(signer);
  for (let i = 0; i < count; i++) ledger.put(i % 3 === 0 ? "a/b c" : `k${i}`, `v${i}${suffix}`);
  return ledger;
}

test("verifies keys over HTTP and moves its trusted checkpoint forward with consistency proofs", async () => {
  let ledger = filled(10);
  const paths: string[] = [];
  const persistence = new MemoryPersistence();
  const client = await LedgerClient.create({ baseUrl: "http://ledger.test/", verifierKeys: [verifierKey], origin, persistence, fetch: fakeFetch(() => ledger, paths) });
  const first = await client.verifyKey("a/b c", { value: utf8("v9") });
  expect(first.entry.index).toBe(9);
  expect(paths).toEqual(["/verify/a%2Fb%20c"]);

  ledger.put("a/b c", "v10");
  ledger.put("x", "y");
  const second = await client.verifyKey("a/b c", { value: utf8("v10") });
  expect(second.checkpoint.size).toBe(12);
  expect(paths.at(-1)).toBe("/proof/consistency?from=10&to=12");
  expect((await client.trustedState.current())!.size).toBe(12);

  ledger.put("z", "1");
  expect((await client.refreshCheckpoint()).size).toBe(13);

  // The server swaps in a rewritten history with more entries: the client refuses it.
  const rewritten = filled(15, "!");
  ledger = rewritten;
  await expect(client.refreshCheckpoint()).rejects.toThrow(VerificationError);
  await expect(client.verifyKey("k1")).rejects.toThrow(VerificationError);
  expect((await client.trustedState.current())!.size).toBe(13);
});

test("HTTP errors become ScribeErrors with the server's code and message", async () => {
  const ledger = filled(3);
  const client = await LedgerClient.create({ baseUrl: "http://ledger.test", verifierKeys: [verifierKey], fetch: fakeFetch(() => ledger, []) });
  const error = await client.verifyKey("missing").catch((e: unknown) => e);
  expect(isScribeError(error)).toBe(true);
  expect((error as { code: string }).code).toBe("not_found");
  expect((error as Error).message).toContain("key missing not found");
});

test("a checkpoint signed by another key is refused", async () => {
  const stranger = (await generateSigner("client-test")).signer;
  const ledger = new FakeLedger(stranger);
  ledger.put("k", "v");
  const client = await LedgerClient.create({ baseUrl: "http://ledger.test", verifierKeys: [verifierKey], fetch: fakeFetch(() => ledger, []) });
  await expect(client.refreshCheckpoint()).rejects.toThrow("no signature by a known key");
});
