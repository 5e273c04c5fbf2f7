/**
 * @module tile-lane. Publishes the bucket's tiles growth after growth, one growth at a time, in
 * order, beside the segments being sealed (archiver.ts): the tiles of segment N are written while
 * segment N+1's pending marker, object and manifest are, so the store always has work.
 *
 * The lane holds no durable state: what the tiles cover is recorded by the archiver's manifest
 * (`tiles_size`), from `doneTo`, and a crash leaves `tiles_size` behind `next_index`, which the
 * next run's catch-up repairs (tiles are write-once and deterministic). After a failure no later
 * growth starts (it would leave a gap); `settled()` then rejects with the first failure.
 */

import { assert } from "../../lib/index.ts";

/** Writes the tiles of the growth from `from` to `to`; `known` is passed through. */
export type PublishGrowth<K> = (from: number, to: number, known: K | undefined) => Promise<void>;

export class TileLane<K> {
  private tail: Promise<void> = Promise.resolve();
  /** The growths queued and not yet awaited by `behindAtMost`, oldest first. */
  private readonly growths: Promise<void>[] = [];
  private queuedTo: number;
  private failure: { error: unknown } | undefined;
  /** Tiles are in the bucket for every size up to this one (each growth up to it finished). */
  doneTo: number;

  /** `size`: what the bucket's tiles cover already. */
  constructor(
    private readonly publish: PublishGrowth<K>,
    size: number,
  ) {
    this.queuedTo = size;
    this.doneTo = size;
  }

  /** Queues the growth from the last queued size to `to` (`behindAtMost` and `settled` wait for it). */
  enqueue(to: number, known?: K): void {
    assert(to >= this.queuedTo, `tile lane: growth to ${to} is behind ${this.queuedTo}`);
    const from = this.queuedTo;
    this.queuedTo = to;
    this.tail = this.tail.then(async () => {
      if (this.failure || to === from) return;
      try {
        await this.publish(from, to, known);
        this.doneTo = to;
      } catch (error) {
        this.failure = { error };
      }
    });
    this.growths.push(this.tail);
  }

  /** Waits until at most `count` queued growths have not finished, then throws the first failure. */
  async behindAtMost(count: number): Promise<void> {
    while (this.growths.length > count) await this.growths.shift();
    this.throwIfFailed();
  }

  /** Throws the first failure, if any growth has failed. */
  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Waits until every queued growth has run (or was skipped after a failure), then throws the first failure. */
  async settled(): Promise<void> {
    await this.tail;
    this.throwIfFailed();
  }
}
