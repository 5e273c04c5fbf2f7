/**
 * @module storage/file-modes. Keeps the node's files private to its user: directories are made
 * 0700 and files 0600 whatever the process umask, and existing paths that grant group or others
 * any access are found so the node can warn about them (or refuse them).
 *
 * SQLite creates a database's `-wal` and `-shm` files with the database file's own mode, so a
 * database created here as 0600 (`createPrivateFile` before SQLite opens it) keeps its WAL and
 * shared-memory files 0600 too.
 */

import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from "node:fs";

export const privateDirMode = 0o700;
export const privateFileMode = 0o600;
/** Permission bits for group and others: any of them set makes a path "exposed". */
const groupOtherBits = 0o077;

/**
 * Creates `dir` and any missing parents as 0700. A directory that already exists keeps its mode
 * (it may be a mount point or set up by the operator): see `exposedPaths` for the check.
 */
export function ensurePrivateDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: privateDirMode });
  // The umask can only remove bits; set the leaf exactly in case it removed the owner's.
  if (created !== undefined) chmodSync(dir, privateDirMode);
}

/** Creates `path` as an empty 0600 file unless it exists; returns whether it created it. */
export function createPrivateFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", privateFileMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    fchmodSync(fd, privateFileMode);
  } finally {
    closeSync(fd);
  }
  return true;
}

export interface PathToCheck {
  path: string;
  /** What the path is, for messages: "data directory", "database file", "signing key". */
  kind: string;
}

export interface ExposedPath extends PathToCheck {
  /** Permission bits, e.g. 0o755. */
  mode: number;
  /** The mode it should have: 0700 for directories, 0600 for files. */
  wantedMode: number;
}

/** The paths among `candidates` that exist and give group or others any permission. */
export function exposedPaths(candidates: readonly PathToCheck[]): ExposedPath[] {
  const out: ExposedPath[] = [];
  for (const candidate of candidates) {
    let stats;
    try {
      stats = statSync(candidate.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    const mode = stats.mode & 0o777;
    if ((mode & groupOtherBits) === 0) continue;
    out.push({ ...candidate, mode, wantedMode: stats.isDirectory() ? privateDirMode : privateFileMode });
  }
  return out;
}

/** "0755": a mode as chmod takes it. */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}
