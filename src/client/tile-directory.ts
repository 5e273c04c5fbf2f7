/**
 * @module client/tile-directory. A TileSource over a local directory holding a log's objects
 * under their paths (`checkpoint`, `tile/...`, `manifest.json`, `segments/...`), e.g. a bucket
 * prefix copied with `aws s3 sync`. Uses node:fs, so it runs in Bun and Node but not in browsers:
 * it is not exported from the browser-safe src/client/index.ts; import it from this file.
 */

import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, normalize, sep } from "node:path";
import { ScribeError } from "../lib/index.ts";
import type { TileSource } from "./index.ts";

/** A TileSource reading `<dir>/<path>`; a missing file is an absent object. */
export function directoryTileSource(dir: string): TileSource {
  const root = normalize(dir);
  return {
    location: root,
    async read(path, bytesMax) {
      const file = normalize(join(root, path));
      // Paths come from the audit (tile paths, manifest.json, segments/...), never `..`: checked anyway.
      if (isAbsolute(path) || !(file === root || file.startsWith(root.endsWith(sep) ? root : `${root}${sep}`))) {
        throw new ScribeError("invalid_request", `object path ${JSON.stringify(path)} leaves ${root}`);
      }
      let size: number;
      try {
        const info = await stat(file);
        if (!info.isFile()) return undefined;
        size = info.size;
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT" || (error as { code?: string }).code === "ENOTDIR") return undefined;
        throw error;
      }
      if (size > bytesMax) throw new ScribeError("payload_too_large", `${file} has ${size} bytes, more than the ${bytesMax} expected`);
      return new Uint8Array(await readFile(file));
    },
  };
}
