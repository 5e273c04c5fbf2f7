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
