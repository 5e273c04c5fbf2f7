/**
 * @module cli/command. What a `scribe` command is: its name, help, options and arguments, and the
 * function that runs it. A new command is one file in src/cli/commands/ and one line in their
 * index; parsing, `--help`, option checks and exit codes come from here and src/cli/main.ts.
 */

import type { OptionSpec } from "./args.ts";
import type { Context } from "./context.ts";
import { UsageError } from "./errors.ts";

export interface Command {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** Usage lines, without the leading "scribe ". */
  usage: string[];
  /** What it does, for `scribe NAME --help`: a few lines. */
  description: string;
  /** Its own options (the connection options apply to every command). */
  options: OptionSpec[];
  /** Takes the trust options (--key, --key-file, --origin, --state). */
  verifies: boolean;
  /** How many arguments it takes. */
  arguments: { min: number; max: number };
  run(ctx: Context, args: string[]): Promise<void>;
}

/** Checks the number of arguments against the command's, in its own words. */
export function checkArguments(command: Command, args: readonly string[]): void {
  const { min, max } = command.arguments;
  if (args.length >= min && args.length <= max) return;
  const wanted = min === max ? (min === 0 ? "no arguments" : `${min} argument${min === 1 ? "" : "s"}`) : `${min} to ${max} arguments`;
  throw new UsageError(`${command.name} takes ${wanted}, got ${args.length === 0 ? "none" : `${args.length}: ${JSON.stringify(args.join(" "))}`} (usage: scribe ${command.usage[0]})`);
}
