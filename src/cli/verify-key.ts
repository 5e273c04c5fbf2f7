/**
 * @module cli/verify-key. One key's entry and value checked on this side of the wire: GET
 * /verify/KEY, then (for a put) the value as of the entry's index, then value → entry → leaf →
 * inclusion → signed checkpoint → consistency with the trusted state. Shared by `verify` and
 * `get --verify`; a failure is a VerificationFailed (exit 1) that also quotes what the node
 * itself reported, when it reported something.
 */

import { entryFromJson, loadHasher, verifyKeyResponse, type VerifiedKey } from "../client/index.ts";
import type { Entry } from "../ledger/index.ts";
import { isScribeError } from "../lib/index.ts";
import type { Context } from "./context.ts";
import { isEvidence, VerificationFailed } from "./errors.ts";

export interface KeyVerification extends VerifiedKey {
  /** What the node said was wrong (its `error` field), or null. */
  serverError: string | null;
}

/**
 * Verifies `key` at `version` (latest when undefined); `knownValue` is the value already fetched,
 * if any; `consistency` as the node should read the entry (its default, linearizable, when undefined).
 */
export async function verifyKeyHere(ctx: Context, key: string, version: number | undefined, knownValue?: Uint8Array, consistency?: "linearizable" | "stale"): Promise<KeyVerification> {
  const { client } = await ctx.trust();
  const response = (await ctx.http.verifyResponse(key, version, consistency)) as Record<string, unknown>;
  const serverError = typeof response.error === "string" ? response.error : null;
  const failed = (message: string) => new VerificationFailed(`verification FAILED for key ${JSON.stringify(key)}: ${message}${serverError ? ` (the server itself reports: ${serverError})` : ""}`);
  let entry: Entry;
  try {
    entry = entryFromJson(response.entry);
  } catch (error) {
    throw failed(`the server's entry is malformed: ${(error as Error).message}`);
  }
  let value = knownValue;
  if (value === undefined) {
    if (entry.op === "put") {
      const answer = await ctx.http.get(key, { at: entry.index, consistency }).catch((error: unknown) => {
        // The node refuses bytes that fail its own check: that is evidence, not an outage.
        if (isScribeError(error) && (error.code === "corrupt_value" || error.code === "corrupt_entry")) throw failed(`the server refuses to serve the value (${error.code}): ${error.message}`);
        throw error;
      });
      if (answer.index !== entry.index) throw failed(`asked for the value at index ${entry.index}, the server answered index ${answer.index}`);
      value = answer.value;
    } else {
      value = new Uint8Array(0);
    }
  }
  try {
    const verified = await verifyKeyResponse(response, {
      verifiers: client.verifiers,
      policy: client.policy,
      origin: ctx.options.string("origin"),
      key,
      value,
      trustedState: client.trustedState,
      fetchConsistency: (from, to) => client.consistency(from, to),
      hasher: await loadHasher(),
    });
    return { ...verified, serverError };
  } catch (error) {
    if (isEvidence(error)) throw failed((error as Error).message);
    throw error;
  }
}
