/**
 * @module forward-channel. A follower's forwarded groups (forwarding.ts) over the Raft transport
 * instead of an HTTP request to the leader's POST /cluster/propose: the envelope goes as a
 * payload of its own on the follower's authenticated connection to the leader, and the answer
 * comes back on the leader's connection to the follower (frames in src/ledger/forward.ts). It
 * saves the HTTP round per group: a connection, the request and response parsing, the request's
 * signature (docs/PERFORMANCE.md).
 *
 * The leader handles a group exactly as POST /cluster/propose (the handler given to `serve`
 * validates and audits it), and checks that the envelope names the peer it came from, which the
 * transport's handshake authenticated.
 *
 * What an answer claims is what the HTTP path claims (peer-client.ts): a group that was not queued
 * is sent over HTTP instead; once queued, a dropped connection, a timeout, an unreadable answer or
 * an internal error leave its outcome unknown; only the leader's own refusal is a refusal.
 *
 * A node of an earlier version drops these payloads (it logs a malformed Raft message), so a
 * follower sends groups this way only to a leader that answered on the transport since the
 * connection came up: the first group to a new connection goes over HTTP and a probe (an empty
 * envelope) goes beside it, at most one per `probeIntervalMs`. A leader answers probes only once
 * it serves groups (`serve`, when its HTTP app is built).
 */

import { decodeForwardFrame, encodeForwardFrame, forwardAnswerKind, forwardRequestKind, type ForwardedOutcome } from "../ledger/index.ts";
import { fromUtf8, isScribeError, ScribeError, utf8 } from "../lib/index.ts";
import type { Logger } from "./logger.ts";
import { groupOutcomes, groupRefusal, unknownOutcome } from "./peer-client.ts";

/** What the channel needs of the transport (raft-link.ts). */
export interface ForwardLink {
  /** The outbound connection to `peer` is authenticated and up. */
  connected(peer: number): boolean;
  /** Queues `payload` for `peer`; false when it was not queued (nothing of it will be sent). */
  sendPayload(peer: number, payload: Uint8Array): boolean;
}

/**
 * The leader's side: proposes the group in `envelope` from the authenticated peer `from` and
 * returns `{outcomes}`, or throws a refusal, as POST /cluster/propose (http/app.ts `forwarded`).
 */
export type ForwardHandler = (from: number, envelope: Uint8Array) => Promise<{ outcomes: unknown[] }>;

/**
 * How often a follower asks a leader that has not answered on the transport yet whether it takes
 * groups this way: an earlier version logs each probe as a malformed message, so rarely.
 */
const probeIntervalMs = 10_000;

/** Request ids are u32 and never 0 (a probe's id). */
const requestIdMax = 0xffff_ffff;

