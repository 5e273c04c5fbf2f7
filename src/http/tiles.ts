/**
 * @module http/tiles. The node's log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles), with the
 * node root as the log's base URL: `GET /checkpoint` is its signed checkpoint (app.ts), and
 *
 *   GET /tile/<L>/<N>[.p/<W>]       hash tile: the stored hashes of tree level 8·L (src/merkle/tiles.ts)
 *   GET /tile/entries/<N>[.p/<W>]   entry bundle: the canonical entries (uint16 length-prefixed)
 *
 * A tile is served when the tree has all its hashes: every full tile below the current size, and
 * any partial width up to the current one (a client asks for the width its checkpoint implies,
 * which stays available as the log grows). Full tiles never change: they are served with a one
 * year `immutable` cache lifetime. A partial tile's bytes never change either, but it is
 * superseded as the log grows, so it gets a short lifetime. Anything else is 400 invalid_request
 * (a malformed path) or 404 not_found (a tile the tree does not have yet), as `{error, code}`. A
 * tile beyond this node's tree is looked up again after the linearizable read barrier (this node
 * catches up to what the cluster committed), so a member that has not yet applied a checkpoint
 * another member served still answers its tiles; 404 means beyond the ledger.
 *
 * Hash tiles are read through the narrow NodeRunReader interface over the node's TreeStore, so a
 * store that keeps whole tiles could answer them directly.
 */

import { encodeEntry, type LedgerService } from "../ledger/index.ts";
import { assert, ScribeError } from "../lib/index.ts";
import {
  encodeEntryBundle,
  entryBundlePath,
  fullTileCacheControl,
  hashTilePath,
  nodeRunReader,
  parseTilePath,
  partialTileCacheControl,
  readHashTile,
  tileAvailable,
  tileWidthMax,
} from "../merkle/index.ts";

/**
 * The answer to GET /tile/<rest>: the tile's bytes, or a ScribeError thrown for the error handler.
 * `rest` is the router's wildcard parameter (the path below /tile/, as sent).
 */
export function tileResponse(service: LedgerService, rest: string): Response | Promise<Response> {
  const parsed = parseTilePath(`tile/${rest}`);
  if (tileAvailable(parsed.tile, service.tree.size)) return tileBytes(service, parsed);
  // Beyond this node's tree: maybe only not applied here yet (a checkpoint another member served).
  return (service.readBarrier("linearizable") ?? Promise.resolve()).then(() => {
    const size = service.tree.size;
    if (tileAvailable(parsed.tile, size)) return tileBytes(service, parsed);
    const name = parsed.kind === "hash" ? hashTilePath(parsed.tile) : entryBundlePath(parsed.tile);
    throw new ScribeError("not_found", `${name} is beyond the tree of ${size} leaves`, { tree_size: size });
  });
}

function tileBytes(service: LedgerService, { kind, tile }: ReturnType<typeof parseTilePath>): Response {
  const size = service.tree.size;
  let body: Uint8Array;
  if (kind === "hash") {
    const bytes = readHashTile(nodeRunReader(service.tree.store), tile);
    assert(bytes, `the tree of ${size} leaves lacks stored hashes of ${hashTilePath(tile)}`);
    body = bytes;
  } else {
    const entries = service.entries(tile.index * tileWidthMax, tile.width);
    assert(entries.length === tile.width, `${entryBundlePath(tile)} needs ${tile.width} entries, the hot tier gave ${entries.length}`);
    body = encodeEntryBundle(entries.map(encodeEntry));
  }
  return new Response(body as Uint8Array<ArrayBuffer>, {
    headers: {
      "content-type": "application/octet-stream",
      "cache-control": tile.width === tileWidthMax ? fullTileCacheControl : partialTileCacheControl,
    },
  });
}
