/**
 * @module apply. The deterministic ledger state machine: a command plus the current key heads
 * gives the entries to append, or a refusal. Pure: the caller supplies the view of the ledger and
 * stores the result. A command is atomic: if any operation is refused, nothing is appended.
 */

import { fromHex } from "../lib/index.ts";
import type { Command } from "./command.ts";
import type { Op } from "./entry.ts";
import type { StoredEntry } from "./service.ts";

/** The latest entry of a key. */
export interface KeyHead {
  index: number;
  version: number;
  op: Op;
}

/** What apply reads: the next free ledger index and each key's head. */
export interface LedgerView {
  readonly nextIndex: number;
  head(key: string): KeyHead | undefined;
}

export interface AppliedOp {
  /** With its version (1-based count of the key's entries, this one included): once written, the object the head cache keeps if it holds the key. */
  entry: StoredEntry;
  /** The key had a live value (its head was a put) before this op. */
  wasLive: boolean;
  /** The value (empty for a delete). */
  value: Uint8Array;
}

export type ApplyResult =
  | { ok: true; applied: AppliedOp[] }
  | { ok: false; code: "precondition_failed" | "not_found"; message: string; opIndex: number; key: string };

/** SHA-256 of the empty string: the value hash of a delete. */
export const emptyValueHash: Uint8Array = fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")!;

function isLive(head: KeyHead | undefined): head is KeyHead {
  return head !== undefined && head.op === "put";
}

/** Applies `command` on top of `view`. Later operations in the batch see earlier ones. */
export function applyCommand(command: Command, view: LedgerView): ApplyResult {
  const overlay = new Map<string, KeyHead>();
  const applied: AppliedOp[] = [];
  let index = view.nextIndex;
  for (let opIndex = 0; opIndex < command.ops.length; opIndex++) {
    const op = command.ops[opIndex]!;
    const head = overlay.get(op.key) ?? view.head(op.key);
    const currentVersion = isLive(head) ? head.version : 0;
    if (op.ifMatch !== undefined && op.ifMatch !== currentVersion) {
      return refuse("precondition_failed", `key "${op.key}" is at version ${currentVersion}, not ${op.ifMatch}`, opIndex, op.key);
    }
    if (op.op === "put" && op.ifNoneMatch && isLive(head)) {
      return refuse("precondition_failed", `key "${op.key}" already exists (version ${head.version})`, opIndex, op.key);
    }
    if (op.op === "delete" && !isLive(head)) {
      return refuse("not_found", `key "${op.key}" does not exist`, opIndex, op.key);
    }
    const version = (head?.version ?? 0) + 1;
    const entry: StoredEntry =
      op.op === "put"
        ? { index, op: "put", key: op.key, valueHash: op.valueHash, valueBytes: op.value.length, contentType: op.contentType, timestampMs: command.timestampMs, prevIndex: head?.index ?? -1, version }
        : { index, op: "delete", key: op.key, valueHash: emptyValueHash, valueBytes: 0, contentType: "", timestampMs: command.timestampMs, prevIndex: head?.index ?? -1, version };
    applied.push({ entry, wasLive: isLive(head), value: op.op === "put" ? op.value : new Uint8Array(0) });
    overlay.set(op.key, entry); // an entry is its key's head (index, version, op)
    index++;
  }
  return { ok: true, applied };
}

function refuse(code: "precondition_failed" | "not_found", message: string, opIndex: number, key: string): ApplyResult {
  return { ok: false, code, message, opIndex, key };
}
