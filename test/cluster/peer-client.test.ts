/**
 * A follower's forwarded write is a refusal only when it provably changed nothing
 * (src/cluster/peer-client.ts, forwarding.ts): the connection was refused before anything was
 * sent, or the leader answered a refusal itself. Otherwise — a reset after sending, a timeout, an
 * answer that cannot be read, an internal error, a code this node does not know — its outcome is
 * unknown (504 outcome_unknown). Real sockets on loopback stand in for the leader.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { Forwarder } from "../../src/cluster/forwarding.ts";
import { configurePeerClient, proposeRemote } from "../../src/cluster/peer-client.ts";
import { encodeForward, type Operation } from "../../src/ledger/index.ts";
import { ScribeError, utf8 } from "../../src/lib/index.ts";
import { freePort } from "../support/node-process.ts";

const stops: (() => void)[] = [];
// The peer client's settings are per process: other tests in the same run may have set HTTPS or a secret.
beforeEach(() => configurePeerClient({ clusterSecret: "", https: false }));
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

const op: Operation = { op: "put", key: "k", value: utf8("v"), valueHash: new Uint8Array(32), contentType: "text/plain" };

function serve(fetch: (request: Request) => Response | Promise<Response>): string {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
  stops.push(() => server.stop(true));
  return `127.0.0.1:${server.port}`;
}

/** Accepts, reads the request, and closes without answering. */
function resetting(): string {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket) => void socket.end() } });
  stops.push(() => listener.stop(true));
  return `127.0.0.1:${listener.port}`;
}

/** Accepts and never answers. */
function silent(): string {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: () => undefined } });
  stops.push(() => listener.stop(true));
  return `127.0.0.1:${listener.port}`;
}

async function codeOf(leaderClient: string, timeoutMs = 5000): Promise<string> {
  try {
    await proposeRemote({ leaderClient, envelope: encodeForward({ from: 2, to: 1, commands: [{ ops: [op] }] }), count: 1, timeoutMs });
    return "answered";
  } catch (error) {
    expect(error).toBeInstanceOf(ScribeError);
    return (error as ScribeError).code;
  }
}

test("refusals that changed nothing keep their codes; everything after sending without a readable refusal is outcome_unknown", async () => {
  expect(await codeOf(`127.0.0.1:${freePort()}`)).toBe("no_leader"); // refused connect: nothing sent
  expect(await codeOf(serve(() => Response.json({ error: "not me", code: "not_leader" }, { status: 503 })))).toBe("not_leader");
  expect(await codeOf(serve(() => Response.json({ error: "bad", code: "invalid_request" }, { status: 400 })))).toBe("invalid_request");
  expect(await codeOf(resetting())).toBe("outcome_unknown");
  expect(await codeOf(silent(), 300)).toBe("outcome_unknown");
  expect(await codeOf(serve(() => Response.json({ error: "boom", code: "internal" }, { status: 500 })))).toBe("outcome_unknown");
  expect(await codeOf(serve(() => new Response("<html>bad gateway</html>", { status: 502 })))).toBe("outcome_unknown");
  expect(await codeOf(serve(() => Response.json({ error: "?", code: "frobnicated" }, { status: 503 })))).toBe("outcome_unknown");
  expect(await codeOf(serve(() => Response.json({ outcomes: [] })))).toBe("outcome_unknown"); // outcomes for none of the commands
});

test("per-command outcomes: receipts, the leader's refusals as they are, an unknown code as outcome_unknown", async () => {
  const receipt = { key: "k", op: "put", index: 3, version: 1, leaf_hash: "0".repeat(64), tree_size: 4, timestamp_ms: 1 };
  const leader = serve(() =>
    Response.json({
      outcomes: [{ receipts: [receipt], replayed: true }, { error: "version 2", code: "precondition_failed" }, { error: "timed out", code: "outcome_unknown" }, { error: "?", code: "frobnicated" }],
    }),
  );
  const forwarder = new Forwarder({ nodeId: 2, leadership: { leaderClient: () => leader, leaderId: () => 1 }, groupBytesMax: 1 << 20, timeoutMs: 5000 });
  const results = await Promise.allSettled([0, 1, 2, 3].map(() => forwarder.forward({ ops: [op], idempotencyKey: "k-1" })));
  expect(results[0]).toEqual({ status: "fulfilled", value: { receipts: [receipt as never], replayed: true } });
  expect(results.slice(1).map((r) => (r.status === "rejected" ? (r.reason as ScribeError).code : "fulfilled"))).toEqual(["precondition_failed", "outcome_unknown", "outcome_unknown"]);
  expect(forwarder.counters.forwardedGroups).toBe(1);
});
