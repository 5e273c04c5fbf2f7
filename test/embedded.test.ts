import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { ScribeLedger, ScribeError } from "../src/index.ts";
import { tempDir } from "./support/node-process.ts";

test("the embedded library: open, put, get, delete, batch, history, close, reopen", async () => {
  const dir = tempDir();
  try {
    let ledger = await ScribeLedger.open(dir.path);
    const receipt = await ledger.put("user:alice", "Alice Smith");
    expect(receipt).toMatchObject({ key: "user:alice", index: 0, version: 1 });
    await ledger.put("bin", new Uint8Array([0, 1, 255]));
    await ledger.batch([
      { op: "put", key: "user:alice", value: "Alice Jones" },
      { op: "delete", key: "bin" },
    ]);
    expect((await ledger.get("user:alice"))?.text()).toBe("Alice Jones");
    expect((await ledger.get("user:alice", { version: 1 }))?.text()).toBe("Alice Smith");
    expect(await ledger.get("bin")).toBeUndefined();
    expect((await ledger.get("bin", { at: 1 }))?.bytes).toEqual(new Uint8Array([0, 1, 255]));
    expect(ledger.history("user:alice").map((e) => e.version)).toEqual([1, 2]);
    await expect(ledger.put("user:alice", "x", { ifMatch: 1 })).rejects.toThrow(ScribeError);
    await expect(ledger.put("", "x")).rejects.toThrow(/empty/);
    await ledger.close();

    ledger = await ScribeLedger.open(dir.path);
    expect(ledger.size).toBe(4);
    expect((await ledger.get("user:alice"))?.text()).toBe("Alice Jones");
    await ledger.close();
  } finally {
    dir.remove();
  }
});

test("a storage failure under the engine stops it with an error, never the process", async () => {
  const dir = tempDir();
  try {
    const failures: unknown[] = [];
    const ledger = await ScribeLedger.open(dir.path, { onFatal: (error) => failures.push(error) });
    await ledger.put("kept", "before the failure");
    // Another process breaks the database under the running engine: the Raft state table (written by every persist step) is gone.
    const db = new Database(`${dir.path}/scribe.db`);
    db.exec("DROP TABLE raft_state");
    db.close();
    const write = ledger.put("lost", "after the failure");
    // It was proposed when the failure hit: its outcome is unknown (504 outcome_unknown), and says why.
    await expect(write).rejects.toMatchObject({ code: "outcome_unknown", message: expect.stringMatching(/Raft driver failed \(no such table: raft_state\).*outcome is unknown/) });
    expect(failures).toHaveLength(1);
    // Later writes are refused the same way; what was applied can still be read.
    await expect(ledger.put("later", "x")).rejects.toMatchObject({ code: "unavailable" });
    expect((await ledger.get("kept"))?.text()).toBe("before the failure");
    expect(await ledger.get("lost")).toBeUndefined();
    await ledger.close();
    expect(failures).toHaveLength(1);
  } finally {
    dir.remove();
  }
});
