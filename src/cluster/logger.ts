/**
 * @module logger. pino loggers from the [logging] config: JSON by default, pretty in a terminal.
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
