/**
 * @module deadlines. The one deadline mechanism of the node's driver: a min-heap of pending
 * requests ordered by deadline, swept once per Raft tick against an injected clock. Proposals,
 * read-index requests, applied-index waits and leader waits all register here; a request that
 * settles first leaves the heap at once (O(log n)), one still pending at its deadline is expired
 * by the sweep. No timers, no Promise.race, no polling: under the simulator the clock is the
 * simulated one and expiry is as deterministic as the rest of the run.
 *
 * The queue is also the registry of all pending work: shutdown and a fatal driver failure abort
 * every item in it (`abortAll`), so nothing is left waiting on a node that stopped.
 */

import type { ScribeError } from "../lib/index.ts";

/** A pending request with a deadline. `slot` is the heap's bookkeeping (-1 when not queued). */
export interface Deadline {
  readonly deadlineMs: number;
  slot: number;
  /** Called once by the sweep when `deadlineMs` has passed; the item has left the queue. */
  expire(): void;
  /** Called once when the node stops (shutdown or failure); the item has left the queue. */
  abort(error: ScribeError): void;
}

export class DeadlineQueue {
  private readonly heap: Deadline[] = [];

  constructor(private readonly now: () => number) {}

  /** Milliseconds on the injected clock. */
  nowMs(): number {
    return this.now();
  }

  get size(): number {
    return this.heap.length;
  }

  add(item: Deadline): void {
    item.slot = this.heap.length;
    this.heap.push(item);
    this.up(item.slot);
  }

  /** Removes a settled item; a no-op when it is not queued. */
  remove(item: Deadline): void {
    const slot = item.slot;
    if (slot < 0 || this.heap[slot] !== item) return;
    item.slot = -1;
    const last = this.heap.pop()!;
    if (slot === this.heap.length) return;
    this.heap[slot] = last;
    last.slot = slot;
    this.down(slot);
    this.up(last.slot);
  }

  /** Expires every item whose deadline has passed, earliest first. Returns how many. */
  sweep(): number {
    const now = this.now();
    let expired = 0;
    while (this.heap.length > 0 && this.heap[0]!.deadlineMs <= now) {
      const item = this.heap[0]!;
      this.remove(item);
      expired++;
      item.expire();
    }
    return expired;
  }

  /** Empties the queue, aborting every item with `error` (shutdown, fatal failure). */
  abortAll(error: ScribeError): void {
    const items = this.heap.splice(0);
    for (const item of items) item.slot = -1;
    for (const item of items) item.abort(error);
  }

  private up(slot: number): void {
    const heap = this.heap;
    const item = heap[slot]!;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      if (heap[parent]!.deadlineMs <= item.deadlineMs) break;
      heap[slot] = heap[parent]!;
      heap[slot]!.slot = slot;
      slot = parent;
    }
    heap[slot] = item;
    item.slot = slot;
  }

  private down(slot: number): void {
    const heap = this.heap;
    const item = heap[slot]!;
    const n = heap.length;
    for (;;) {
      const left = 2 * slot + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && heap[right]!.deadlineMs < heap[left]!.deadlineMs ? right : left;
      if (heap[child]!.deadlineMs >= item.deadlineMs) break;
      heap[slot] = heap[child]!;
      heap[slot]!.slot = slot;
      slot = child;
    }
    heap[slot] = item;
    item.slot = slot;
  }
}
