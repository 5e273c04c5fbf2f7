/**
 * @module entry-data. What the data of a "normal" Raft entry holds in this node. Byte 0 is the
 * kind: 1 = a ledger command (src/ledger/command.ts encoding), 2 = an address-book change (JSON
 * `{ "<node id>": {raft, client} | null }`, null removing a member's addresses), 3 = a change of the
 * cluster's log identity (JSON IdentityChanges of identity.ts: origin, member keys, keys notes).
 * Empty data is a new leader's no-op. Other kinds are ignored, so a future kind does not stop an older node.
 */

import { decodeCommand, encodeCommandAfter, type Command, type MemberAddresses } from "../ledger/index.ts";
import type { IdentityChanges } from "./identity.ts";

export const kindCommand = 1;
export const kindAddresses = 2;
export const kindIdentity = 3;

/** Address-book changes: an id's new addresses, or null to forget it. */
export type AddressChanges = Record<string, MemberAddresses | null>;

function withKind(kind: number, body: Uint8Array): Uint8Array {
  const data = new Uint8Array(body.length + 1);
  data[0] = kind;
  data.set(body, 1);
  return data;
}

/**
 * The commands this node encoded (a leader's proposals), by their entry data: when such an entry
 * comes back to be applied (the same bytes, held in the Raft log in memory), the command is taken
 * from here instead of decoded again. Decoding the bytes gives an equal command (checked: its keys are
 * well-formed UTF-8), so every replica applies the same thing; an entry read back
 * from SQLite or received from a leader is not in here and is decoded as always.
 */
const encodedCommands = new WeakMap<Uint8Array, Command>();

export function commandEntryData(command: Command): Uint8Array {
  const data = encodeCommandAfter(kindCommand, command);
  if (decodesToItself(command)) encodedCommands.set(data, command);
  return data;
}

/** False if a text field would come back different from its UTF-8 (a lone surrogate): then the bytes are decoded. */
function decodesToItself(command: Command): boolean {
  for (const op of command.ops) if (!op.key.isWellFormed()) return false;
  return command.idempotency === undefined || command.idempotency.key.isWellFormed();
}

export function addressEntryData(changes: AddressChanges): Uint8Array {
  return withKind(kindAddresses, new TextEncoder().encode(JSON.stringify(changes)));
}

export function identityEntryData(changes: IdentityChanges): Uint8Array {
  return withKind(kindIdentity, new TextEncoder().encode(JSON.stringify(changes)));
}

/** The decoded content of an entry's data. */
export type EntryContent =
  | { kind: "command"; command: Command }
  | { kind: "addresses"; changes: AddressChanges }
  | { kind: "identity"; changes: IdentityChanges }
  | { kind: "none" };

export function decodeEntryData(data: Uint8Array): EntryContent {
  if (data.length === 0) return { kind: "none" };
  if (data[0] === kindCommand) return { kind: "command", command: encodedCommands.get(data) ?? decodeCommand(data.subarray(1)) };
  if (data[0] === kindAddresses) return { kind: "addresses", changes: JSON.parse(new TextDecoder().decode(data.subarray(1))) as AddressChanges };
  if (data[0] === kindIdentity) return { kind: "identity", changes: JSON.parse(new TextDecoder().decode(data.subarray(1))) as IdentityChanges };
  return { kind: "none" };
}
