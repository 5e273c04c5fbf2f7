import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyNote } from "../../src/merkle/index.ts";
import { parseVerifierKey } from "../../src/crypto/index.ts";
import { computeFormatsExample, exampleOrigin } from "./formats-example.ts";

const doc = readFileSync(join(import.meta.dir, "../../docs/FORMATS.md"), "utf8");

function codeBlockAfter(heading: string): string {
  const at = doc.indexOf(heading);
  expect(at, `docs/FORMATS.md lacks "${heading}"`).toBeGreaterThanOrEqual(0);
  const open = doc.indexOf("```\n", at);
  const close = doc.indexOf("\n```", open + 4);
  return doc.slice(open + 4, close + 1);
}

test("every worked-example value in docs/FORMATS.md is what the code computes", async () => {
  const computed = await computeFormatsExample();
  const documented = Object.fromEntries(
    codeBlockAfter("Values (each line is checked")
      .trimEnd()
      .split("\n")
      .map((line) => line.split(" = ", 2) as [string, string]),
  );
  expect(documented).toEqual(computed);
});

test("the field-by-field layout of entry 0 in the doc concatenates to its encoding", async () => {
  const computed = await computeFormatsExample();
  const hex = codeBlockAfter("Entry 0 encoded (90 bytes)")
    .trimEnd()
    .split("\n")
    .map((line) => line.slice(0, 67).replace(/\s+/g, ""))
    .join("");
  expect(hex).toBe(computed["entry0.encoding"]!);
  expect(hex.length).toBe(2 * 90);
});

test("the signed checkpoint note in the doc verifies with the documented verifier key", async () => {
  const computed = await computeFormatsExample();
  const note = codeBlockAfter("The signed checkpoint note:");
  const checkpoint = await verifyNote(note, [await parseVerifierKey(computed["verifier key"]!)], { origin: exampleOrigin });
  expect(checkpoint.size).toBe(3);
});
