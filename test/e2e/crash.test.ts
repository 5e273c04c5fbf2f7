/**
 * Crash safety: a node under concurrent writes is killed with SIGKILL and restarted; every write
 * it acknowledged is readable with the same index and version, and the index sequence has no gap.
 */
import { expect, test } from "bun:test";
import { spawnNode, tempDir } from "../support/node-process.ts";

interface Ack {
  key: string;
  value: string;
  index: number;
  version: number;
}

test("acknowledged writes survive kill -9", async () => {
  const dir = tempDir();
  let node = await spawnNode({ dataDir: dir.path });
  const acks: Ack[] = [];
  let stop = false;
  const clients = 32;
  const writer = async (client: number) => {
    for (let seq = 0; !stop; seq++) {
      // Every client also rewrites one shared key, so versions interleave across clients.
      const key = seq % 4 === 0 ? "shared" : `c${client}/k${seq}`;
      const value = `client ${client} seq ${seq}`;
      try {
        const response = await fetch(`${node.url}/kv/${key}`, { method: "PUT", body: value });
        if (response.status !== 200) continue;
        const receipt = (await response.json()) as { index: number; version: number };
        acks.push({ key, value, index: receipt.index, version: receipt.version });
      } catch {
        return; // the connection died with the process
      }
    }
  };
  const running = Array.from({ length: clients }, (_, c) => writer(c));
  while (acks.length < 2000) await Bun.sleep(20);
  await node.kill("SIGKILL");
  stop = true;
  await Promise.all(running);
  expect(acks.length).toBeGreaterThanOrEqual(2000);

  node = await spawnNode({ dataDir: dir.path });
  try {
    const size = ((await (await fetch(`${node.url}/health`)).json()) as { ledger_size: number }).ledger_size;
    const entries: { index: number; key: string; version: number; value_hash: string }[] = [];
    for (let from = 0; from < size; from += 10_000) {
      const page = (await (await fetch(`${node.url}/entries?from=${from}&limit=10000`)).json()) as { entries: typeof entries };
      entries.push(...page.entries);
    }
    // No gap: entries 0..size-1, each exactly once, in order.
    expect(entries.length).toBe(size);
    entries.forEach((e, i) => expect(e.index).toBe(i));
    // Every acknowledged write is there, at its index, with its version and value.
    for (const ack of acks) {
      const entry = entries[ack.index]!;
      expect(entry).toBeDefined();
      expect(entry.key).toBe(ack.key);
      expect(entry.version).toBe(ack.version);
      expect(entry.value_hash).toBe(new Bun.CryptoHasher("sha256").update(ack.value).digest("hex"));
    }
    const sample = acks.filter((a) => a.key !== "shared").slice(-50);
    for (const ack of sample) {
      const response = await fetch(`${node.url}/kv/${ack.key}`);
      expect(await response.text()).toBe(ack.value);
      expect(response.headers.get("x-scribe-index")).toBe(String(ack.index));
    }
  } finally {
    await node.kill("SIGKILL");
    dir.remove();
  }
});
