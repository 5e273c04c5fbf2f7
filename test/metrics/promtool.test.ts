/**
 * A running scribe-node's GET /metrics/prometheus passes `promtool check metrics` (the Prometheus
 * project's own linter: format, HELP, counter `_total` naming, units), and carries the original
 * Scribe Ledger metric names beside the node's own, with the values they promise. Skipped, with the
 * reason printed, where promtool is not installed (Debian: apt-get install prometheus).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";

const promtool = Bun.which("promtool");
if (!promtool) console.log("skipping the promtool check: promtool is not installed (apt-get install prometheus)");

const dir = tempDir("scribe-promtool-");
let node: NodeProcess;
let exposition = "";
beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path });
  const send = (method: string, path: string, body?: string) => fetch(`${node.url}${path}`, { method, body, headers: body ? { "content-type": "text/plain" } : {} });
  expect((await send("PUT", "/kv/a", "hello")).status).toBe(200);
  expect((await send("PUT", "/kv/b", "world!")).status).toBe(200);
  expect((await send("PUT", "/kv/a", "again")).status).toBe(200);
  expect((await send("DELETE", "/kv/b")).status).toBe(200);
  expect((await send("POST", "/batch", JSON.stringify({ ops: [{ op: "put", key: "c", value: "1" }] }))).status).toBe(200);
  expect((await send("GET", "/kv/a")).status).toBe(200);
  const response = await fetch(`${node.url}/metrics/prometheus`);
  expect(response.status).toBe(200);
  exposition = await response.text();
});
afterAll(async () => {
  await node?.kill("SIGKILL");
  dir.remove();
});

/** The value of the sample `name{labels}` (labels written exactly as exposed), or undefined. */
function sample(name: string, labels = ""): number | undefined {
  const line = exposition.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}
const typeOf = (name: string) => new RegExp(`^# TYPE ${name} (\\w+)$`, "m").exec(exposition)?.[1];

test.skipIf(!promtool)("promtool check metrics finds nothing to complain about", () => {
  const result = Bun.spawnSync([promtool!, "check", "metrics"], { stdin: new TextEncoder().encode(exposition), stdout: "pipe", stderr: "pipe" });
  const said = `${result.stdout.toString()}${result.stderr.toString()}`;
  expect(said).toBe("");
  expect(result.exitCode).toBe(0);
});

test("the original names exist as written, beside the node's own names", () => {
  // Original README: scribe_ledger_storage_keys_total, scribe_ledger_storage_size_bytes, scribe_ledger_raft_last_applied.
  expect(typeOf("scribe_ledger_raft_last_applied")).toBe("gauge");
  expect(sample("scribe_ledger_raft_last_applied")).toBeGreaterThanOrEqual(5);
  expect(sample("scribe_ledger_raft_last_applied")).toBe(sample("scribe_ledger_raft_applied_index")!);

  expect(typeOf("scribe_ledger_storage_size_bytes")).toBe("gauge");
  const hotBytes = "hello".length + "world!".length + "again".length + 1;
  expect(sample("scribe_ledger_storage_size_bytes", '{tier="hot"}')).toBe(hotBytes);
  expect(sample("scribe_ledger_storage_bytes", '{tier="hot"}')).toBe(hotBytes);
  expect(sample("scribe_ledger_storage_size_bytes", '{tier="cold"}')).toBe(0);

  // A `_total` name is a counter: every key ever written (a, b, c), though b is deleted now.
  expect(typeOf("scribe_ledger_storage_keys_total")).toBe("counter");
  expect(sample("scribe_ledger_storage_keys_total")).toBe(3);
  expect(sample("scribe_ledger_storage_keys")).toBe(2);
});

test("process metrics are there, without the always-empty nodejs_active_* families", () => {
  for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_eventloop_lag_p99_seconds", "nodejs_heap_size_used_bytes"]) {
    expect(sample(name)).toBeGreaterThan(0);
  }
  expect(exposition).not.toContain("nodejs_active_");
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    if (match[1]!.endsWith("_total")) expect(`${match[1]} ${match[2]}`).toBe(`${match[1]} counter`);
  }
});
