/**
 * @module waiters. Waits on the driver's progress, settled by events instead of polling:
 * - applied-index waits (a linearizable read waits until the node applied its read index; a
 *   membership change until its entry is applied), settled when the Ready loop applies;
 * - leader waits (a write or read waits for a leader to be known, or for a different one after
 *   a refusal), tested against the leader the core knows now, at once and after every handled
 *   Ready;
 * - condition waits (a member asked to cosign waits until its tree has the size; a keys note
 *   signer until its applied identity and voters match), settled when a check of the node's
 *   state passes after a Ready was handled (`progressed`, once it was applied and advanced, so
 *   the ledger, the identity and the membership are all current).
 * Each wait also sits in the DeadlineQueue (deadlines.ts), which expires it once its deadline
 * passes and aborts it when the node stops. Callbacks, not promises, so the simulator can run the
 * same code synchronously; `untilApplied` and `untilLeader` wrap them for async callers.
 */

import { ScribeError } from "../lib/index.ts";
import type { Deadline, DeadlineQueue } from "./deadlines.ts";

/**
 * Waits that expired stay in their list until the next event that settles others; past this many
 * entries a new wait first drops the settled ones, so a node stuck without progress (no apply, no
 * leader change) cannot grow a list without bound while requests keep timing out.
 */
const waitsPruneAt = 1024;

/** Called once: without an error when the awaited event happened, else with the reason. */
export type WaitDone = (error?: ScribeError) => void;

class Wait implements Deadline {
  slot = -1;
  settled = false;

  constructor(
    readonly deadlineMs: number,
    private readonly queue: DeadlineQueue,
    /** The error at the deadline; undefined settles the wait without one. */
    private readonly atDeadline: () => ScribeError | undefined,
    private readonly done: WaitDone,
  ) {}

  settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.queue.remove(this);
    this.done();
  }

  expire(): void {
    if (this.settled) return;
    this.settled = true;
    this.done(this.atDeadline());
  }

  abort(error: ScribeError): void {
    if (this.settled) return;
    this.settled = true;
    this.done(error);
  }
}

export class Waiters {
  private appliedIndex: number;
  private appliedWaits: { index: number; wait: Wait }[] = [];
  private lowestAwaitedIndex = Number.POSITIVE_INFINITY;
  private leaderWaits: { test: (leader: number) => boolean; wait: Wait }[] = [];
  private conditionWaits: { test: () => boolean; wait: Wait }[] = [];

  /**
   * `knownLeader`: the leader the Raft core knows now (its soft state; 0: none). Leader waits test
   * it, never a copy from the last Ready: between a change in the core and the Ready that reports
   * it, a request would see a leader the core no longer knows, and its retry loop would spin.
   */
  constructor(
    readonly deadlines: DeadlineQueue,
    appliedIndex: number,
    private readonly knownLeader: () => number,
  ) {
    this.appliedIndex = appliedIndex;
  }

  /** Calls `done` once the applied index reaches `index`, or with a timeout error at `deadlineMs`. */
  waitApplied(index: number, deadlineMs: number, what: string, done: WaitDone): void {
    if (this.appliedIndex >= index) return done();
    const seconds = Math.max(0, Math.round((deadlineMs - this.deadlines.nowMs()) / 1000));
    const wait = new Wait(deadlineMs, this.deadlines, () => new ScribeError("timeout", `${what} did not complete within ${seconds}s; its outcome is unknown`), done);
    this.deadlines.add(wait);
    if (this.appliedWaits.length >= waitsPruneAt) this.appliedWaits = this.appliedWaits.filter((w) => !w.wait.settled);
    this.appliedWaits.push({ index, wait });
    this.lowestAwaitedIndex = Math.min(this.lowestAwaitedIndex, index);
  }

