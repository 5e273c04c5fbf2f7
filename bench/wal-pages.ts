/**
 * @module bench/wal-pages. Which database pages one commit writes, by table and index, for a
 * Scribe node and the minimal durable server under the same durable PUT load: each page of a
 * commit is a WAL frame written (and fsync'd) on the node's JavaScript thread, and the pages a
 * commit writes set the cost of its `pwrite`s, its `fsync` and the checkpoints (every 1,000 WAL
 * pages). While wrk loads a server, its `-wal` file is copied every 100 ms and the commits of
 * each copy are read (bench/lib/wal-frames.ts; the WAL restarts after each checkpoint, so this
 * sees a sample of the commits); the pages are then named with SQLite's `dbstat` on a copy of
 * the database. A page freed and reused by another table meanwhile is named by its last owner.
 *
 *   bun bench/wal-pages.ts [--seconds 6] [--out DIR]
 */

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Database } from "bun:sqlite";
import { pagesPerCommit, parseWal, type WalCommit } from "./lib/wal-frames.ts";
import { tempDir } from "./lib/proc.ts";
import { startNode } from "./lib/scribe.ts";
import { startBaseline } from "./lib/servers.ts";
import { haveWrk, putScript, runWrk } from "./lib/wrk.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { seconds: { type: "string", default: "6" }, out: { type: "string" } } });
if (!haveWrk()) {
  console.error("bench/wal-pages needs wrk (apt-get install -y wrk); not run");
  process.exit(2);
}
const seconds = Number(values.seconds);

/** Commits seen in copies of `wal` taken every 100 ms while `load` runs, each once. */
async function sampleCommits(wal: string, load: Promise<unknown>): Promise<WalCommit[]> {
  const seen = new Map<string, WalCommit>();
  let done = false;
  const finished = () => (done = true);
  load.then(finished, finished);
  while (!done) {
    await Bun.sleep(100);
    try {
      for (const commit of parseWal(readFileSync(wal)).commits) seen.set(commit.key, commit);
    } catch {
      // The WAL may not exist yet, or be restarting: the next copy will do.
    }
  }
  await load;
  return [...seen.values()];
}

/** Page number → "table:kind" from dbstat, on a copy of the database and its WAL. */
function pageOwners(db: string, scratch: string): (page: number) => string {
  const copy = join(scratch, "copy.db");
  copyFileSync(db, copy);
  copyFileSync(`${db}-wal`, `${copy}-wal`);
  const owners = new Map<number, string>();
  const database = new Database(copy, { readonly: true });
  try {
    for (const row of database.query<{ name: string; pageno: number; pagetype: string }, []>("SELECT name, pageno, pagetype FROM dbstat").all()) {
      owners.set(row.pageno, row.pageno === 1 ? "page 1 (file header, sqlite_schema)" : `${row.name} (${row.pagetype})`);
    }
  } finally {
    database.close();
  }
  return (page) => owners.get(page) ?? "free or new page";
}

async function measure(name: string, url: string, db: string): Promise<string[]> {
  const scratch = tempDir();
  try {
    const load = runWrk({ url, script: putScript(100, `${name.replaceAll(" ", "-")}/`), connections: 64, seconds });
    const commits = await sampleCommits(`${db}-wal`, load);
    const wrk = await load;
    const rows = pagesPerCommit(commits, pageOwners(db, scratch.path));
    const total = rows.reduce((n, r) => n + r.perCommit, 0);
    return [
      `## ${name}: ${wrk.okPerSec.toFixed(0)} puts/s; ${commits.length} commits sampled, ${total.toFixed(1)} pages written per commit`,
      "",
      "| pages of | per commit |",
      "|---|---|",
      ...rows.map((r) => `| ${r.owner} | ${r.perCommit.toFixed(2)} |`),
      "",
    ];
  } finally {
    scratch.remove();
  }
}

const scribeDir = tempDir();
const baselineDir = tempDir();
const node = await startNode({ dataDir: scribeDir.path });
const baseline = await startBaseline("durable-server.ts", ["--dir", baselineDir.path]);
try {
  const report = [
    `# WAL pages per commit, durable PUT of 100 B, 64 connections, ${seconds} s each`,
    "",
    ...(await measure("Scribe", node.url, join(scribeDir.path, "scribe.db"))),
    ...(await measure("minimal durable server", baseline.url, join(baselineDir.path, "durable-baseline.db"))),
  ].join("\n");
  console.log(report);
  const outDir = values.out ?? tempDir("scribe-wal-pages-").path;
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, "wal-pages.md");
  writeFileSync(file, `${report}\n`);
  console.log(`written to ${file}`);
} finally {
  await node.stop("SIGKILL");
  await baseline.stop();
  scribeDir.remove();
  baselineDir.remove();
}
