/**
 * The mutation log's `wants(action)` must say exactly whether `write` of a record of that action
 * writes a line anywhere (the main log or the audit file), at every log level, with and without
 * `logging.audit_log`: the HTTP layer builds an audit record only when it is wanted, so a `false`
 * where a line would be written would lose an audit record.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { createMutationLog } from "../../src/cluster/logger.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { AuditRecord } from "../../src/ledger/index.ts";
import { tempDir } from "../support/node-process.ts";

const actions: AuditRecord["action"][] = ["put", "delete", "batch", "node_add", "node_remove"];
const levelNames = ["trace", "debug", "info", "warn", "error", "silent"] as const;

function record(action: AuditRecord["action"]): AuditRecord {
  return { action, principal: "anonymous", role: "admin", client: "127.0.0.1", key: "k", keys: action === "batch" ? ["a", "b"] : undefined, result: "ok", status: 200 };
}

function fileLines(path: string): number {
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter((l) => l !== "").length : 0;
}

describe("mutation log: wants(action) agrees with what write(record) writes", () => {
  for (const withAuditFile of [false, true]) {
    for (const level of levelNames) {
      test(`logging.level = ${level}, audit_log ${withAuditFile ? "set" : "unset"}`, () => {
        const dir = tempDir("scribe-mutation-log-");
        try {
          const auditPath = join(dir.path, "audit.log");
          const config = loadConfig({ overrides: { "logging.level": level, "logging.audit_log": withAuditFile ? auditPath : "" } });
          const mainLines: string[] = [];
          const main = pino({ level }, { write: (line: string) => void mainLines.push(line) });
          const log = createMutationLog(config.logging, main);
          const seen: [string, boolean, boolean][] = [];
          for (const action of actions) {
            const before = mainLines.length + fileLines(auditPath);
            const wanted = log.wants(action);
            log.write(record(action));
            const wrote = mainLines.length + fileLines(auditPath) > before;
            seen.push([action, wanted, wrote]);
          }
          for (const [action, wanted, wrote] of seen) expect({ action, wanted }).toEqual({ action, wanted: wrote });
          // With an audit file every record is wanted, whatever the level.
          if (withAuditFile) expect(seen.every(([, wanted]) => wanted)).toBe(true);
        } finally {
          dir.remove();
        }
      });
    }
  }

  test("at the default level (info) without audit_log, a PUT's or DELETE's record is not wanted, a batch's and a membership change's are", () => {
    const config = loadConfig({ overrides: { "logging.audit_log": "" } });
    expect(config.logging.level).toBe("info");
    const log = createMutationLog(config.logging, pino({ level: config.logging.level }, { write: () => {} }));
    expect(actions.map((a) => [a, log.wants(a)])).toEqual([
      ["put", false],
      ["delete", false],
      ["batch", true],
      ["node_add", true],
      ["node_remove", true],
    ]);
  });
});