  /**
   * Calls `done` once the known leader passes `test` (checked at once, then at every handled
   * Ready: `leaderChecked`), or at `deadlineMs` with `atDeadline()` (undefined: without an error).
   */
  waitLeader(test: (leader: number) => boolean, deadlineMs: number, atDeadline: () => ScribeError | undefined, done: WaitDone): void {
    if (test(this.knownLeader())) return done();
    const wait = new Wait(deadlineMs, this.deadlines, atDeadline, done);
    this.deadlines.add(wait);
    if (this.leaderWaits.length >= waitsPruneAt) this.leaderWaits = this.leaderWaits.filter((w) => !w.wait.settled);
    this.leaderWaits.push({ test, wait });
  }

  /**
   * Calls `done` once `test()` holds — checked at once, then each time `progressed()` reports a
   * handled Ready — or at `deadlineMs` with `atDeadline()` (undefined: without an error). `test`
   * only reads state and must be cheap (it runs once per Ready while the wait is pending); one that
   * throws settles its wait with an `unavailable` error naming the failure.
   */
  waitUntil(test: () => boolean, deadlineMs: number, atDeadline: () => ScribeError | undefined, done: WaitDone): void {
    const first = checked(test);
    if (first !== false) return first === true ? done() : done(first);
    const wait = new Wait(deadlineMs, this.deadlines, atDeadline, done);
    this.deadlines.add(wait);
    if (this.conditionWaits.length >= waitsPruneAt) this.conditionWaits = this.conditionWaits.filter((w) => !w.wait.settled);
    this.conditionWaits.push({ test, wait });
  }

  /** The driver handled a Ready (applied and advanced it): condition waits are checked again. */
  progressed(): void {
    if (this.conditionWaits.length === 0) return;
    const waiting = this.conditionWaits;
    this.conditionWaits = [];
    for (const w of waiting) {
      if (w.wait.settled) continue;
      const result = checked(w.test);
      if (result === true) w.wait.settle();
      else if (result === false) this.conditionWaits.push(w);
      else {
        this.deadlines.remove(w.wait);
        w.wait.abort(result);
      }
    }
  }

  /** The Ready loop applied up to `index`. */
  applied(index: number): void {
    this.appliedIndex = index;
    if (index < this.lowestAwaitedIndex) return;
    const waiting = this.appliedWaits;
    this.appliedWaits = [];
    this.lowestAwaitedIndex = Number.POSITIVE_INFINITY;
    for (const w of waiting) {
      if (w.wait.settled) continue;
      if (w.index <= index) {
        w.wait.settle();
      } else {
        this.appliedWaits.push(w);
        this.lowestAwaitedIndex = Math.min(this.lowestAwaitedIndex, w.index);
      }
    }
  }

  /** The driver handled a Ready: leader waits are checked against the known leader again. */
  leaderChecked(): void {
    if (this.leaderWaits.length === 0) return;
    const leader = this.knownLeader();
    const waiting = this.leaderWaits;
    this.leaderWaits = [];
    for (const w of waiting) {
      if (w.wait.settled) continue;
      if (w.test(leader)) w.wait.settle();
      else this.leaderWaits.push(w);
    }
  }

  /** Promise form of waitApplied. */
  untilApplied(index: number, deadlineMs: number, what: string): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.waitApplied(index, deadlineMs, what, (error) => (error ? reject(error) : resolve())));
  }

  /** Promise form of waitUntil. */
  until(test: () => boolean, deadlineMs: number, atDeadline: () => ScribeError | undefined): Promise<void> {
    return new Promise((resolve, reject) => this.waitUntil(test, deadlineMs, atDeadline, (error) => (error ? reject(error) : resolve())));
  }

  /** Promise form of waitLeader. */
  untilLeader(test: (leader: number) => boolean, deadlineMs: number, atDeadline: () => ScribeError | undefined): Promise<void> {
    if (test(this.knownLeader())) return Promise.resolve();
    return new Promise((resolve, reject) => this.waitLeader(test, deadlineMs, atDeadline, (error) => (error ? reject(error) : resolve())));
  }
}

/** `test()`, or the error it threw as a ScribeError. */
function checked(test: () => boolean): boolean | ScribeError {
  try {
    return test();
  } catch (error) {
    return new ScribeError("unavailable", `a wait's condition failed: ${(error as Error).message}`);
  }
}
