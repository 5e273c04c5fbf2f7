/**
 * @module cli/args. The command line of `scribe`, parsed in the project's own words: long options
 * (`--name VALUE`, `--name=VALUE`), short ones (`-o json`, `-ojson`, `-h`), `--` to end options,
 * and `-` as an ordinary argument (stdin). Options may come before or after the command. Which
 * options a command accepts is checked by the caller, which knows the command (src/cli/main.ts).
 */

import { UsageError } from "./errors.ts";

export interface OptionSpec {
  /** The long name, without dashes. */
  name: string;
  /** A one-letter alias, without the dash. */
  short?: string;
  /** The placeholder of its value (e.g. "URL"); absent for a flag. */
  value?: string;
  help: string;
}

export interface CommandLine {
  /** The first argument that is not an option, if any. */
  command: string | undefined;
  /** The arguments after the command. */
  positionals: string[];
  /** Given options by long name: their value, or true for a flag. */
  options: Map<string, string | true>;
  /** Options that no command knows, as typed. */
  unknown: string[];
}

/** Most arguments one command line may have (a guard against a runaway shell expansion). */
const argumentsMax = 10_000;

function display(spec: OptionSpec): string {
  return `--${spec.name}`;
}

/**
 * Splits argv into the command, its arguments and the options, using `specs` (every option any
 * command knows) to tell which options take a value; `beforeCommand` maps some typed names to
 * other options before the command (e.g. `--version`: the program's version there, a key's
 * version after `get`). A value that starts with "--" must be attached (`--after=--x`): otherwise it is taken
 * for a missing value. Throws UsageError for a missing value, a value given to a flag, or an
 * option given twice.
 */
export function parseCommandLine(argv: readonly string[], specs: readonly OptionSpec[], beforeCommand: Readonly<Record<string, OptionSpec>> = {}): CommandLine {
  if (argv.length > argumentsMax) throw new UsageError(`too many arguments (${argv.length}; at most ${argumentsMax})`);
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const early = new Map(Object.entries(beforeCommand));
  const byShort = new Map(specs.filter((spec) => spec.short).map((spec) => [spec.short!, spec]));
  const line: CommandLine = { command: undefined, positionals: [], options: new Map(), unknown: [] };
  const positional = (text: string) => (line.command === undefined ? (line.command = text) : line.positionals.push(text));
  const set = (spec: OptionSpec, value: string | true) => {
    if (line.options.has(spec.name)) throw new UsageError(`${display(spec)} is given more than once`);
    line.options.set(spec.name, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      for (const rest of argv.slice(i + 1)) positional(rest);
      break;
    }
    if (token === "-" || !token.startsWith("-")) {
      positional(token);
      continue;
    }
    const long = token.startsWith("--");
    const equals = long ? token.indexOf("=") : -1;
    const name = long ? token.slice(2, equals === -1 ? undefined : equals) : token.slice(1, 2);
    const spec = long ? ((line.command === undefined ? early.get(name) : undefined) ?? byName.get(name)) : byShort.get(name);
    if (!spec) {
      line.unknown.push(long ? `--${name}` : `-${name}`);
      continue;
    }
    const attached = long ? (equals === -1 ? undefined : token.slice(equals + 1)) : token.length > 2 ? token.slice(2).replace(/^=/, "") : undefined;
    if (spec.value === undefined) {
      if (attached !== undefined) throw new UsageError(`${display(spec)} takes no value, got ${JSON.stringify(attached)}`);
      set(spec, true);
      continue;
    }
    if (attached !== undefined) {
      set(spec, attached);
      continue;
    }
    if (i + 1 >= argv.length || argv[i + 1]!.startsWith("--")) throw new UsageError(`${display(spec)} wants a value (${spec.value})`);
    set(spec, argv[++i]!);
  }
  return line;
}

/** Typed access to the options of one command line. */
export class Options {
  constructor(private readonly given: Map<string, string | true>) {}

  has(name: string): boolean {
    return this.given.has(name);
  }

  flag(name: string): boolean {
    return this.given.get(name) === true;
  }

  string(name: string): string | undefined {
    const value = this.given.get(name);
    return value === true ? undefined : value;
  }

  /** An integer option in [min, max]; undefined when absent. */
  integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min || Number(text) > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`;
      throw new UsageError(`--${name} wants an integer ${range}, got ${JSON.stringify(text)}`);
    }
    return Number(text);
  }

  /** One of `choices`; `fallback` when absent. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const text = this.string(name);
    if (text === undefined) return fallback;
    if (!(choices as readonly string[]).includes(text)) throw new UsageError(`--${name} wants ${choices.join(" or ")}, got ${JSON.stringify(text)}`);
    return text as T;
  }

  /** Refuses giving both options at once. */
  exclusive(a: string, b: string): void {
    if (this.has(a) && this.has(b)) throw new UsageError(`give --${a} or --${b}, not both`);
  }
}
