/**
 * @module cli/output. Where `scribe` writes: results on stdout (`-o text` for people, `-o json`
 * for programs: one JSON document per command), warnings and progress on stderr as
 * `scribe: ...`. Writes wait for a full pipe to drain, so a large listing is never buffered whole.
 */

import { once } from "node:events";

export type OutputFormat = "text" | "json";
export const outputFormats: readonly OutputFormat[] = ["text", "json"];

export class Output {
  constructor(readonly format: OutputFormat) {}

  get json(): boolean {
    return this.format === "json";
  }

  /** Writes text (or bytes) to stdout, waiting while the pipe is full. */
  async write(data: string | Uint8Array): Promise<void> {
    if (!process.stdout.write(data)) await once(process.stdout, "drain");
  }

  /** Writes lines of text, each ended by a newline. */
  async lines(lines: readonly string[]): Promise<void> {
    if (lines.length > 0) await this.write(`${lines.join("\n")}\n`);
  }

  /** Writes one JSON document on one line. */
  async document(value: unknown): Promise<void> {
    await this.write(`${JSON.stringify(value)}\n`);
  }

  /** A note for the person at the terminal, on stderr (never mixed into results). */
  note(text: string): void {
    process.stderr.write(`scribe: ${text}\n`);
  }

  warn(text: string): void {
    this.note(`warning: ${text}`);
  }

  /** Resolves once everything written so far has been handed to the OS. */
  flush(): Promise<void> {
    return new Promise((resolve) => process.stdout.write("", () => resolve()));
  }
}

/** A key as text output shows it: as is, or JSON-quoted when it has control characters or could be read as quoted. */
export function displayKey(key: string): string {
  return /[\u0000-\u001f\u007f"]/.test(key) || key.trim() !== key || key === "" ? JSON.stringify(key) : key;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - [...cell].length))).join("  "));
}
