/**
 * @module test cluster: loop-network. Delivers the messages that ReadyLoops over in-memory Raft
 * cores send each other, for the tests that drive real loops without a transport.
 */

import type { Message } from "../../src/raft/index.ts";

/** What delivery needs of a node: its loop to run, its sent messages, its core to step. */
export interface LoopNode {
  loop: { cycle(): unknown };
  outbox: Message[];
  core: { step(message: Message): unknown };
}

/** Most rounds of cycling and delivering: a few suffice to settle; a bound keeps a livelock finite. */
const deliveryRoundsMax = 20;

/** Runs every loop and hands each sent message to its recipient, until no message is left. */
export function deliver(nodes: Map<number, LoopNode>): void {
  for (let round = 0; round < deliveryRoundsMax; round++) {
    for (const node of nodes.values()) node.loop.cycle();
    const messages = [...nodes.values()].flatMap((n) => n.outbox.splice(0));
    if (messages.length === 0) return;
    for (const m of messages) nodes.get(m.to)!.core.step(m);
  }
}
