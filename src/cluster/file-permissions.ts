/**
 * @module cluster/file-permissions. At start, finds the node's private files that group or others
 * can access: the data directory, the SQLite database with its `-wal` and `-shm` files, and the
 * checkpoint signing key. Each is logged as a warning; with `security.strict_permissions`
 * (`--strict-permissions`) the start is refused instead (a ConfigError: exit status 2).
 *
 * New files are made private where they are created (storage/file-modes.ts); this check is about
 * what already exists: a directory made by hand or by an older version, a key copied in with the
 * wrong mode. The node never changes the mode of a path it did not create.
 */

import { join } from "node:path";
import { ConfigError, type Config } from "../config/index.ts";
import { exposedPaths, formatMode, type ExposedPath } from "../storage/index.ts";
import { defaultSigningKeyFile } from "./checkpoints.ts";
import type { Logger } from "./logger.ts";

/** The node's SQLite database in its data directory. */
export function databaseFile(dataDir: string): string {
  return join(dataDir, "scribe.db");
}

/** The signing key file the node uses: `security.signing_key_file`, or the default in the data directory. */
export function signingKeyFile(config: Config): string {
  return config.security.signing_key_file || defaultSigningKeyFile(config.node.data_dir);
}

/** The node's private paths that exist and give group or others any permission. */
export function exposedNodePaths(config: Config): ExposedPath[] {
  const dataDir = config.node.data_dir;
  const database = databaseFile(dataDir);
  return exposedPaths([
    { path: dataDir, kind: "data directory" },
    { path: database, kind: "database file" },
    { path: `${database}-wal`, kind: "database file" },
    { path: `${database}-shm`, kind: "database file" },
    { path: signingKeyFile(config), kind: "signing key" },
  ]);
}

/** Warns about every exposed path, or refuses them all with `security.strict_permissions`. */
export function checkFilePermissions(config: Config, logger: Logger | undefined): void {
  const exposed = exposedNodePaths(config);
  if (exposed.length === 0) return;
  const fix = exposed.map((p) => `chmod ${formatMode(p.wantedMode).slice(1)} ${p.path}`).join("; ");
  if (config.security.strict_permissions) {
    const list = exposed.map((p) => `the ${p.kind} ${p.path} is mode ${formatMode(p.mode)}`).join(", ");
    const them = exposed.length > 1 ? "them" : "it";
    throw new ConfigError(
      `refusing to start with strict permissions ("security.strict_permissions" / --strict-permissions): ${list}, ` +
        `so group or others can access ${them}; make ${them} private with: ${fix}`,
    );
  }
  for (const p of exposed) {
    logger?.warn(
      { path: p.path, kind: p.kind, mode: formatMode(p.mode), wanted_mode: formatMode(p.wantedMode) },
      `the ${p.kind} ${p.path} is mode ${formatMode(p.mode)}: group or others can access it; ` +
        `run chmod ${formatMode(p.wantedMode).slice(1)} ${p.path} (--strict-permissions refuses to start like this)`,
    );
  }
}
