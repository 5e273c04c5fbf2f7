/**
 * @module assertions. A broken invariant stops the process rather than becoming a 500:
 * `assert` throws an `AssertionError`, which the HTTP layer never maps to a client error.
 */

export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws an AssertionError when `condition` is false. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Throws an AssertionError: for checks on a per-entry path, written `if (!condition) fail(\`…\`)`
 * so that the message (a template that formats numbers, about 0.1 µs) is built only on failure.
 */
export function fail(message: string): never {
  throw new AssertionError(message);
}

/** Marks a branch that must be unreachable when all cases are handled. */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
