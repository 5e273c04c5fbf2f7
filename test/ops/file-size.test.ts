/**
 * Files stay small enough to read (issue 11): no source file of the folders listed here is over
 * `linesMax` lines: the node's driver (src/cluster/) and the HTTP layer (src/http/), where one
 * class used to carry every job.
 */

import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const repoRoot = join(import.meta.dir, "..", "..");
/** The most lines a file may have: past it a file holds more than one job (issue 11). */
const linesMax = 400;
const folders = ["src/cluster", "src/http"];

test(`no file in ${folders.join(", ")} is over ${linesMax} lines`, () => {
  const tooLong: string[] = [];
  for (const folder of folders) {
    for (const name of readdirSync(join(repoRoot, folder))) {
      if (!name.endsWith(".ts")) continue;
      const text = readFileSync(join(repoRoot, folder, name), "utf8");
      const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length;
      if (lines > linesMax) tooLong.push(`${folder}/${name}: ${lines} lines`);
    }
  }
  expect(tooLong).toEqual([]);
});
