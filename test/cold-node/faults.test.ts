/**
 * S3 failing in other ways than being down: 500s and requests that never answer (timeouts). A TCP
 * proxy in front of s3rver forwards bytes untouched (so request signatures stay valid), answers
 * 500, or swallows requests. Writes keep being accepted, nothing unarchived is evicted, errors and
 * retries are counted, and archival catches up once S3 answers again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import { bytesEqual } from "../../src/lib/index.ts";
import { tempDir } from "../support/node-process.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { coldOverrides, makeValues, openNode } from "./support.ts";

type Mode = "forward" | "error500" | "hang";

interface Connection {
  upstream?: Socket<undefined>;
  /** Bytes received before the upstream connection was open. */
  pending: Uint8Array[];
  mode: Mode;
}

/**
 * A loopback TCP proxy to `port`; `mode` applies to connections opened after it is set. Writes are
 * small here (4 KiB segments), so partial socket writes are not handled.
 */
function faultProxy(port: number) {
  let mode: Mode = "forward";
  const open = new Set<Socket<Connection>>();
  const body = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>injected fault</Message></Error>";
  const error500 = `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/xml\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
  const server = Bun.listen<Connection>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { pending: [], mode };
        open.add(client);
        if (mode !== "forward") return;
        void Bun.connect<undefined>({
          hostname: "127.0.0.1",
          port,
          socket: {
            data: (_upstream, chunk) => void client.write(chunk),
            close: () => {
              client.end();
            },
            error: () => {
              client.end();
            },
          },
        }).then((upstream) => {
          client.data.upstream = upstream;
          for (const chunk of client.data.pending) upstream.write(chunk);
          client.data.pending = [];
        }, () => {
          client.end();
        });
      },
      data(client, chunk) {
        if (client.data.mode === "error500") {
          client.write(error500);
          client.end();
        } else if (client.data.mode === "forward") {
          if (client.data.upstream) client.data.upstream.write(chunk);
          else client.data.pending.push(new Uint8Array(chunk));
        }
        // hang: read and never answer
      },
      close(client) {
        open.delete(client);
        client.data.upstream?.end();
      },
    },
  });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    set(next: Mode) {
      mode = next;
      for (const socket of open) socket.end(); // keep-alive connections must not outlive a mode
    },
    stop: () => server.stop(true),
  };
}

let s3: S3ServerHandle;
let proxy: ReturnType<typeof faultProxy>;
const dir = tempDir("scribe-cold-faults-");
beforeAll(async () => {
  s3 = await startS3Server();
  proxy = faultProxy(s3.port);
});
afterAll(async () => {
  proxy.stop();
  await s3.stop();
  dir.remove();
});

test("S3 answering 500s, then not answering at all: writes go on, nothing is evicted, errors and retries counted; then catch-up", async () => {
  const overrides = { ...coldOverrides(s3, "faults", { "storage.max_cache_size": 0, "storage.s3.timeout_secs": 1 }), "storage.s3.endpoint": proxy.endpoint };
  const n = await openNode(dir.path, overrides);
  const values = makeValues(120, 21);
  const put = async (from: number, to: number) => {
    for (let i = from; i < to; i++) expect((await n.call("PUT", `/kv/f${i}`, { body: values[i] as Uint8Array<ArrayBuffer> })).status).toBe(200);
  };
  await put(0, 40);
  await n.node.cold!.runOnce();
  let cold = await n.cold();
  expect(cold.evicted_index).toBe(40);

  proxy.set("error500");
  await put(40, 80);
  await n.node.cold!.runOnce();
  cold = await n.cold();
  expect(cold.errors).toBe(1);
  expect(cold.retries).toBeGreaterThan(0);
  expect(cold.archived_index).toBe(40);
  expect(cold.evicted_index).toBe(40);

  proxy.set("hang");
  await put(80, 120);
  const started = Date.now();
  await n.node.cold!.runOnce();
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // at least one request timed out
  cold = await n.cold();
  expect(cold.errors).toBe(2);
  expect(cold.evicted_index).toBe(40);
  for (let i = 40; i < 120; i++) expect(n.node.ledger.store.value(i)).toBeDefined();

  proxy.set("forward");
  await n.node.cold!.runOnce();
  cold = await n.cold();
  expect(cold.archived_index).toBe(120);
  expect(cold.evicted_index).toBe(120);
  for (let i = 0; i < 120; i++) {
    const response = await n.call("GET", `/kv/f${i}`);
    expect(bytesEqual(new Uint8Array(await response.arrayBuffer()), values[i]!)).toBe(true);
  }
  await n.node.close();
}, 60_000);
