/**
 * @module cli/errors. What can go wrong in `scribe`, and the exit status of each: the one place
 * that maps a failure to a code, so every command exits the same way for the same cause.
 */

import { HttpError, isTransportError } from "../client/index.ts";
import { isScribeError } from "../lib/index.ts";
import { StateFileError } from "./state-file.ts";

export const exitCodes = {
  ok: 0,
  /** A proof, signature, hash or consistency check failed (here, or on the node: corrupt_value): the ledger is not what it claims. */
  verificationFailed: 1,
  /** The command line is wrong, or the node refused the input as invalid (400, 413). */
  usage: 2,
  /** The key, version or route does not exist (404). */
  notFound: 3,
  /**
   * No node could be reached, a timeout, or the node cannot serve now (429, 5xx), or a write's
   * outcome is unknown (504 outcome_unknown, or the connection was lost after sending): running
   * the same write again with its --idempotency-key is safe.
   */
  unavailable: 4,
  /** The node refused the request: no or a wrong API key (401, 403), a failed condition (412), a conflict (409), an idempotency key reused for another request (422). */
  refused: 5,
} as const;

/** The exit codes as the help and docs/CLI.md print them. */
export const exitCodesText = `Exit status:
  0  success
  1  verification failed: a proof, signature, value hash or consistency check did not hold
     (also when the node refuses a value as corrupt_value or corrupt_entry)
  2  usage: a mistake in the command line, or input the node refused as invalid (400, 413)
  3  not found: no such key, version or route (404)
  4  unavailable: no endpoint reachable, a timeout, or the node cannot serve now (429, 5xx);
     also a write whose outcome is unknown (504 outcome_unknown): run it again with the
     --idempotency-key the message gives, which cannot write twice
  5  refused: API key missing, unknown or of too low a role (401, 403), a failed
     --if-version condition (412), a conflict (409), an --idempotency-key already used
     for a different write (422)
`;

/** A mistake in the command line: exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Evidence that the ledger is not what it claims: exit status 1. */
export class VerificationFailed extends Error {
  override name = "VerificationFailed";
}

/** A failure already shown in the command's output: its message sums it up, its exit status is its cause's. */
export class ReportedFailure extends Error {
  override name = "ReportedFailure";
  constructor(
    message: string,
    readonly reason: unknown,
  ) {
    super(message);
  }
}

/**
 * Whether `error` is evidence against the node: a check that failed, or an answer too malformed
 * to check (as opposed to not getting an answer, or an HTTP error status).
 */
export function isEvidence(error: unknown): boolean {
  return isScribeError(error) && !isTransportError(error) && (error.code === "verification_failed" || error.code === "invalid_json");
}

/** The exit status for a thrown error. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ReportedFailure) return exitCodeOf(error.reason);
  if (error instanceof UsageError || error instanceof StateFileError) return exitCodes.usage;
  if (error instanceof VerificationFailed) return exitCodes.verificationFailed;
  // The node's own check of its stored bytes failed: evidence, not an outage.
  if (isScribeError(error) && (error.code === "corrupt_value" || error.code === "corrupt_entry")) return exitCodes.verificationFailed;
  if (error instanceof HttpError) {
    const status = error.httpStatus;
    if (status === 404) return exitCodes.notFound;
    if (status === 401 || status === 403 || status === 409 || status === 412 || status === 422) return exitCodes.refused;
    if (status === 429 || status >= 500) return exitCodes.unavailable;
    return exitCodes.usage;
  }
  if (isScribeError(error)) {
    if (error.code === "verification_failed") return exitCodes.verificationFailed;
    if (error.status === 404) return exitCodes.notFound;
    if (error.status === 503 || error.code === "outcome_unknown") return exitCodes.unavailable;
  }
  return exitCodes.unavailable;
}
