/**
 * @module cli/state-file. The CLI's trusted state on disk (like immudb's client state): the
 * verifier key the user trusts and the last checkpoint note verified with it. JSON, written
 * atomically (temporary file, then rename) so a crash never leaves half a state.
 */

import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { TrustedStatePersistence } from "../client/index.ts";

export interface StateFileContents {
  /** Format version of this file. */
  version: 1;
  /** The server the state was last updated from (informational). */
  server: string;
  /** "<name>+<key hash>+<base64 key>" */
  verifier_key: string;
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
  const state = parsed as Partial<StateFileContents>;
  if (typeof state !== "object" || state === null || state.version !== 1 || typeof state.verifier_key !== "string" || (state.checkpoint !== null && typeof state.checkpoint !== "string")) {
    throw new StateFileError(`state file ${path} is not a scribe state file (want {version: 1, verifier_key, checkpoint})`);
  }
  return { version: 1, server: String(state.server ?? ""), verifier_key: state.verifier_key, checkpoint: state.checkpoint ?? null };
}

function writeStateFile(path: string, contents: StateFileContents): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

/** A TrustedStatePersistence over a state file; the verifier key is saved with every note. */
export class StateFilePersistence implements TrustedStatePersistence {
  constructor(
    private readonly path: string,
    private readonly server: string,
    private readonly verifierKey: string,
  ) {}

  load(): string | undefined {
    return readStateFile(this.path)?.checkpoint ?? undefined;
  }

  save(note: string): void {
    writeStateFile(this.path, { version: 1, server: this.server, verifier_key: this.verifierKey, checkpoint: note });
  }

  /** Records the trusted key before any checkpoint (trust on first use is remembered). */
  saveKeyOnly(): void {
    if (readStateFile(this.path)) return;
    writeStateFile(this.path, { version: 1, server: this.server, verifier_key: this.verifierKey, checkpoint: null });
  }
}
