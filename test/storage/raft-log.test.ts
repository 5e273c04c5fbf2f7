import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { SqliteRaftStorage } from "../../src/storage/raft-log.ts";
import { storageContract } from "../raft/storage-contract.ts";
import { tempDir } from "../support/node-process.ts";

storageContract("SqliteRaftStorage", (membership) => new SqliteRaftStorage(new Database(":memory:"), membership));

test("the log, hard state, membership and compacted point survive reopening the file", () => {
  const dir = tempDir();
  try {
    const path = `${dir.path}/raft.db`;
    const bootstrap = { voters: [1], learners: [], index: 0 };
    let db = new Database(path);
    let log = new SqliteRaftStorage(db, bootstrap);
    expect(log.isEmpty()).toBe(true);
    log.append([1, 2, 3, 4].map((i) => ({ index: i, term: 1, type: "normal" as const, data: new Uint8Array([i]) })));
    log.setHardState({ term: 1, vote: 1, commit: 3 });
    log.setMembership({ voters: [1, 2], learners: [3], index: 2 });
    log.compact(2);
    db.close();
    db = new Database(path);
    log = new SqliteRaftStorage(db, bootstrap);
    expect(log.isEmpty()).toBe(false);
    expect(log.firstIndex()).toBe(3);
    expect(log.lastIndex()).toBe(4);
    expect(log.term(2)).toBe(1);
    expect(log.entries(3, 5, 1 << 20).map((e) => e.data[0])).toEqual([3, 4]);
    expect(log.initialState()).toEqual({ hardState: { term: 1, vote: 1, commit: 3 }, membership: { voters: [1, 2], learners: [3], index: 2 } });
    db.close();
  } finally {
    dir.remove();
  }
});

test("applied points map Raft indexes to ledger sizes; compaction prunes those below it", () => {
  const log = new SqliteRaftStorage(new Database(":memory:"), { voters: [1], learners: [], index: 0 });
  log.append([1, 2, 3, 4, 5, 6].map((i) => ({ index: i, term: 1, type: "normal" as const, data: new Uint8Array([i]) })));
  log.recordApplied(2, 10);
  log.recordApplied(5, 25);
  expect(log.appliedPoint()).toEqual({ raftIndex: 5, ledgerSize: 25 });
  expect(log.appliedPointAtOrBelow(4)).toBe(2);
  expect(log.appliedPointAtOrBelow(1)).toBeUndefined();
  expect(log.ledgerSizeAt(5)).toBe(25);
  log.compact(5);
  expect(log.ledgerSizeAt(2)).toBeUndefined();
  expect(log.ledgerSizeAt(5)).toBe(25);
});
