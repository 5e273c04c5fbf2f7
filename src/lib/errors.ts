/**
 * @module errors. Expected failures are values with a stable `code` and an HTTP `status`.
 * Codes are part of the public API: never rename one.
 */

export type ErrorCode =
  | "invalid_key"
  | "invalid_value"
  | "invalid_request"
  | "invalid_json"
  | "invalid_version"
  | "invalid_index"
  | "invalid_range"
  | "key_too_large"
  | "value_too_large"
  | "batch_too_large"
  | "payload_too_large"
  | "not_found"
  | "no_route"
  | "version_not_found"
  | "deleted"
  | "precondition_failed"
  | "method_not_allowed"
  | "unauthorized"
  | "clock_skew"
  | "replayed"
  | "forbidden"
  | "rate_limited"
  | "not_leader"
  | "no_leader"
  | "unavailable"
  | "timeout"
  | "outcome_unknown"
  | "shutting_down"
  | "insufficient_storage"
  | "idempotency_key_reused"
  | "too_many_streams"
  | "slow_consumer"
  | "conflict"
  | "verification_failed"
  | "corrupt_value"
  | "corrupt_entry"
  | "checkpoint_disagreement"
  | "not_caught_up"
  | "no_quorum"
  | "internal";

export const statusOfCode: Record<ErrorCode, number> = {
  invalid_key: 400,
  invalid_value: 400,
  invalid_request: 400,
  invalid_json: 400,
  invalid_version: 400,
  invalid_index: 400,
  invalid_range: 400,
  key_too_large: 400,
  value_too_large: 413,
  batch_too_large: 413,
  payload_too_large: 413,
  not_found: 404,
  no_route: 404,
  version_not_found: 404,
  deleted: 404,
  precondition_failed: 412,
  method_not_allowed: 405,
  unauthorized: 401,
  clock_skew: 401,
  replayed: 401,
  forbidden: 403,
  rate_limited: 429,
  not_leader: 503,
  no_leader: 503,
  unavailable: 503,
  timeout: 503,
  // A write the node cannot tell happened or not (it may still commit): never a refusal. Retry it
  // with the same Idempotency-Key to learn its outcome without appending it twice.
  outcome_unknown: 504,
  shutting_down: 503,
  // Writes refused before anything was appended: the data directory's free space is below
  // storage.min_free_bytes (or SQLite found the disk full). Reads still work.
  insufficient_storage: 507,
  // The Idempotency-Key was already used, within its window, by a different request.
  idempotency_key_reused: 422,
  // GET /watch: the node's bound of concurrent streams is reached (api.watch_streams_max).
  too_many_streams: 503,
  // A watch stream's consumer fell too far behind (api.watch_backlog_entries_max); the stream's
  // final line carries it with resume_from.
  slow_consumer: 503,
  conflict: 409,
  verification_failed: 500,
  // Stored bytes that do not match what the ledger committed to: never served (docs/TROUBLESHOOTING.md).
  corrupt_value: 500,
  corrupt_entry: 500,
  // A member's ledger has another root at a checkpoint's size (or contradicts what it signed): it refuses to sign.
  checkpoint_disagreement: 409,
  // A member asked to sign a checkpoint beyond what it has applied; or a checkpoint without a quorum of signatures.
  not_caught_up: 503,
  no_quorum: 503,
  internal: 500,
};

/** An expected failure with a stable code; `status` follows from the code unless given. */
export class ScribeError extends Error {
  override name = "ScribeError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.status = statusOfCode[code];
    this.details = details;
  }

  toJSON(): { error: string; code: ErrorCode } & Record<string, unknown> {
    return { error: this.message, code: this.code, ...(this.details ?? {}) };
  }
}

export function isScribeError(error: unknown): error is ScribeError {
  return error instanceof ScribeError;
}
