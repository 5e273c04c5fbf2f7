import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numbered, rawConnect, sequenceOf, startNode, waitFor, type TestNode } from "./helpers.ts";

interface KeyPair {
  cert: string;
  key: string;
}

let directory = "";
let cluster: KeyPair;
let stranger: KeyPair;

/** A self-signed certificate for 127.0.0.1 / localhost, made with openssl. */
function selfSigned(name: string): KeyPair {
  const keyPath = join(directory, `${name}.key`);
  const certPath = join(directory, `${name}.crt`);
  const result = Bun.spawnSync([
    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", `/CN=${name}`,
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  if (result.exitCode !== 0) throw new Error(`openssl failed: ${result.stderr.toString()}`);
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
}

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), "scribe-transport-tls-"));
  cluster = selfSigned("scribe-cluster");
  stranger = selfSigned("stranger");
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const nodes: TestNode[] = [];
async function node(id: number, overrides: Parameters<typeof startNode>[1] = {}): Promise<TestNode> {
  const started = await startNode(id, overrides);
  nodes.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

describe("TLS", () => {
  test("round trip both ways over TLS with a self-signed cluster certificate", async () => {
    const tls = { ...cluster, ca: cluster.cert };
    const a = await node(1, { tls });
    const b = await node(2, { tls });
    a.transport.setPeer(2, b.address);
    b.transport.setPeer(1, a.address);
    for (let i = 0; i < 5_000; i++) {
      a.transport.send(2, numbered(1, i, 100));
      b.transport.send(1, numbered(2, i, 100));
    }
    await waitFor("5000 each way", () => a.received.length === 5_000 && b.received.length === 5_000);
    expect(b.received.map((r) => sequenceOf(r.payload))).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
    expect(a.received.every((r) => r.from === 2)).toBe(true);
  });

  test("mutual TLS (requestCert) also works", async () => {
    const tls = { ...cluster, ca: cluster.cert, requestCert: true };
    const a = await node(1, { tls });
    const b = await node(2, { tls });
    a.transport.setPeer(2, b.address);
    a.transport.send(2, numbered(1, 0));
    await waitFor("delivery", () => b.received.length === 1);
  });

  test("a dialer that does not trust the server certificate never connects", async () => {
    const b = await node(2, { tls: { ...cluster, ca: cluster.cert } });
    const a = await node(1, { tls: { ...stranger, ca: stranger.cert } });
    a.transport.setPeer(2, b.address);
    a.transport.send(2, numbered(1, 0));
    await waitFor("a few failed dials", () => a.transport.stats().peers[0]!.dials >= 2);
    expect(a.transport.stats().peers[0]).toMatchObject({ connected: false, connects: 0, sentMessages: 0 });
    expect(b.received).toEqual([]);
  });

  test("a plain TCP client talking to a TLS listener gets nowhere", async () => {
    const b = await node(2, { tls: { ...cluster, ca: cluster.cert } });
    const a = await node(1); // no TLS
    a.transport.setPeer(2, b.address);
    a.transport.send(2, numbered(1, 0));
    const client = await rawConnect(b.transport.port);
    client.write("not a TLS ClientHello");
    await waitFor("raw client closed", () => client.closed());
    await Bun.sleep(100);
    expect(a.transport.stats().peers[0]!.connected).toBe(false);
    expect(b.received).toEqual([]);
  });
});
