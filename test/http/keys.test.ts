/**
 * GET /keys through the real app over a real SQLite file: byte order with non-ASCII keys, deleted
 * keys flagged, prefix filter, the `after` cursor across pages (and across deletes made between
 * pages), limits, and 400 {error, code} for every bad parameter.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { keysLimitDefault, keysLimitMax } from "../../src/http/keys.ts";
import { makeApp } from "../support/app.ts";

let t: Awaited<ReturnType<typeof makeApp>>;
beforeAll(async () => {
  t = await makeApp();
});
afterAll(() => t.close());

interface KeysPage {
  keys: { key: string; index: number; version: number; deleted: boolean }[];
  next: string | null;
  ledger_size: number;
}

async function keys(query = ""): Promise<KeysPage> {
  const response = await t.call("GET", `/keys${query}`);
  expect(response.status, await response.clone().text()).toBe(200);
  expect(response.headers.get("content-type")).toContain("application/json");
  return (await response.json()) as KeysPage;
}

async function refused(query: string): Promise<{ status: number; code: string; error: string }> {
  const response = await t.call("GET", `/keys${query}`);
  const body = (await response.json()) as { code: string; error: string };
  return { status: response.status, ...body };
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const put = (key: string, value = "v") => t.call("PUT", `/kv/${encodeURIComponent(key)}`, { body: value });
const del = (key: string) => t.call("DELETE", `/kv/${encodeURIComponent(key)}`);

describe("GET /keys", () => {
  test("an empty ledger has no keys and no next page", async () => {
    expect(await keys()).toEqual({ keys: [], next: null, ledger_size: 0 });
  });

  // Byte order differs from JavaScript's string order for U+E000..U+FFFF against astral characters.
  const names = ["b", "a", "é", "\uffff", "\u{1f600}", "Z", "a/b", "users/alice", "users/bob", "users", "usersX", "é/x", "keys"];

  test("every key, in UTF-8 byte order, with its latest index and version; deleted keys flagged", async () => {
    for (const name of names) expect((await put(name)).status).toBe(200);
    expect((await put("users/alice", "second")).status).toBe(200);
    expect((await del("b")).status).toBe(200);
    const page = await keys();
    const sorted = [...names].sort(byteOrder);
    expect(sorted).not.toEqual([...names].sort()); // the case JavaScript's sort gets wrong is in the set
    expect(page.keys.map((k) => k.key)).toEqual(sorted);
    expect(page.next).toBeNull();
    expect(page.ledger_size).toBe(names.length + 2);
    expect(page.keys.find((k) => k.key === "users/alice")).toEqual({ key: "users/alice", index: names.length, version: 2, deleted: false });
    expect(page.keys.find((k) => k.key === "b")).toEqual({ key: "b", index: names.length + 1, version: 2, deleted: true });
    expect(page.keys.filter((k) => k.deleted).map((k) => k.key)).toEqual(["b"]);
  });

  test("prefix keeps only keys starting with it (byte-wise), non-ASCII prefixes included", async () => {
    expect((await keys("?prefix=users/")).keys.map((k) => k.key)).toEqual(["users/alice", "users/bob"]);
    expect((await keys("?prefix=users")).keys.map((k) => k.key)).toEqual(["users", "users/alice", "users/bob", "usersX"]);
    expect((await keys(`?prefix=${encodeURIComponent("é")}`)).keys.map((k) => k.key)).toEqual(["é", "é/x"]);
    expect((await keys("?prefix=nothing-here")).keys).toEqual([]);
  });

  test("after is exclusive; paging with next visits every key once, in order", async () => {
    const all = (await keys()).keys;
    expect((await keys("?after=users")).keys.map((k) => k.key)).toEqual(all.filter((k) => byteOrder(k.key, "users") > 0).map((k) => k.key));
    const seen: string[] = [];
    let query = "?limit=2";
    for (let pages = 0; pages < 20; pages++) {
      const page = await keys(query);
      expect(page.keys.length).toBeLessThanOrEqual(2);
      seen.push(...page.keys.map((k) => k.key));
      if (page.next === null) break;
      expect(page.next).toBe(page.keys.at(-1)!.key);
      query = `?limit=2&after=${encodeURIComponent(page.next)}`;
    }
    expect(seen).toEqual(all.map((k) => k.key));
    // prefix and after together: a cursor below the prefix starts at the prefix, one past it ends the list
    expect((await keys("?prefix=users/&after=a")).keys.map((k) => k.key)).toEqual(["users/alice", "users/bob"]);
    expect((await keys("?prefix=users/&after=users/alice")).keys.map((k) => k.key)).toEqual(["users/bob"]);
    expect((await keys("?prefix=users/&after=v")).keys).toEqual([]);
  });

  test("paging across deletes and writes made between pages: a deleted key shows deleted: true", async () => {
    const first = await keys("?prefix=users&limit=2");
    expect(first.keys.map((k) => k.key)).toEqual(["users", "users/alice"]);
    expect((await del("users/bob")).status).toBe(200);
    expect((await del("users")).status).toBe(200); // behind the cursor: not seen again on this walk
    const second = await keys(`?prefix=users&limit=2&after=${encodeURIComponent(first.next!)}`);
    expect(second.keys.map((k) => [k.key, k.version, k.deleted])).toEqual([
      ["users/bob", 2, true],
      ["usersX", 1, false],
    ]);
    expect(second.next).toBeNull();
    expect((await keys("?prefix=users&limit=1")).keys[0]).toMatchObject({ key: "users", version: 2, deleted: true });
  });

  test("limit: default, maximum, and a next cursor exactly when more keys follow", async () => {
    const batch = { ops: Array.from({ length: keysLimitDefault + 5 }, (_, i) => ({ op: "put", key: `many/${String(i).padStart(4, "0")}`, value: "x" })) };
    expect((await t.call("POST", "/batch", { body: JSON.stringify(batch) })).status).toBe(200);
    const page = await keys("?prefix=many/");
    expect(page.keys.length).toBe(keysLimitDefault);
    expect(page.next).toBe(`many/${String(keysLimitDefault - 1).padStart(4, "0")}`);
    const rest = await keys(`?prefix=many/&after=${page.next}`);
    expect(rest.keys.length).toBe(5);
    expect(rest.next).toBeNull();
    expect((await keys(`?prefix=many/&limit=${keysLimitDefault + 5}`)).next).toBeNull(); // exactly all: no empty extra page
    expect((await keys(`?prefix=many/&limit=${keysLimitMax}`)).keys.length).toBe(keysLimitDefault + 5);
  });

  test("consistency=stale and linearizable both answer; the key named keys lives under /kv/", async () => {
    expect((await keys("?consistency=stale&prefix=a")).keys.map((k) => k.key)).toEqual(["a", "a/b"]);
    expect((await keys("?consistency=linearizable&prefix=a")).keys.length).toBe(2);
    const reserved = await t.call("PUT", "/keys", { body: "x" });
    expect(reserved.status).toBe(405);
    expect(reserved.headers.get("allow")).toBe("GET");
    expect(await (await t.call("GET", "/kv/keys")).text()).toBe("v");
  });

  test("bad parameters: 400 with a stable code, nothing changes", async () => {
    const before = await keys();
    const cases: [string, string, string][] = [
      ["?limit=0", "invalid_range", "limit must be 1..1000"],
      [`?limit=${keysLimitMax + 1}`, "invalid_range", "limit must be 1..1000"],
      ["?limit=-1", "invalid_range", "non-negative integer"],
      ["?limit=ten", "invalid_range", "non-negative integer"],
      ["?limit=1&limit=2", "invalid_request", "more than once"],
      ["?prefix=%E9", "invalid_request", "not valid percent-encoded UTF-8"],
      ["?after=%ED%A0%80", "invalid_request", "not valid percent-encoded UTF-8"],
      [`?prefix=${"x".repeat(1025)}`, "invalid_request", "1025 bytes"],
      ["?consistency=eventual", "invalid_request", "consistency must be"],
    ];
    for (const [query, code, message] of cases) {
      const answer = await refused(query);
      expect(answer.status, query).toBe(400);
      expect(answer.code, query).toBe(code);
      expect(answer.error, query).toContain(message);
    }
    expect(await keys()).toEqual(before);
  });
});
