/**
 * @module cli/state-file. The CLI's trusted state on disk (like immudb's client state): the
 * cluster's member verifier keys the user trusts and the last checkpoint note verified with
 * them. Checkpoints are the cluster's (one origin, signed by a majority of its members), so one
 * state file serves every node of a cluster. JSON, written atomically (temporary file, then
 * rename) so a crash never leaves half a state. Version 1 files (one `verifier_key`) are read as
 * a list of one key and written back as version 2.
 */

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { TrustedStatePersistence } from "../client/index.ts";

export interface StateFileContents {
  /** Format version of this file. */
  version: 2;
  /** The server the state was last updated from (informational). */
  server: string;
  /** The members' keys, each "<name>+<key hash>+<base64 key>". */
  verifier_keys: string[];
  /** The last trusted signed checkpoint note, or null before the first. */
  checkpoint: string | null;
}

export class StateFileError extends Error {
  override name = "StateFileError";
}

/** Reads a state file; undefined when it does not exist. Throws StateFileError when malformed. */
export function readStateFile(path: string): StateFileContents | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new StateFileError(`state file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const state = parsed as { version?: number; server?: unknown; verifier_key?: unknown; verifier_keys?: unknown; checkpoint?: unknown };
  const keys = state?.version === 1 && typeof state.verifier_key === "string" ? [state.verifier_key] : state?.verifier_keys;
  const validKeys = Array.isArray(keys) && keys.length > 0 && keys.every((k) => typeof k === "string");
  if (typeof state !== "object" || state === null || (state.version !== 1 && state.version !== 2) || !validKeys || (state.checkpoint !== null && typeof state.checkpoint !== "string")) {
    throw new StateFileError(`state file ${path} is not a scribe state file (want {version: 2, verifier_keys, checkpoint})`);
  }
  return { version: 2, server: String(state.server ?? ""), verifier_keys: keys as string[], checkpoint: (state.checkpoint as string | null | undefined) ?? null };
}

function writeStateFile(path: string, contents: StateFileContents): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/** A TrustedStatePersistence over a state file; the member keys are saved with every note. */
export class StateFilePersistence implements TrustedStatePersistence {
  constructor(
    private readonly path: string,
    private readonly server: string,
    private verifierKeys: readonly string[],
  ) {}

  load(): string | undefined {
    return readStateFile(this.path)?.checkpoint ?? undefined;
  }

  save(note: string): void {
    writeStateFile(this.path, { version: 2, server: this.server, verifier_keys: [...this.verifierKeys], checkpoint: note });
  }

  /** Records the trusted keys before any checkpoint (trust on first use is remembered). */
  saveKeyOnly(): void {
    if (readStateFile(this.path)) return;
    writeStateFile(this.path, { version: 2, server: this.server, verifier_keys: [...this.verifierKeys], checkpoint: null });
  }

  /** Trusts another key set (reached by following the cluster's verified key history), keeping the checkpoint. */
  saveKeys(keys: readonly string[]): void {
    this.verifierKeys = keys;
    writeStateFile(this.path, { version: 2, server: this.server, verifier_keys: [...keys], checkpoint: readStateFile(this.path)?.checkpoint ?? null });
  }
}
