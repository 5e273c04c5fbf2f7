import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnNode, tempDir, type NodeProcess } from "../support/node-process.ts";

describe("a real scribe-node process", () => {
  const dir = tempDir();
  let node: NodeProcess;
  beforeAll(async () => {
    node = await spawnNode({ dataDir: dir.path });
  });
  afterAll(async () => {
    await node.kill("SIGKILL");
    dir.remove();
  });

  test("the README example works through curl", async () => {
    const put = Bun.spawnSync(["curl", "-s", "-X", "PUT", `${node.url}/hello`, "-d", "Hello, Hyra!"]);
    expect(JSON.parse(put.stdout.toString())).toMatchObject({ key: "hello", index: 0, version: 1 });
    const get = Bun.spawnSync(["curl", "-s", `${node.url}/hello`]);
    expect(get.stdout.toString()).toBe("Hello, Hyra!");
  });

  test("binary values round-trip over a real socket", async () => {
    const value = crypto.getRandomValues(new Uint8Array(100_000));
    expect((await fetch(`${node.url}/kv/blob`, { method: "PUT", body: value })).status).toBe(200);
    const back = new Uint8Array(await (await fetch(`${node.url}/kv/blob`)).arrayBuffer());
    expect(back).toEqual(value);
  });

  test("an oversize value is refused with 413 before the body is stored", async () => {
    const before = ((await (await fetch(`${node.url}/health`)).json()) as { ledger_size: number }).ledger_size;
    const response = await fetch(`${node.url}/kv/huge`, { method: "PUT", body: new Uint8Array(4 * 1024 * 1024 + 1) });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { code: string }).code).toBe("value_too_large");
    const after = ((await (await fetch(`${node.url}/health`)).json()) as { ledger_size: number }).ledger_size;
    expect(after).toBe(before);
  });

  test("SIGTERM shuts down cleanly and the data survives a restart", async () => {
    const writes = Array.from({ length: 50 }, (_, i) => fetch(`${node.url}/kv/t/${i}`, { method: "PUT", body: `v${i}` }));
    const statuses = (await Promise.all(writes)).map((r) => r.status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await node.kill("SIGTERM")).toBe(0);
    expect(node.output()).toContain("database closed");
    node = await spawnNode({ dataDir: dir.path });
    expect(await (await fetch(`${node.url}/kv/t/49`)).text()).toBe("v49");
    expect(await (await fetch(`${node.url}/hello`)).text()).toBe("Hello, Hyra!");
  });

  test("a bad configuration stops the start with a message naming the key", async () => {
    const proc = Bun.spawnSync(["bun", "src/main.ts", "--data-dir", dir.path], {
      cwd: `${import.meta.dir}/../..`,
      env: { PATH: process.env.PATH ?? "", SCRIBE_STORAGE_SEGMENT_SIZE: "big" },
    });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toContain("storage.segment_size");
  });

  test("a storage failure under a running node stops it with exit status 70, after refusing the write", async () => {
    const other = tempDir();
    const failing = await spawnNode({ dataDir: other.path });
    try {
      expect((await fetch(`${failing.url}/kv/before`, { method: "PUT", body: "x" })).status).toBe(200);
      // Another process breaks the database under the node: the Raft state table (written by every persist step) is gone.
      const db = new Database(`${other.path}/scribe.db`);
      db.exec("DROP TABLE raft_state");
      db.close();
      const answer = await fetch(`${failing.url}/kv/after`, { method: "PUT", body: "y" }).then(
        (response) => response.status,
        () => 0, // the process may exit before the refusal reaches the socket
      );
      expect(answer).not.toBe(200);
      expect(await failing.proc.exited).toBe(70);
      expect(failing.output()).toContain("the Raft driver failed");
    } finally {
      await failing.kill("SIGKILL");
      other.remove();
    }
  });
});
