/**
 * @module catchup. Catch-up of a far-behind follower by ledger range, instead of a snapshot
 * (docs/RAFT.md, "Catch-up"). When a Ready carries `catchup`, the node:
 *  1. asks the leader (or, without its address, any member that knows it) for the ledger size
 *     at the catch-up's Raft index (`GET /cluster/ledger-size`, from the recorded applied points);
 *  2. fetches the missing ledger range in pages (`GET /entries?values=true`) and re-applies each
 *     page through its own state machine, checking every value and leaf (replay.ts), together
 *     with the idempotency records the source made for that page's commands
 *     (`GET /cluster/idempotency`), in the page's transaction: the entries do not say which
 *     commands carried an idempotency key, so this is how the window ends up the same here;
 *  3. takes the source's address book and cluster identity (origin, member keys, keys notes:
 *     identity.ts) and, in ONE durable transaction, restarts the Raft log after the catch-up
 *     point with its membership, records the applied point, the book and the identity.
 * A failed attempt is retried with a backoff until it succeeds or the node stops: the range is
 * committed, so the source (or a later leader) holds it.
 */

import type { MemberAddresses } from "../ledger/index.ts";
import { ScribeError } from "../lib/index.ts";
import type { CatchupInstall } from "../raft/index.ts";
import type { SqliteRaftStorage } from "../storage/index.ts";
import type { AddressBook } from "./address-book.ts";
import type { ClusterIdentity } from "./identity.ts";
import type { LedgerState } from "./ledger-state.ts";
import type { Logger } from "./logger.ts";
import { fetchAddressBook, fetchEntries, fetchIdempotencyRecords, fetchIdentity, fetchLedgerSizeAt } from "./peer-client.ts";
import { replayEntries } from "./replay.ts";

/** Entries fetched per request while catching up by ledger range (keeps a page to a few MB). */
const catchupPageEntries = 1000;
/** Longest pause between two catch-up attempts; the backoff doubles from 100 ms up to it. */
const retryBackoffMsMax = 5000;

export interface LedgerCatchupOptions {
  ledger: LedgerState;
  raftLog: SqliteRaftStorage;
  addresses: AddressBook;
  identity: ClusterIdentity;
  logger: Logger;
  /** Runs `fn` in one transaction that is fsync'd on commit (when storage.sync is "full"). */
  durably: (fn: () => void) => void;
  /** True once the node stops: a failed attempt is then not retried. */
  stopped: () => boolean;
}

export class LedgerCatchup {
  constructor(private readonly options: LedgerCatchupOptions) {}

  /** Installs `catchup` (steps 1-3 of the module comment), retrying until it succeeds or the node stops. */
  async install(catchup: CatchupInstall): Promise<void> {
    const { logger } = this.options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(catchup);
      } catch (error) {
        if (this.options.stopped()) throw error;
        logger.warn({ err: (error as Error).message, attempt }, "catch-up failed; retrying");
        await Bun.sleep(Math.min(retryBackoffMsMax, 100 * 2 ** attempt));
      }
    }
  }

  private async attempt(catchup: CatchupInstall): Promise<void> {
    const { ledger, raftLog, addresses, identity, logger } = this.options;
    const source = addresses.of(catchup.from) ?? (await this.anyAddressOf(catchup.from));
    const target = await fetchLedgerSizeAt(source.client, catchup.index, 10_000);
    logger.info({ from: catchup.from, raft_index: catchup.index, ledger_from: ledger.size, ledger_to: target }, "catching up by ledger range");
    while (ledger.size < target) {
      const page = await fetchEntries(source.client, ledger.size, Math.min(catchupPageEntries, target - ledger.size), 30_000);
      if (page.length === 0) throw new ScribeError("unavailable", `${source.client} returned no entries at ${ledger.size}`);
      const records = await fetchIdempotencyRecords(source.client, ledger.size, ledger.size + page.length, 10_000);
      replayEntries(ledger, page, `catch-up from ${source.client}`, records);
    }
    const book = await fetchAddressBook(source.client, 10_000);
    const sourceIdentity = await fetchIdentity(source.client, 10_000);
    addresses.replace(book);
    identity.replace(sourceIdentity);
    this.options.durably(() => {
      raftLog.applyCatchup(catchup.index, catchup.term, catchup.membership);
      raftLog.recordApplied(catchup.index, ledger.size);
      raftLog.writeMeta("addresses", addresses.entries());
      raftLog.writeMeta("identity", identity.state());
    });
  }

  /** Asks every known member for the address of `id` (the catch-up's source). */
  private async anyAddressOf(id: number): Promise<MemberAddresses> {
    for (const address of Object.values(this.options.addresses.entries())) {
      try {
        const book = await fetchAddressBook(address.client, 5000);
        const found = book[String(id)];
        if (found) return found;
      } catch {
        // try the next one
      }
    }
    throw new ScribeError("unavailable", `no address known for node ${id}`);
  }
}
