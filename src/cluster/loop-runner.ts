/**
 * @module loop-runner. When the node's Ready loop (ready-loop.ts) runs: one cycle on setImmediate
 * after any tick, message or request (several in one turn of the event loop make one cycle), again
 * while it has work, and across turns while a catch-up or a background flush (the persist step
 * of a Ready the store flushes off the thread) keeps a cycle running; and the tick timer
 * (`consensus.tick_interval_ms`) that drives the core's clock and the deadline sweep.
 */

import type { ReadyLoop } from "./ready-loop.ts";

export class LoopRunner {
  private scheduled = false;
  /** The cycle in progress while a catch-up keeps it running across turns of the event loop. */
  private cycling: Promise<void> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly loop: Pick<ReadyLoop<unknown>, "cycle" | "hasWork" | "running" | "stopped">) {}

  /** Runs a cycle soon (once per turn of the event loop), unless the loop stopped. */
  schedule(): void {
    if (this.scheduled || this.loop.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private run(): void {
    const pending = this.loop.cycle();
    if (pending) {
      this.cycling = pending.then(() => {
        this.cycling = undefined;
        if (this.loop.hasWork()) this.schedule();
      });
    } else if (!this.loop.running && this.loop.hasWork()) {
      this.schedule();
    }
  }

  /** Every `intervalMs`: `tick`, then a cycle. */
  startTicking(intervalMs: number, tick: () => void): void {
    this.ticker = setInterval(() => {
      tick();
      this.schedule();
    }, intervalMs);
  }

  stopTicking(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Settles once the cycle in progress (if any) is done, whatever its outcome. */
  async settled(): Promise<void> {
    await this.cycling?.catch(() => undefined);
  }
}
