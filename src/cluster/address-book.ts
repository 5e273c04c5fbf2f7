/**
 * @module address-book. Where each member can be reached: its Raft transport address and its HTTP
 * client address (both host:port), by node id. The book travels through the Raft log as
 * address-book entries (entry-data.ts), so every member applies the same changes in the same
 * order; it is persisted beside the Raft log (`raft_state`, meta "addresses") in the transaction
 * that applies them. This node's own entry comes from its configuration when the node opens.
 */

import { defaultClientAddress, type Member } from "../config/index.ts";
import type { MemberAddresses } from "../ledger/index.ts";
import type { AddressChanges } from "./entry-data.ts";

/** The book of a bootstrap membership (consensus.cluster_members). */
export function addressesOf(members: readonly Member[], clientPort: number): Record<string, MemberAddresses> {
  const book: Record<string, MemberAddresses> = {};
  for (const m of members) {
    book[String(m.id)] = { raft: m.address, client: m.client ?? defaultClientAddress(m.address, clientPort) };
  }
  return book;
}

export class AddressBook {
  private book: Record<string, MemberAddresses>;
  /** Counts changes, so a reader can tell whether the book changed since it last looked. */
  version = 0;

  constructor(
    private readonly selfId: number,
    private readonly self: MemberAddresses,
    initial: Record<string, MemberAddresses>,
  ) {
    this.book = { ...initial, [String(selfId)]: self };
  }

  of(id: number): MemberAddresses | undefined {
    return this.book[String(id)];
  }

  /** A copy of the whole book. */
  entries(): Record<string, MemberAddresses> {
    return { ...this.book };
  }

  /** Applies a committed address-book entry (null forgets an id). */
  apply(changes: AddressChanges): void {
    const next = { ...this.book };
    for (const [id, address] of Object.entries(changes)) {
      if (address === null) delete next[id];
      else next[id] = address;
    }
    this.book = next;
    this.version++;
  }

  /** Adds the ids this book does not know yet (a join answer); known ids keep their addresses. */
  learn(other: Record<string, MemberAddresses>): void {
    this.book = { ...other, ...this.book };
    this.version++;
  }

  /** Takes another member's whole book (a catch-up replaces the log the changes came from). */
  replace(other: Record<string, MemberAddresses>): void {
    this.book = { ...other, [String(this.selfId)]: this.book[String(this.selfId)] ?? this.self };
    this.version++;
  }
}
