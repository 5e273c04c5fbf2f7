/**
 * @module scribe-ledger. The package's public surface: the embedded ledger, configuration,
 * entry encoding and errors.
 */
export { LedgerValue, ScribeLedger, type BatchOp, type GetOptions, type ImportRecord, type LedgerCheckpoint, type OpenOptions, type PutOptions } from "./embedded.ts";
export { decodeEntry, encodeEntry, type Entry, type Receipt, type StoredEntry } from "./ledger/index.ts";
export { ScribeError, type ErrorCode } from "./lib/index.ts";
export { loadConfig, type Config } from "./config/index.ts";
