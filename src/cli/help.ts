/**
 * @module cli/help. The help texts, built from the command table so they cannot drift from what
 * the parser accepts: `scribe --help` (every command) and `scribe COMMAND --help` (one command,
 * all the options it takes).
 */

import type { OptionSpec } from "./args.ts";
import type { Command } from "./command.ts";
import { connectionOptions, trustOptions } from "./context.ts";
import { exitCodesText } from "./errors.ts";

/** Column where option help starts. */
const helpColumn = 24;
/** Width help lines are wrapped to. */
const helpWidth = 100;

/** Splits `text` into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const indent = " ".repeat(helpColumn);
  return options.map((option) => {
    const head = `  ${option.short ? `-${option.short}, ` : "    "}--${option.name}${option.value ? ` ${option.value}` : ""}`;
    const help = wrap(option.help, helpWidth - helpColumn).map((l) => indent + l);
    if (head.length + 2 <= helpColumn) help[0] = head.padEnd(helpColumn) + help[0]!.slice(helpColumn);
    else help.unshift(head);
    return help.join("\n");
  });
}

const trustText = `Without --key, --key-file or a state file, the verifier key is fetched from the node
(GET /checkpoint/key) and trusted on first use, with a warning.`;

export function globalHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return `scribe ${version}: the Scribe Ledger command-line client

Usage: scribe COMMAND [ARGUMENTS] [OPTIONS]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Options of every command:
${optionLines(connectionOptions).join("\n")}

Options of the commands that verify (get --verify, history --verify, verify, checkpoint, audit, watch;
mirror takes all but --state):
${optionLines(trustOptions).join("\n")}

${trustText}

Other:
  scribe COMMAND --help   the usage and options of one command
  scribe --version        the version of this program

${exitCodesText}`;
}

export function commandHelp(command: Command): string {
  const sections = [
    `Usage:\n${command.usage.map((u) => `  scribe ${u}`).join("\n")}`,
    command.description,
  ];
  if (command.options.length > 0) sections.push(`Options:\n${optionLines(command.options).join("\n")}`);
  if (command.verifies) sections.push(`Verification options:\n${optionLines(trustOptions).join("\n")}\n\n${trustText}`);
  sections.push(`Connection and output options:\n${optionLines(connectionOptions).join("\n")}`);
  sections.push(exitCodesText.trimEnd());
  return `scribe ${command.name}: ${command.summary}\n\n${sections.join("\n\n")}\n`;
}
