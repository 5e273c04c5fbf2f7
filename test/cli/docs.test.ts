/**
 * docs/CLI.md stays true to the command table: every command has its section, every option the
 * parser accepts is documented, and the exit status table has the codes the CLI uses.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { commands } from "../../src/cli/commands/index.ts";
import { connectionOptions, trustOptions } from "../../src/cli/context.ts";
import { exitCodes } from "../../src/cli/errors.ts";
import { repoRoot } from "./support.ts";

const doc = await Bun.file(join(repoRoot, "docs/CLI.md")).text();

test("every command has a section naming each of its options", () => {
  for (const command of commands) {
    const start = doc.indexOf(`### \`scribe ${command.name}\``);
    expect(start, command.name).toBeGreaterThan(-1);
    const end = doc.indexOf("\n### ", start + 1);
    const section = doc.slice(start, end === -1 ? undefined : end);
    for (const option of command.options) expect(section, `${command.name} --${option.name}`).toContain(`--${option.name}`);
    expect(doc).toContain(`| \`${command.name}`);
  }
});

test("the connection and trust options and every exit status are documented", () => {
  for (const option of [...connectionOptions, ...trustOptions]) expect(doc).toContain(`\`--${option.name}`);
  for (const code of Object.values(exitCodes)) expect(doc).toMatch(new RegExp(`^\\| \`${code}\` \\| \\S`, "m"));
  expect(Object.values(exitCodes)).toEqual([0, 1, 2, 3, 4, 5]);
});
