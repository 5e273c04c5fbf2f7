#!/usr/bin/env bun
/**
 * @module cli/main. `scribe`, the command-line client of Scribe Ledger: every command of the API
 * (put, get, delete, history, list, members, status) and the ones that verify on this side of the
 * wire with src/client (verify, checkpoint, audit, watch, mirror, get --verify, history --verify). This file
 * parses the command line, picks the command (src/cli/commands/), runs it and turns what it threw
 * into a message and an exit status (src/cli/errors.ts): 0 ok, 1 verification failed, 2 usage,
 * 3 not found, 4 unavailable or network, 5 refused.
 */

import packageJson from "../../package.json" with { type: "json" };
import { Options, parseCommandLine, type OptionSpec } from "./args.ts";
import { checkArguments, type Command } from "./command.ts";
import { commands } from "./commands/index.ts";
import { connectionOptions, createContext, trustOptions } from "./context.ts";
import { exitCodeOf, UsageError } from "./errors.ts";
import { commandHelp, globalHelp } from "./help.ts";

const version: string = packageJson.version;
/** `--version` before the command; after `get` or `verify` it is the key's version (--version N). */
const programVersion: OptionSpec = { name: "program-version", help: "the version of this program" };

/** Every option any command knows, once each (the parser needs to know which take a value). */
function allOptions(): OptionSpec[] {
  const byName = new Map<string, OptionSpec>();
  for (const spec of [...connectionOptions, ...trustOptions, ...commands.flatMap((c) => c.options)]) {
    const known = byName.get(spec.name);
    if (known && (known.value === undefined) !== (spec.value === undefined)) throw new Error(`option --${spec.name} takes a value in one command and not in another`);
    byName.set(spec.name, known ?? spec);
  }
  return [...byName.values()];
}

function findCommand(name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${commands.map((c) => c.name).join(", ")}; see scribe --help)`);
  return command;
}

/** Refuses options the command does not take, naming them as the user typed them. */
function checkOptions(command: Command, given: Iterable<string>, unknown: readonly string[]): void {
  const see = `see scribe ${command.name} --help`;
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown[0]} (${see})`);
  const allowed = new Set([...connectionOptions, ...(command.verifies ? trustOptions : []), ...command.options].map((o) => o.name));
  for (const name of given) {
    if (allowed.has(name)) continue;
    const hint = name === "version" ? "; scribe --version prints the program's version" : "";
    throw new UsageError(`${command.name} does not take --${name} (${see}${hint})`);
  }
}

async function run(argv: readonly string[]): Promise<void> {
  const line = parseCommandLine(argv, allOptions(), { version: programVersion });
  if (line.options.has(programVersion.name)) {
    process.stdout.write(`scribe ${version}\n`);
    return;
  }
  if (line.command === "help") {
    const topic = line.positionals[0];
    process.stdout.write(topic === undefined ? globalHelp(commands, version) : commandHelp(findCommand(topic)));
    return;
  }
  if (line.command === undefined) {
    if (line.options.has("help")) return void process.stdout.write(globalHelp(commands, version));
    throw new UsageError(line.unknown.length > 0 ? `unknown option ${line.unknown[0]} (see scribe --help)` : "no command given (see scribe --help)");
  }
  const command = findCommand(line.command);
  if (line.options.has("help")) return void process.stdout.write(commandHelp(command));
  checkOptions(command, line.options.keys(), line.unknown);
  checkArguments(command, line.positionals);
  await command.run(createContext(new Options(line.options)), line.positionals);
}

// A reader that stops early (`scribe list | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

let exitCode = 0;
try {
  await run(Bun.argv.slice(2));
} catch (error) {
  exitCode = exitCodeOf(error);
  process.stderr.write(`scribe: ${error instanceof Error ? error.message : String(error)}\n`);
}
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
process.exit(exitCode);
