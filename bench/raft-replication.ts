/**
 * @module bench/raft-replication. The Raft core and its SQLite log alone, in one process: a leader and
 * two followers (RawNode over SqliteRaftStorage on temporary WAL files, synchronous=OFF), their
 * messages through encodeMessage/decodeMessage; each round the leader proposes `--batch` entries of
 * 120 bytes and every node persists, sends, applies and advances its Readies until quiet, as the
 * Ready loop does (no ledger, no sockets, no fsync). Prints the process's CPU per entry, for all
 * three cores together: the replication work of src/raft/ and src/storage/raft-log.ts.
 *
 *   bun bench/raft-replication.ts [--root DIR] [--batch 25] [--rounds 3000]
 *
 * --root: the source tree to load (default this repository), e.g. an older commit extracted with
 * `git archive REF | tar -x -C DIR`, to compare two trees in alternating runs.
 */

import { Database } from "bun:sqlite";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { repoRoot, tempDir } from "./lib/proc.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { root: { type: "string", default: repoRoot }, batch: { type: "string", default: "25" }, rounds: { type: "string", default: "3000" } } });
const root = values.root;
const batch = Number(values.batch);
const rounds = Number(values.rounds);
/** Rounds run before measuring (the JIT warms up, the log grows past its first pages). */
const warmupRounds = 300;
/** Deliveries per round at most: a round quiesces in a handful. */
const deliveriesPerRoundMax = 50;

const raft = (await import(join(root, "src/raft/index.ts"))) as typeof import("../src/raft/index.ts");
const { SqliteRaftStorage } = (await import(join(root, "src/storage/raft-log.ts"))) as typeof import("../src/storage/raft-log.ts");
const { SeededRandom } = (await import(join(root, "src/lib/index.ts"))) as typeof import("../src/lib/index.ts");

const dir = tempDir("scribe-raft-core-");
const membership = { voters: [1, 2, 3], learners: [], index: 0 };
const nodes = [1, 2, 3].map((id) => {
  const db = new Database(join(dir.path, `n${id}.db`));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF");
  const storage = new SqliteRaftStorage(db, membership);
  const core = new raft.RawNode({ id, storage, random: new SeededRandom(id), appliedIndex: 0 });
  return { id, db, storage, core, inbox: [] as Uint8Array[] };
});
const byId = new Map(nodes.map((n) => [n.id, n]));
let applied = 0;

/** Steps a node's inbox and handles its Readies (persist, send, apply, advance); true if it did anything. */
function drive(n: (typeof nodes)[number]): boolean {
  let did = false;
  for (const bytes of n.inbox.splice(0)) {
    n.core.step(raft.decodeMessage(bytes));
    did = true;
  }
  while (n.core.hasReady()) {
    did = true;
    const rd = n.core.ready();
    n.db.transaction(() => {
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      if (rd.committedEntries.length > 0) n.storage.recordApplied(rd.committedEntries.at(-1)!.index, 0);
    })();
    for (const m of rd.messages) byId.get(m.to)!.inbox.push(raft.encodeMessage(m));
    if (n.id === 1) applied += rd.committedEntries.length;
    n.core.advance(rd);
  }
  return did;
}

function quiesce(): void {
  for (let i = 0; i < deliveriesPerRoundMax; i++) {
    let any = false;
    for (const n of nodes) any = drive(n) || any;
    if (!any) return;
  }
}

function round(): void {
  const r = nodes[0]!.core.propose(Array.from({ length: batch }, () => crypto.getRandomValues(new Uint8Array(120))));
  if (!r.ok) throw new Error(`proposal refused: ${r.reason}`);
  quiesce();
}

try {
  nodes[0]!.core.campaign();
  quiesce();
  if (nodes[0]!.core.softState().role !== "leader") throw new Error("node 1 did not become leader");
  for (let i = 0; i < warmupRounds; i++) round();
  const start = process.cpuUsage();
  const appliedBefore = applied;
  for (let i = 0; i < rounds; i++) round();
  const used = process.cpuUsage(start);
  console.log(`${root}: ${((used.user + used.system) / (applied - appliedBefore)).toFixed(2)} µs CPU per entry (leader and two followers), ${batch} entries per proposal, ${rounds} rounds`);
} finally {
  for (const n of nodes) n.db.close();
  dir.remove();
}
