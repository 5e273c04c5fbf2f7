/**
 * @module logger. pino loggers from the [logging] config: JSON by default, pretty in a terminal;
 * and the audit logger of mutations and admin actions.
 */

import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import type { Config } from "../config/index.ts";

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
    return pino(options, pretty({ colorize: process.stdout.isTTY === true, destination: fd, sync: true }));
  }
  return pino(options, destination(logging.output));
}

/**
 * The audit logger: a JSON log of its own at `logging.audit_log` (written synchronously, so an
 * acknowledged mutation is on record), else the main log with `"audit": true` on every record.
 */
export function createAuditLogger(logging: Config["logging"], main: Logger, base: Record<string, unknown> = {}): Logger {
  if (logging.audit_log === "") return main.child({ audit: true });
  return pino({ level: "info", base: { ...base, audit: true }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: logging.audit_log, mkdir: true, sync: true }));
}