interface Pending {
  peer: number;
  count: number;
  resolve: (outcomes: ForwardedOutcome[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ForwardChannel {
  private link: ForwardLink | undefined;
  private handler: ForwardHandler | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Peers that answered on the transport since their connection last came up. */
  private readonly speaking = new Set<number>();
  private readonly probedAtMs = new Map<number, number>();
  readonly counters = { transportGroups: 0 };

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The transport is up (raft-link.ts). */
  attach(link: ForwardLink): void {
    this.link = link;
  }

  /** The leader's side: how groups that arrive are proposed (set once the HTTP app exists). */
  serve(handler: ForwardHandler): void {
    this.handler = handler;
  }

  /**
   * Sends a group of `count` commands to `peer` (the leader) and resolves with one outcome each.
   * Undefined when the transport cannot carry it now (no connection to the peer, a peer not yet
   * known to take groups this way, a full queue): nothing was sent, the caller uses HTTP.
   */
  propose(peer: number, envelope: Uint8Array, count: number, timeoutMs: number): Promise<ForwardedOutcome[]> | undefined {
    const link = this.link;
    if (!link?.connected(peer)) return undefined;
    if (!this.speaking.has(peer)) {
      this.probe(link, peer);
      return undefined;
    }
    const id = this.nextId;
    this.nextId = id === requestIdMax ? 1 : id + 1;
    if (!link.sendPayload(peer, encodeForwardFrame({ kind: forwardRequestKind, id, body: envelope }))) return undefined;
    this.counters.transportGroups++;
    return new Promise<ForwardedOutcome[]>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, unknownOutcome(`the leader did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, { peer, count, resolve, reject, timer });
    });
  }

  private probe(link: ForwardLink, peer: number): void {
    const at = this.probedAtMs.get(peer);
    if (at !== undefined && this.now() - at < probeIntervalMs) return;
    this.probedAtMs.set(peer, this.now());
    link.sendPayload(peer, encodeForwardFrame({ kind: forwardRequestKind, id: 0, body: new Uint8Array(0) }));
  }

  /** A transport payload from `from`: true when it was a forward frame (handled here), false for anything else. */
  received(from: number, payload: Uint8Array): boolean {
    let frame;
    try {
      frame = decodeForwardFrame(payload);
    } catch (error) {
      this.logger.warn({ from, err: error }, "dropping a malformed forward frame");
      return true;
    }
    if (!frame) return false;
    if (frame.kind === forwardRequestKind) void this.answer(from, frame.id, frame.body);
    else this.answered(from, frame.id, frame.body);
    return true;
  }

  /** The leader's side: proposes a group (or answers a probe) and sends the answer back. */
  private async answer(from: number, id: number, envelope: Uint8Array): Promise<void> {
    // Not serving yet (the HTTP app is built after the node opens): no answer to a probe, so the follower keeps using HTTP.
    if (envelope.length === 0 && !this.handler) return;
    let answer: unknown;
    try {
      if (envelope.length === 0) answer = { outcomes: [] };
      else if (!this.handler) throw new ScribeError("unavailable", "this node takes no forwarded writes yet");
      else answer = await this.handler(from, envelope);
    } catch (error) {
      if (!isScribeError(error)) this.logger.error({ err: error, from }, "internal error in a forwarded group");
      answer = isScribeError(error) ? { error: error.message, code: error.code } : { error: "internal error", code: "internal" };
    }
    const sent = this.link?.sendPayload(from, encodeForwardFrame({ kind: forwardAnswerKind, id, body: utf8(JSON.stringify(answer)) }));
    if (!sent) this.logger.warn({ peer: from }, "could not queue the answer to a forwarded group: its writes end with an unknown outcome on the follower");
  }

  private answered(from: number, id: number, body: Uint8Array): void {
    this.speaking.add(from);
    const pending = this.pending.get(id);
    if (!pending || pending.peer !== from) return;
    let answer: { outcomes?: unknown; error?: unknown; code?: unknown };
    try {
      answer = JSON.parse(fromUtf8(body)) as typeof answer;
    } catch {
      this.settle(id, unknownOutcome("the leader's answer could not be read"));
      return;
    }
    if (answer.outcomes === undefined) this.settle(id, groupRefusal(answer.code, typeof answer.error === "string" ? answer.error : "the leader refused the group"));
    else {
      try {
        this.settle(id, groupOutcomes(answer, pending.count));
      } catch (error) {
        this.settle(id, error as Error);
      }
    }
  }

  private settle(id: number, result: ForwardedOutcome[] | Error): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (result instanceof Error) pending.reject(result);
    else pending.resolve(result);
  }

  /** The connection to `peer` dropped: its groups in flight have unknown outcomes, and it is probed again before the next group. */
  peerLost(peer: number): void {
    this.speaking.delete(peer);
    this.probedAtMs.delete(peer);
    for (const [id, pending] of this.pending) {
      if (pending.peer === peer) this.settle(id, unknownOutcome(`the connection to node ${peer} dropped before its answer`));
    }
  }

  /** The node is closing: groups in flight have unknown outcomes. */
  close(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, unknownOutcome("the node shut down before the leader's answer"));
  }
}
