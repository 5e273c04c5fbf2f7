/**
 * @module ledger-support. Real SQLite ledgers (LedgerState) in temporary directories for the
 * cluster tests that drive the state machine directly, each closed and removed after the file's
 * tests.
 */
import { afterAll } from "bun:test";
import { LedgerState } from "../../src/cluster/ledger-state.ts";
import { loadConfig } from "../../src/config/index.ts";
import { tempDir } from "../support/node-process.ts";

/** Opens ledgers in new temporary directories; all are closed and removed after the file's tests. */
export function tempLedgers(): () => Promise<LedgerState> {
  const dirs: { remove(): void }[] = [];
  const ledgers: LedgerState[] = [];
  afterAll(() => {
    for (const l of ledgers) l.close();
    for (const d of dirs) d.remove();
  });
  return async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ledger = await LedgerState.open(loadConfig({ overrides: { "node.data_dir": dir.path } }));
    ledgers.push(ledger);
    return ledger;
  };
}
