/**
 * The parsers behind two analysis tools of docs/PERFORMANCE.md section 12: bench/native-split.ts
 * (perf samples of a thread by kind of code) and bench/wal-pages.ts (the pages each commit of a
 * real SQLite WAL wrote).
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePerfScript, sampleKind, splitPerOp } from "../../bench/lib/native-split.ts";
import { pagesPerCommit, parseWal } from "../../bench/lib/wal-frames.ts";

describe("perf samples by kind of code", () => {
  const script = [
    "4242     500000 ",
    "\t    7ff70ee04e1f [unknown] (/tmp/perf-4242.map)",
    "\t         1a45651 [unknown] (/usr/lib/node_modules/bun/bin/bun.exe)",
    "",
    "4242     500000 ",
    "\t         373dcd1 [unknown] (/usr/lib/node_modules/bun/bin/bun.exe)",
    "\t           2724a __libc_start_call_main (/usr/lib/x86_64-linux-gnu/libc.so.6)",
    "",
    "4242    1000000 ",
    "\tffffffff9a2b3c4d tcp_sendmsg_locked ([kernel.kallsyms])",
    "\tffffffff9a2b3000 __x64_sys_sendto ([kernel.kallsyms])",
    "\tffffffff9a2b2000 do_syscall_64 ([kernel.kallsyms])",
    "\t         1b0c305 [unknown] (/usr/lib/node_modules/bun/bin/bun.exe)",
    "",
    "4242     250000 ",
    "\t    7ffd1234 __vdso_clock_gettime ([vdso])",
    "",
    "4242     250000 ",
    "\tffffffff9a000000 _raw_spin_unlock_irqrestore ([kernel.kallsyms])",
    "",
  ].join("\n");

  test("each sample is charged to the code it was taken in, its CPU time spread over the operations", () => {
    const samples = parsePerfScript(script);
    expect(samples.map((s) => s.periodNs)).toEqual([500000, 500000, 1000000, 250000, 250000]);
    expect(samples.map(sampleKind)).toEqual([
      "JavaScript (JIT-compiled code)",
      "Bun native code (runtime, interpreter, HTTP, SQLite)",
      "kernel: sendto",
      "vDSO (clock reads)",
      "kernel: no system call (interrupts, scheduling, page faults)",
    ]);
    // 2.5 ms of samples over 100 operations: 25 µs per operation.
    const split = splitPerOp(samples, 100);
    expect(split[0]).toEqual({ kind: "kernel: sendto", usPerOp: 10 });
    expect(split.reduce((n, row) => n + row.usPerOp, 0)).toBeCloseTo(25, 9);
  });

  test("text that is not perf script output is refused, not miscounted", () => {
    expect(() => parsePerfScript("4242 500000\n\tnot a frame line\n")).toThrow("not a perf script frame");
    expect(() => parsePerfScript("4242 lots\n")).toThrow("not a perf script sample header");
  });
});

describe("commits of an SQLite WAL", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** A WAL-mode database with tables a and b, never checkpointed; `before`: the commits that made it. */
  function walDatabase(): { db: Database; path: string; before: number } {
    dir = mkdtempSync(join(tmpdir(), "scribe-wal-test-"));
    const path = join(dir, "t.db");
    const db = new Database(path, { create: true });
    db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;");
    db.exec("CREATE TABLE a (id INTEGER PRIMARY KEY, v BLOB); CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB);");
    return { db, path, before: parseWal(readFileSync(`${path}-wal`)).commits.length };
  }

  test("each transaction's pages are found and named by the table that owns them", () => {
    const { db, path, before } = walDatabase();
    const insertA = db.prepare("INSERT INTO a (v) VALUES (?)");
    const insertB = db.prepare("INSERT INTO b (v) VALUES (?)");
    db.transaction(() => insertA.run(new Uint8Array(100)))();
    db.transaction(() => insertB.run(new Uint8Array(100)))();
    db.transaction(() => {
      insertA.run(new Uint8Array(100));
      insertB.run(new Uint8Array(100));
    })();
    const wal = parseWal(readFileSync(`${path}-wal`));
    expect(wal.pageSize).toBe(4096);
    // The CREATE TABLE statements, then the three transactions.
    expect(before).toBeGreaterThan(0);
    expect(wal.commits.length).toBe(before + 3);
    const owners = new Map<number, string>();
    for (const row of db.query<{ name: string; pageno: number }, []>("SELECT name, pageno FROM dbstat").all()) owners.set(row.pageno, row.name);
    const [onlyA, onlyB, both] = wal.commits.slice(before).map((c) => c.pages.map((p) => owners.get(p)).filter((n) => n === "a" || n === "b"));
    expect(onlyA).toEqual(["a"]);
    expect(onlyB).toEqual(["b"]);
    expect(both!.sort()).toEqual(["a", "b"]);
    expect(pagesPerCommit(wal.commits.slice(before), (p) => owners.get(p) ?? "other").find((r) => r.owner === "a")!.perCommit).toBeCloseTo(2 / 3, 9);
    db.close();
  });

  test("a copy cut inside a transaction, or frames of an older WAL generation, count no commit", () => {
    const { db, path, before } = walDatabase();
    const insertA = db.prepare("INSERT INTO a (v) VALUES (?)");
    for (let i = 0; i < 3; i++) db.transaction(() => insertA.run(new Uint8Array(5000)))();
    const bytes = readFileSync(`${path}-wal`);
    const all = parseWal(bytes).commits;
    expect(all.length).toBe(before + 3);
    // Cut in the middle of the last transaction's frames (a 5,000-byte value spans two pages): it has no commit frame in the copy.
    const lastStart = Number(all.at(-1)!.key.split(":")[2]);
    expect(all.at(-1)!.pages.length).toBeGreaterThan(1);
    expect(parseWal(bytes.subarray(0, lastStart + 24 + 4096 + 10)).commits.length).toBe(before + 2);
    // A frame whose salts are not the header's ends the valid part of the file.
    const stale = Uint8Array.from(bytes);
    new DataView(stale.buffer).setUint32(lastStart + 8, 12345);
    expect(parseWal(stale).commits.length).toBe(before + 2);
    expect(() => parseWal(new Uint8Array(64))).toThrow("not an SQLite WAL file");
    db.close();
  });
});
