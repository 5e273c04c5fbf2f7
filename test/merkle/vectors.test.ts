import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fromBase64 } from "../../src/lib/index.ts";
import { verifyConsistency, verifyInclusion, VerificationError } from "../../src/merkle/index.ts";
import { allHashers } from "./hashers.ts";

const vectorsDir = join(import.meta.dir, "vectors");

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith(".json") ? [path] : [];
  });
}

function b64(text: string): Uint8Array {
  const bytes = fromBase64(text);
  if (!bytes) throw new Error(`bad base64 in vector: ${text}`);
  return bytes;
}

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const inclusionFiles = jsonFiles(join(vectorsDir, "inclusion"));
const consistencyFiles = jsonFiles(join(vectorsDir, "consistency"));
const hashers = await allHashers();

test("the vector set is all there", () => {
  expect(inclusionFiles.length).toBeGreaterThanOrEqual(60);
  expect(consistencyFiles.length).toBeGreaterThanOrEqual(40);
  const wantErr = [...inclusionFiles, ...consistencyFiles].filter((f) => JSON.parse(readFileSync(f, "utf8")).wantErr).length;
  expect(wantErr).toBeGreaterThan(80);
});

for (const hasher of hashers) {
  describe(`RFC 6962 vectors with the ${hasher.name} hasher`, () => {
    test("inclusion", () => {
      for (const file of inclusionFiles) {
        const v = JSON.parse(readFileSync(file, "utf8")) as InclusionVector;
        const run = () => verifyInclusion(hasher, v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
        if (v.wantErr) expect(run, `${file}: ${v.desc}`).toThrow(VerificationError);
        else expect(run(), `${file}: ${v.desc}`).toEqual(b64(v.root));
      }
    });

    test("consistency", () => {
      for (const file of consistencyFiles) {
        const v = JSON.parse(readFileSync(file, "utf8")) as ConsistencyVector;
        const run = () => verifyConsistency(hasher, v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
        if (v.wantErr) expect(run, `${file}: ${v.desc}`).toThrow(VerificationError);
        else expect(run(), `${file}: ${v.desc}`).toEqual(b64(v.root2));
      }
    });
  });
}
