/**
 * @module logger. pino loggers from the [logging] config: JSON by default, pretty in a terminal;
 * the audit logger of mutations and admin actions; and how mutations reach the logs.
 *
 * Levels: every mutation (PUT, DELETE, POST /batch, whatever its outcome) is one `debug` line of
 * the main log, with its full audit record; a batch also gets one `info` summary line with counts
 * (ops, index range, result) and no key list, so an `info` log stays small under load. Membership
 * changes (node_add, node_remove) are rare operator actions: `info`. The audit trail is separate:
 * with `logging.audit_log` set, every record goes to that file through its own logger at its own
 * level (`info`, whatever `logging.level` says, even `silent`), written synchronously. Without it
 * the audit records are the main log's `debug` lines above, marked `"audit": true`.
 */

import pino, { type Logger } from "pino";
import type PinoPretty from "pino-pretty";
import type { Config } from "../config/index.ts";
import type { AuditRecord } from "../ledger/index.ts";

export type { Logger };

function destination(output: string): pino.DestinationStream {
  if (output === "stdout") return pino.destination({ fd: 1, sync: true });
  if (output === "stderr") return pino.destination({ fd: 2, sync: true });
  return pino.destination({ dest: output, mkdir: true, sync: false });
}

export function createLogger(logging: Config["logging"], base: Record<string, unknown> = {}): Logger {
  const usePretty = logging.format === "pretty" || (logging.format === "auto" && logging.output === "stdout" && process.stdout.isTTY === true);
  const options: pino.LoggerOptions = { level: logging.level, base: { ...base }, timestamp: pino.stdTimeFunctions.isoTime };
  if (usePretty) {
    const fd = logging.output === "stderr" ? 2 : 1;
    // Loaded here, not at the top: a JSON log (every node but one in a terminal) never needs it (about 40 ms of a start).
    const pretty = (require("pino-pretty") as { default: typeof PinoPretty }).default;
    return pino(options, pretty({ colorize: process.stdout.isTTY === true, destination: fd, sync: true }));
  }
  return pino(options, destination(logging.output));
}

/**
 * The audit logger: a JSON log of its own at `logging.audit_log` (level `info` whatever
 * `logging.level` is; written synchronously, so an acknowledged mutation is on record), else the
 * main log with `"audit": true` on every record.
 */
export function createAuditLogger(logging: Config["logging"], main: Logger, base: Record<string, unknown> = {}): Logger {
  if (logging.audit_log === "") return main.child({ audit: true });
  return pino({ level: "info", base: { ...base, audit: true }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: logging.audit_log, mkdir: true, sync: true }));
}

const adminActions: ReadonlySet<AuditRecord["action"]> = new Set(["node_add", "node_remove"]);

/** One info line for a batch: counts and the index range, never the key list. */
function batchSummary(record: AuditRecord): [Record<string, unknown>, string] {
  const ops = record.keys?.length ?? 0;
  const fields = {
    action: "batch",
    ops,
    first_index: record.first_index,
    last_index: record.last_index,
    result: record.result,
    status: record.status,
    code: record.code,
    principal: record.principal,
    client: record.client,
  };
  const where = record.result === "ok" ? ` at ${record.first_index}..${record.last_index}` : ` refused (${record.code ?? record.status})`;
  return [fields, `batch of ${ops} op${ops === 1 ? "" : "s"}${where}`];
}

/** The sink for the HTTP layer's audit records, and which records it writes at the present log levels. */
export interface MutationLog {
  write(record: AuditRecord): void;
  /** True when `write` would write a record of `action` somewhere now (callers skip building one it would drop). */
  wants(action: AuditRecord["action"]): boolean;
}

/**
 * The sink for the HTTP layer's audit records (see the module comment for levels):
 * `logging.audit_log` set → the file gets every record, and the main log its debug lines;
 * unset → the main log's lines are the audit records.
 */
export function createMutationLog(logging: Config["logging"], main: Logger, base: Record<string, unknown> = {}): MutationLog {
  const auditFile = logging.audit_log === "" ? undefined : createAuditLogger(logging, main, base);
  const mainLog = auditFile ? main : main.child({ audit: true });
  return {
    write(record) {
      const message = `audit ${record.action} ${record.result}`;
      auditFile?.info(record, message);
      if (adminActions.has(record.action)) {
        mainLog.info(record, message);
        return;
      }
      mainLog.debug(record, message);
      if (record.action === "batch") main.info(...batchSummary(record));
    },
    wants(action) {
      if (auditFile) return true;
      if (adminActions.has(action)) return mainLog.isLevelEnabled("info");
      return mainLog.isLevelEnabled("debug") || (action === "batch" && main.isLevelEnabled("info"));
    },
  };
}
