/**
 * @module routes-entries. The route table's entries that read the ledger in index order: a page of
 * entries (GET /entries), the verifiable change feed (GET /watch, NDJSON), and the log as C2SP
 * tlog-tiles (GET /tile/*). The table is assembled in src/http/routes.ts.
 */

import { errorResponse, jsonOk, query, schemaRef, type RouteSpec } from "./route-spec.ts";

export const entryRoutes = [
  {
    id: "entries",
    method: "GET",
    path: "/entries",
    role: "read",
    rateLimited: true,
    doc: {
      summary: "A range of ledger entries in index order",
      params: [query("from", "First index."), query("limit", "Most entries (1..10000)."), query("values", "true: include values as value_base64; a value the node cannot hand out is null, with value_error: its code (corrupt_value, corrupt_entry, unavailable).", { type: "string", enum: ["true", "false"] })],
      responses: { "200": jsonOk("The entries from `from`, in index order.", "EntriesPage"), "400": errorResponse("invalid_range") },
    },
  },
  {
    id: "watch",
    method: "GET",
    path: "/watch",
    role: "read",
    // One token per stream opened; api.watch_streams_max bounds how many stay open.
    rateLimited: true,
    doc: {
      summary:
        "The ledger as a verifiable change feed (NDJSON): entries in index order with no gap, and signed checkpoints with the proofs that bind every entry and every checkpoint to the one before (docs/FORMATS.md section 8)",
      params: [
        query("from", "First index to stream (0: the whole ledger; GET /checkpoint's tree size: new entries only).", { type: "integer", minimum: 0 }, true),
        query("prefix", "Only entries of keys starting with this text (checkpoint lines still come, with an inclusion proof per entry).", { type: "string" }),
        query("values", "true: each entry carries value_base64 (null with value_error when the node cannot hand it out), read through the cold tier.", { type: "string", enum: ["true", "false"] }),
        query("checkpoint_size", "The tree size the client trusts: the first checkpoint line's consistency proof starts there (default 0: none)."),
        query("until", "End the stream (with {\"end\": \"until\"}) once every entry below this index was sent and covered by a checkpoint line."),
      ],
      responses: {
        "200": {
          description:
            "NDJSON: one JSON object per line, each a WatchLine (the schema describes one line, as a streamed media type's schema does): entries (the GET /entries item), checkpoint lines {checkpoint, from_size, proof, next_index, position_proof | inclusion, frontier (first line of a full stream)}, and a final {end, resume_from} (until, leader_changed, shutting_down) or {error, code, resume_from} line (slow_consumer, or a failure). A connection that is cut has no final line.",
          content: { "application/x-ndjson": { schema: schemaRef("WatchLine") } },
        },
        "400": errorResponse("invalid_range (from, checkpoint_size, until), invalid_request (prefix, values, a repeated parameter)"),
        "503": errorResponse("too_many_streams (api.watch_streams_max), shutting_down (Retry-After)"),
      },
    },
  },
  {
    id: "tile",
    method: "GET",
    path: "/tile/*",
    role: "read",
    rateLimited: true,
    doc: {
      summary:
        "The log as C2SP tlog-tiles: a hash tile (256 hashes of tree level 8·L, 32 bytes each) or an entry bundle (canonical entries, each prefixed by its uint16 big-endian length); the base URL is the node root, GET /checkpoint is its checkpoint",
      pathParam: {
        name: "tile_path",
        description:
          "C2SP tlog-tiles path below /tile/ (slashes are part of it): `<L>/<N>[.p/<W>]` for a hash tile, `entries/<N>[.p/<W>]` for an entry bundle. <N> is in groups of three digits, all but the last prefixed with x (1234067 → x001/x234/067); .p/<W> (1..255) names a partial tile.",
      },
      responses: {
        "200": {
          description: "The tile's bytes. Full tiles: Cache-Control public, max-age=31536000, immutable; partial tiles: a short max-age.",
          content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
        },
        "400": errorResponse("invalid_request: a malformed tile path"),
        "404": errorResponse("not_found: the ledger does not have that tile (yet); a tile beyond this node's tree is looked for again once this node has caught up"),
        "503": errorResponse("no_leader, not_leader, timeout, unavailable, shutting_down: a tile beyond this node's tree, and this node could not confirm what the cluster committed (Retry-After)"),
      },
    },
  },
] as const satisfies readonly RouteSpec[];
