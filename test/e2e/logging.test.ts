/**
 * Log levels of mutations, on a real server (in-process, real sockets and SQLite) with the main
 * log captured from pino: at `info` a PUT or DELETE writes no line and a batch writes one short
 * summary with counts (no key list, even for 1,000 ops); at `debug` every mutation has its line
 * with the full record; with `logging.audit_log` the audit file gets every record through its own
 * logger whatever `logging.level` says (even `warn`), exactly as before.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../../src/config/index.ts";
import { startServer } from "../../src/cluster/server.ts";
import { tempDir } from "../support/node-process.ts";

interface LogLine {
  level: number;
  msg: string;
  audit?: boolean;
  action?: string;
  key?: string;
  keys?: string[];
  ops?: number;
  first_index?: number;
  last_index?: number;
  result?: string;
  code?: string;
}
const levels = { debug: 20, info: 30 };

/** Starts a node whose main log is captured, runs `work` against it, and returns both logs. */
async function withNode(options: { level: string; auditLog?: boolean }, work: (base: string) => Promise<void>): Promise<{ main: LogLine[]; raw: string[]; audit: LogLine[] }> {
  const data = tempDir("scribe-logging-");
  const auditPath = join(data.path, "audit.log");
  const config = loadConfig({
    overrides: { "node.data_dir": data.path, "network.client_port": 0, "network.raft_port": 0, "logging.level": options.level, "logging.audit_log": options.auditLog ? auditPath : "" },
  });
  const raw: string[] = [];
  const logger = pino({ level: options.level, base: { node_id: 1 } }, { write: (line: string) => void raw.push(line) });
  const server = await startServer(config, logger);
  try {
    await work(`http://127.0.0.1:${server.server.port}`);
  } finally {
    await server.stop();
  }
  const audit = options.auditLog ? readFileSync(auditPath, "utf8").trim().split("\n").map((l) => JSON.parse(l) as LogLine) : [];
  data.remove();
  return { main: raw.map((l) => JSON.parse(l) as LogLine), raw, audit };
}

const text = { "content-type": "text/plain" };
const json = { "content-type": "application/json" };

/** Three PUTs, a DELETE, a batch of 1,000 puts and a refused batch of one. */
async function mutations(base: string): Promise<void> {
  for (const key of ["a", "b", "a"]) expect((await fetch(`${base}/kv/${key}`, { method: "PUT", body: `v-${key}`, headers: text })).status).toBe(200);
  expect((await fetch(`${base}/kv/b`, { method: "DELETE" })).status).toBe(200);
  const ops = Array.from({ length: 1000 }, (_, i) => ({ op: "put", key: `batch/key-number-${i}`, value: String(i) }));
  expect((await fetch(`${base}/batch`, { method: "POST", body: JSON.stringify({ ops }), headers: json })).status).toBe(200);
  const refused = await fetch(`${base}/batch`, { method: "POST", body: JSON.stringify({ ops: [{ op: "put", key: "a", value: "x", if_match: 9 }] }), headers: json });
  expect(refused.status).toBe(412);
}

const mutationLines = (lines: LogLine[]) => lines.filter((l) => l.action !== undefined);

describe("mutation log levels", () => {
  test("at info: no line per PUT or DELETE, one short summary line per batch with its counts", async () => {
    const { main, raw } = await withNode({ level: "info" }, mutations);
    const lines = mutationLines(main);
    expect(lines.map((l) => [l.level, l.action, l.ops, l.result])).toEqual([
      [levels.info, "batch", 1000, "ok"],
      [levels.info, "batch", 1, "error"],
    ]);
    expect(lines[0]).toMatchObject({ first_index: 4, last_index: 1003, msg: "batch of 1000 ops at 4..1003" });
    expect(lines[1]).toMatchObject({ code: "precondition_failed", msg: "batch of 1 op refused (precondition_failed)" });
    for (const line of lines) expect(line.keys).toBeUndefined();
    // The 1,000-op batch made a line of a few hundred bytes, not one that lists every key.
    expect(Math.max(...raw.filter((l) => l.includes('"action":"batch"')).map((l) => l.length))).toBeLessThan(400);
    // The start says where the audit records go.
    expect(main.find((l) => l.msg === "scribe node listening")).toMatchObject({ audit_log: "the main log, at debug" });
  }, 30_000);

  test("at debug: every mutation has its line with the full record (the audit trail when audit_log is unset)", async () => {
    const { main } = await withNode({ level: "debug" }, mutations);
    const debug = mutationLines(main).filter((l) => l.level === levels.debug);
    expect(debug.map((l) => [l.action, l.key ?? l.keys?.length, l.result])).toEqual([
      ["put", "a", "ok"],
      ["put", "b", "ok"],
      ["put", "a", "ok"],
      ["delete", "b", "ok"],
      ["batch", 1000, "ok"],
      ["batch", 1, "error"],
    ]);
    for (const line of debug) expect(line.audit).toBe(true);
    expect(mutationLines(main).filter((l) => l.level === levels.info)).toHaveLength(2);
  }, 30_000);

  test("logging.audit_log keeps every record in its own file at its own level, even with logging.level = warn", async () => {
    const { main, audit } = await withNode({ level: "warn", auditLog: true }, mutations);
    expect(mutationLines(main)).toEqual([]);
    expect(audit.map((l) => [l.level, l.action, l.key ?? l.keys?.length, l.result, l.audit])).toEqual([
      [levels.info, "put", "a", "ok", true],
      [levels.info, "put", "b", "ok", true],
      [levels.info, "put", "a", "ok", true],
      [levels.info, "delete", "b", "ok", true],
      [levels.info, "batch", 1000, "ok", true],
      [levels.info, "batch", 1, "error", true],
    ]);
    expect(audit[4]!.keys![999]).toBe("batch/key-number-999");
  }, 30_000);

  test("with audit_log and level debug, the main log has the debug lines too (without the audit mark)", async () => {
    const { main, audit } = await withNode({ level: "debug", auditLog: true }, mutations);
    expect(audit).toHaveLength(6);
    const debug = mutationLines(main).filter((l) => l.level === levels.debug);
    expect(debug).toHaveLength(6);
    for (const line of debug) expect(line.audit).toBeUndefined();
  }, 30_000);
});
