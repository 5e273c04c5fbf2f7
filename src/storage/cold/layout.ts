/**
 * @module layout. Every object key the cold tier writes comes from these pure functions.
 *
 *   <prefix>/segments/<first index, 20 digits>-<last index, 20 digits>.seg[.gz]   immutable
 *   <prefix>/tile/<L>/<N>[.p/<W>]                                                immutable (C2SP tlog-tiles hash tile)
 *   <prefix>/tile/entries/<N>[.p/<W>]                                            immutable (entry bundle)
 *   <prefix>/manifest.json                                                       rewritten after each segment
 *   <prefix>/checkpoint                                                          published last
 *   <prefix>/witnessed-checkpoint                                                after it (see merkle/witnessed.ts)
 *   <prefix>/pending.json                                                        the range being sealed
 *
 * Indexes are zero-padded to 20 digits so lexical order is index order. Correctness never depends
 * on listing the bucket: the manifest names every segment, and a segment's key follows from its
 * range and compression. `<prefix>/` is a C2SP tlog-tiles base: `checkpoint` and `tile/...` sit
 * where the spec puts them (paths from src/merkle/tiles.ts).
 */

import { entryBundlePath, hashTilePath, type Tile } from "../../merkle/index.ts";

export interface Layout {
  readonly prefix: string;
  segmentKey(firstIndex: number, lastIndex: number, compressed: boolean): string;
  manifestKey(): string;
  checkpointKey(): string;
  /** A newer, witnessed checkpoint with a consistency proof from `checkpoint`'s size (merkle/witnessed.ts). */
  witnessedCheckpointKey(): string;
  pendingKey(): string;
  hashTileKey(tile: Tile): string;
  entryBundleKey(tile: Tile): string;
  /** The key of a path relative to the log's base (e.g. a tile path a reader asks for). */
  logKey(path: string): string;
}

export const indexDigits = 20;

export function padIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad index ${index}`);
  return String(index).padStart(indexDigits, "0");
}

/** Builds the layout for a key prefix (no leading or trailing '/'; may be empty). */
export function createLayout(prefix = "scribe"): Layout {
  if (prefix.startsWith("/") || prefix.endsWith("/")) {
    throw new RangeError(`layout prefix must not start or end with '/', got ${JSON.stringify(prefix)}`);
  }
  const base = prefix === "" ? "" : `${prefix}/`;
  return {
    prefix,
    segmentKey(firstIndex, lastIndex, compressed) {
      if (lastIndex < firstIndex) throw new RangeError(`segment range ${firstIndex}..${lastIndex} is empty`);
      return `${base}segments/${padIndex(firstIndex)}-${padIndex(lastIndex)}.seg${compressed ? ".gz" : ""}`;
    },
    manifestKey: () => `${base}manifest.json`,
    checkpointKey: () => `${base}checkpoint`,
    witnessedCheckpointKey: () => `${base}witnessed-checkpoint`,
    pendingKey: () => `${base}pending.json`,
    hashTileKey: (tile) => `${base}${hashTilePath(tile)}`,
    entryBundleKey: (tile) => `${base}${entryBundlePath(tile)}`,
    logKey: (path) => `${base}${path}`,
  };
}

/** Parses a segment key back into its range, or undefined when it is not one. */
export function parseSegmentKey(
  layout: Layout,
  key: string,
): { firstIndex: number; lastIndex: number; compressed: boolean } | undefined {
  const base = layout.prefix === "" ? "" : `${layout.prefix}/`;
  const match = /^segments\/(\d{20})-(\d{20})\.seg(\.gz)?$/.exec(key.startsWith(base) ? key.slice(base.length) : "");
  if (!match) return undefined;
  return { firstIndex: Number(match[1]), lastIndex: Number(match[2]), compressed: match[3] !== undefined };
}
