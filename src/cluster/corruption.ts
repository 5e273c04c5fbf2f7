/**
 * @module corruption. The alarms of corrupt reads (ledger-state.ts): stored bytes that fail their
 * check on the way out (src/ledger/check.ts) — a value against its entry's size and SHA-256, an
 * entries row against its Merkle leaf or its key's previous version — are never served. Each is
 * counted (`corruption` in /metrics, scribe_ledger_corrupt_*_total), logged once per index and
 * tier as an error-level alarm, and turned into the corrupt_value / corrupt_entry error to throw.
 */

import type { StoredEntry } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { Logger } from "./logger.ts";

/** Where corrupt bytes were found: the hot tier (SQLite) or the cold tier (S3). */
export type CorruptTier = "hot" | "cold";

/**
 * Distinct corrupt indexes that each get an alarm log line; past this the alarms stop (the
 * counters keep counting) so a client looping on a bad key cannot flood the log.
 */
const corruptAlarmsMax = 1000;

/** Reads refused because stored bytes did not match the ledger, and their alarms. */
export class CorruptionAlarms {
  private readonly values = { hot: 0, cold: 0 };
  private entries = 0;
  private last: null | { index: number; key: string; tier: CorruptTier; code: string } = null;
  private readonly alarmed = new Set<string>();

  constructor(private readonly logger: Logger | undefined) {}

  /**
   * Counts a corrupt read, logs its alarm (once per index and tier, up to corruptAlarmsMax) and
   * returns the error to throw: corrupt_value for a value, corrupt_entry for an entries row.
   */
  corrupt(kind: "value" | "entry", entry: Pick<StoredEntry, "index" | "key">, tier: CorruptTier, reason: string): ScribeError {
    const code = kind === "value" ? "corrupt_value" : "corrupt_entry";
    if (kind === "value") this.values[tier] += 1;
    else this.entries += 1;
    this.last = { index: entry.index, key: entry.key, tier, code };
    const alarm = `${code}:${tier}:${entry.index}`;
    if (!this.alarmed.has(alarm) && this.alarmed.size < corruptAlarmsMax) {
      this.alarmed.add(alarm);
      const where = tier === "hot" ? "the hot tier (SQLite)" : "the cold tier (S3)";
      this.logger?.error(
        { alarm: code, index: entry.index, key: entry.key, tier, reason },
        `ALARM ${code}: the ${kind} of index ${entry.index} (key ${JSON.stringify(entry.key)}) in ${where} does not match the ledger; refusing to serve it (${reason}). Stop the node and run scribe-node check on its data directory.` +
          (this.alarmed.size === corruptAlarmsMax ? ` Further corrupt indexes are counted in the metrics but not logged.` : ""),
      );
    }
    const what = kind === "value" ? `the stored value of entry ${entry.index} does not match its value hash` : `the stored entry ${entry.index} does not match the ledger`;
    return new ScribeError(code, `${what} (${tier} tier): ${reason}; it is not served`, { index: entry.index, tier });
  }

  /** `corruption` in /metrics (scribe_ledger_corrupt_*_total): counts per kind and tier, the last one. */
  metrics(): { values: { hot: number; cold: number }; entries: number; last: { index: number; key: string; tier: CorruptTier; code: string } | null } {
    return { values: { ...this.values }, entries: this.entries, last: this.last };
  }
}
