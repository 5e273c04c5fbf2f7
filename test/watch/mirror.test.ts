/**
 * `scribe mirror` as a real process following a real node: killed with SIGKILL while it imports
 * under live writes, it resumes from its own ledger's size (nothing re-imported, nothing
 * missing) and ends with every entry at its original index and timestamp, and a tree whose size
 * and root are the node's checkpoint's.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { ScribeLedger } from "../../src/embedded.ts";
import { toHex } from "../../src/lib/index.ts";
import { cliPath, fill, repoRoot, scribe } from "../cli/support.ts";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";

const dir = tempDir("scribe-mirror-node-");
const mirrorDir = tempDir("scribe-mirror-");
let node: NodeProcess;
let key = "";

beforeAll(async () => {
  node = await spawnNode({ dataDir: dir.path, env: { SCRIBE_LOGGING_LEVEL: "warn" } });
  key = (await (await fetch(`${node.url}/checkpoint/key`)).text()).trim();
});
afterAll(async () => {
  await node.kill("SIGKILL");
  dir.remove();
  mirrorDir.remove();
});

const ops = (count: number, tag: string) => Array.from({ length: count }, (_, i) => ({ op: "put", key: `${tag}/${i % 23}`, value: `${tag}-${i}-${"m".repeat(150)}` }));

interface Report {
  tree_size: number;
  root_hash: string;
  applied: number;
  equal: boolean;
  node_checkpoint: { tree_size: number; root_hash: string };
}

test("a mirror killed with SIGKILL mid-import resumes where it stopped and ends equal to the node", async () => {
  await fill(node.url, ops(2000, "before"));
  const mirror = Bun.spawn(["bun", cliPath, "mirror", "--server", node.url, "--key", key, "--to", mirrorDir.path, "-o", "json"], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reports: Report[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    const stdout = (mirror.stdout as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value: chunk } = await stdout.read();
      if (done) break;
      text += decoder.decode(chunk, { stream: true });
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) if (line !== "") reports.push(JSON.parse(line) as Report);
    }
  })();
  // Live writes while it follows; it is killed once it imported some of them.
  for (let batch = 0; batch < 20; batch++) {
    await fill(node.url, ops(250, `live${batch}`));
    if (batch === 8) {
      const deadline = Date.now() + 30_000;
      while (!reports.some((r) => r.tree_size > 2000) && Date.now() < deadline) await Bun.sleep(20);
      mirror.kill("SIGKILL");
    }
  }
  expect(await mirror.exited).not.toBe(0);
  await reading;
  const killedAt = Math.max(...reports.map((r) => r.tree_size));
  expect(killedAt).toBeGreaterThan(2000);
  await fill(node.url, ops(1000, "after"));
  const size = 2000 + 20 * 250 + 1000;
  expect(killedAt).toBeLessThan(size);

  const resumed = await scribe(["mirror", "--server", node.url, "--to", mirrorDir.path, "--once", "-o", "json"]);
  expect(resumed.exitCode, resumed.stderr).toBe(0);
  const again = resumed.stdoutText.trim().split("\n").map((line) => JSON.parse(line) as Report);
  // It started from its own size: what it had imported before the kill, nothing again.
  expect(again[0]!.tree_size - again[0]!.applied).toBeGreaterThanOrEqual(killedAt);
  const last = again.at(-1)!;
  expect(last).toMatchObject({ tree_size: size, equal: true, node_checkpoint: { tree_size: size, root_hash: last.root_hash } });

  const ledger = await ScribeLedger.open(mirrorDir.path);
  try {
    const nodeNote = await (await fetch(`${node.url}/checkpoint`)).text();
    const [, nodeSize, nodeRoot] = nodeNote.split("\n");
    const own = await ledger.checkpoint();
    expect([own.size, Buffer.from(own.rootHash).toString("base64")]).toEqual([Number(nodeSize), nodeRoot!]);
    for (let from = 0; from < size; from += 2500) {
      const page = (await (await fetch(`${node.url}/entries?from=${from}&limit=2500`)).json()) as { entries: Record<string, string | number>[] };
      const mine = ledger.entries(from, 2500);
      expect(mine.map((e): (string | number)[] => [e.index, e.key, e.timestampMs, toHex(e.valueHash), e.version])).toEqual(page.entries.map((e) => [e.index, e.key, e.timestamp_ms, e.value_hash, e.version]));
    }
    expect((await ledger.get("after/5"))?.text()).toBe(`after-994-${"m".repeat(150)}`);
  } finally {
    await ledger.close();
  }
  expect(await Bun.file(join(mirrorDir.path, "mirror-state.json")).exists()).toBe(true);
}, 120_000);
