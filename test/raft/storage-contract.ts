/**
 * The shared contract of RaftStorage implementations. Any implementation (MemoryStorage here,
 * the SQLite log store in src/storage) runs it:
 *
 *   storageContract("sqlite", (membership) => new SqliteRaftStorage(...));
 *
 * `makeStorage` returns a fresh, empty storage with the given bootstrap membership, plus the
 * write operations the contract needs (the interface the core reads is read-only).
 */
import { describe, expect, test } from "bun:test";
import {
  CompactedError,
  UnavailableError,
  type Entry,
  type HardState,
  type Membership,
  type RaftStorage,
} from "../../src/raft/index.ts";

export interface WritableStorage extends RaftStorage {
  append(entries: readonly Entry[]): void;
  setHardState(state: HardState): void;
  setMembership(membership: Membership): void;
  compact(index: number): void;
  applyCatchup(index: number, term: number, membership: Membership): void;
}

const entry = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  type: "normal",
  data: new TextEncoder().encode(text),
});
const range = (lo: number, hi: number, term: number) => Array.from({ length: hi - lo + 1 }, (_, i) => entry(lo + i, term));
const membership: Membership = { voters: [1, 2, 3], learners: [4], index: 0 };

export function storageContract(name: string, makeStorage: (membership: Membership) => WritableStorage | Promise<WritableStorage>): void {
  describe(`RaftStorage contract: ${name}`, () => {
    test("an empty log: firstIndex 1, lastIndex 0, term(0) = 0, initial state as bootstrapped", async () => {
      const s = await makeStorage(membership);
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(0);
      expect(s.term(0)).toBe(0);
      expect(s.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, membership });
      expect(() => s.term(1)).toThrow(UnavailableError);
      expect(s.entries(1, 1, 100)).toEqual([]);
    });

    test("append, then read back entries and terms exactly", async () => {
      const s = await makeStorage(membership);
      const written = [...range(1, 3, 1), ...range(4, 5, 2)];
      s.append(written);
      expect(s.lastIndex()).toBe(5);
      expect(s.entries(1, 6, Number.MAX_SAFE_INTEGER)).toEqual(written);
      expect(s.entries(2, 4, Number.MAX_SAFE_INTEGER)).toEqual(written.slice(1, 3));
      expect([1, 2, 3, 4, 5].map((i) => s.term(i))).toEqual([1, 1, 1, 2, 2]);
      expect(() => s.entries(1, 7, 100)).toThrow(UnavailableError);
      expect(() => s.term(6)).toThrow(UnavailableError);
    });

    test("entries() honours maxBytes but always returns at least one entry", async () => {
      const s = await makeStorage(membership);
      s.append(range(1, 10, 1));
      expect(s.entries(1, 11, 0).length).toBe(1);
      const some = s.entries(1, 11, 60);
      expect(some.length).toBeGreaterThanOrEqual(1);
      expect(some.length).toBeLessThan(10);
      expect(some.map((e) => e.index)).toEqual(Array.from({ length: some.length }, (_, i) => i + 1));
    });

    test("appending a conflicting suffix replaces everything after it", async () => {
      const s = await makeStorage(membership);
      s.append(range(1, 5, 1));
      s.append([entry(3, 2, "new3")]);
      expect(s.lastIndex()).toBe(3);
      expect(s.term(3)).toBe(2);
      expect(new TextDecoder().decode(s.entries(3, 4, 100)[0]!.data)).toBe("new3");
    });

    test("compact(i): entries up to i are gone, term(i) is still known, later entries stay", async () => {
      const s = await makeStorage(membership);
      s.append([...range(1, 4, 1), ...range(5, 8, 3)]);
      s.compact(5);
      expect(s.firstIndex()).toBe(6);
      expect(s.lastIndex()).toBe(8);
      expect(s.term(5)).toBe(3);
      expect(() => s.term(4)).toThrow(CompactedError);
      expect(() => s.entries(5, 7, 100)).toThrow(CompactedError);
      expect(s.entries(6, 9, 1000).map((e) => e.index)).toEqual([6, 7, 8]);
      s.compact(3); // compacting below the compacted point changes nothing
      expect(s.firstIndex()).toBe(6);
      s.append(range(9, 10, 3));
      expect(s.lastIndex()).toBe(10);
    });

    test("hard state and membership round-trip", async () => {
      const s = await makeStorage(membership);
      s.setHardState({ term: 7, vote: 2, commit: 5 });
      const next: Membership = { voters: [1, 2, 3, 5], learners: [], index: 9 };
      s.setMembership(next);
      expect(s.initialState()).toEqual({ hardState: { term: 7, vote: 2, commit: 5 }, membership: next });
    });

    test("applyCatchup replaces the whole log with the compacted point", async () => {
      const s = await makeStorage(membership);
      s.append(range(1, 6, 1));
      const m: Membership = { voters: [1, 2], learners: [], index: 12 };
      s.applyCatchup(20, 4, m);
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(20);
      expect(s.term(20)).toBe(4);
      expect(() => s.term(6)).toThrow(CompactedError);
      expect(s.initialState().membership).toEqual(m);
      s.append(range(21, 22, 5));
      expect(s.entries(21, 23, 1000).map((e) => e.term)).toEqual([5, 5]);
    });
  });
}
