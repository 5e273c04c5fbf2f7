import { describe, expect, test } from "bun:test";
import { commandEntryData, decodeEntryData, kindCommand } from "../../src/cluster/entry-data.ts";
import { decodeCommand, encodeCommand, type Command } from "../../src/ledger/index.ts";
import { utf8 } from "../../src/lib/index.ts";

function put(key: string, value: string): Command["ops"][number] {
  const bytes = utf8(value);
  return { op: "put", key, value: bytes, valueHash: Bun.SHA256.hash(bytes) as Uint8Array, contentType: "text/plain" };
}

/** A command as a plain object (Uint8Arrays as arrays), for comparing what two paths produce. */
function plain(command: Command): unknown {
  return JSON.parse(JSON.stringify(command, (_, v) => (v instanceof Uint8Array ? [...v] : v)));
}

describe("a command's entry data", () => {
  const commands: Command[] = [
    { timestampMs: 1700000000123, ops: [put("k/é", "hello"), { op: "delete", key: "gone", ifMatch: 2 }] },
    { timestampMs: 42, ops: [put("a", "x"), put("b", "")], idempotency: { key: "retry-ß-1", windowSecs: 60, keysMax: 10 } },
    { timestampMs: 7, ops: [put("\ud800-lone", "v")] },
  ];

  test("is the kind byte, then the command's encoding", () => {
    for (const command of commands) {
      const data = commandEntryData(command);
      expect(data[0]).toBe(kindCommand);
      expect(data.subarray(1)).toEqual(encodeCommand(command));
    }
  });

  test("decodes to what its bytes decode to, on the node that encoded it and on any other", () => {
    for (const command of commands) {
      const data = commandEntryData(command);
      const here = decodeEntryData(data);
      const elsewhere = decodeEntryData(data.slice());
      expect(here.kind).toBe("command");
      const fromBytes = plain(decodeCommand(data.subarray(1)));
      expect(plain((here as { command: Command }).command)).toEqual(fromBytes);
      expect(plain((elsewhere as { command: Command }).command)).toEqual(fromBytes);
    }
  });
});
