/**
 * @module cluster/check. `scribe-node check DATA_DIR`: verifies a STOPPED node's files offline
 * (src/storage/check.ts does the checking) and names every bad index.
 *
 *  1. DATA_DIR must hold a database (`scribe.db`); otherwise exit 2.
 *  2. No process may have the database open: a running node is refused (exit 2), because its
 *     files change under the check and the check would read a moving target. Found through
 *     /proc/<pid>/fd, so it sees the processes the invoking user may inspect (run it as the
 *     node's user, or root).
 *  3. The checkpoint signature is checked with the node's own key: `--verifier-key KEY`, or the
 *     verifier derived from the signing key file (`--signing-key-file`, default
 *     DATA_DIR/checkpoint-signing.key). Without either, a warning says the signature was not checked.
 *  4. The report goes to stdout (text, or `--json`); warnings and `--progress` lines to stderr.
 *     Exit 0 when clean, 1 when anything is corrupt.
 */

import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatVerifierKey, type NoteVerifier } from "../merkle/index.ts";
import { parseSignerKey, parseVerifierKey } from "../crypto/index.ts";
import { checkDataFiles, checkKinds, CheckUsageError, problemsPerKindDefault, type CheckReport } from "../storage/index.ts";
import { defaultSigningKeyFile } from "./checkpoints.ts";
import { databaseFile } from "./file-permissions.ts";

export const checkUsage = `usage: scribe-node check DATA_DIR [--verifier-key KEY | --signing-key-file FILE] [--max-per-kind N] [--json] [--progress]
Verifies a STOPPED node's files offline, without writing them: every entry against its Merkle
leaf, the tree's nodes and root against the last signed checkpoint (and its signature), every
value in the hot tier against its entry's SHA-256, each key's version chain, and the Raft log's
structure. Names every bad index (the first N of each kind, with counts).
  --verifier-key KEY      the node's checkpoint verifier key (GET /checkpoint/key)
  --signing-key-file FILE the node's signing key (default DATA_DIR/checkpoint-signing.key; set it
                          when security.signing_key_file points elsewhere)
  --max-per-kind N        problems listed per kind (default ${problemsPerKindDefault}); all are counted
  --json                  print the report as JSON
  --progress              print progress to stderr
Exit status: 0 clean, 1 corruption found, 2 usage error (no database, a node running on it, bad key).`;

/** Progress lines at most this often: quiet enough for a terminal, often enough to see it move. */
const progressIntervalMs = 1000;

/** Processes (other than this one) that have any of `paths` open, from /proc/<pid>/fd. */
export function processesHolding(paths: readonly string[]): { pid: number; command: string }[] {
  const targets = new Set(paths.filter((p) => existsSync(p)).map((p) => realpathSync(p)));
  if (targets.size === 0 || !existsSync("/proc")) return [];
  const found: { pid: number; command: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    const holds = fds.some((fd) => {
      try {
        return targets.has(readlinkSync(`/proc/${name}/fd/${fd}`));
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    let command = "";
    try {
      command = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    } catch {
      // exited meanwhile
    }
    found.push({ pid: Number(name), command });
  }
  return found;
}

/** The verifier for the stored checkpoint: the given key, or the one of the node's signing key file. */
async function verifierFor(dataDir: string, verifierKey: string | undefined, signingKeyFile: string | undefined): Promise<NoteVerifier | undefined> {
  if (verifierKey !== undefined) {
    try {
      return await parseVerifierKey(verifierKey.trim());
    } catch (error) {
      throw new CheckUsageError(`bad --verifier-key: ${(error as Error).message}`);
    }
  }
  const file = signingKeyFile ?? defaultSigningKeyFile(dataDir);
  if (!existsSync(file)) {
    if (signingKeyFile !== undefined) throw new CheckUsageError(`no signing key at ${file}`);
    return undefined;
  }
  try {
    const signer = await parseSignerKey(readFileSync(file, "utf8").trim());
    return await parseVerifierKey(formatVerifierKey(signer));
  } catch (error) {
    throw new CheckUsageError(`cannot read the signing key ${file}: ${(error as Error).message} (give --verifier-key instead)`);
  }
}

/** The report as `--json` prints it (snake_case, like the HTTP API). */
export function checkReportJson(dataDir: string, report: CheckReport): Record<string, unknown> {
  const { checkpoint, raft } = report;
  return {
    data_dir: dataDir,
    clean: report.clean,
    entries: report.entries,
    values: report.values,
    tree_nodes: report.treeNodes,
    checkpoint,
    raft: raft && { first_index: raft.firstIndex, last_index: raft.lastIndex, commit: raft.commit, term: raft.term },
    counts: report.counts,
    problems: report.problems,
    warnings: report.warnings,
  };
}

/** The human-readable report. */
export function formatCheckReport(path: string, report: CheckReport): string {
  const lines = [`scribe-node check ${path}`];
  lines.push(`  ledger      ${report.entries} entries; ${report.values.checked} values checked${report.values.evicted ? `, ${report.values.evicted} in the cold tier only (not checked here)` : ""}`);
  lines.push(`  tree        ${report.treeNodes} interior nodes checked`);
  const cp = report.checkpoint;
  lines.push(`  checkpoint  ${cp ? `size ${cp.size}, root ${cp.root}, signature ${cp.signature}` : "none stored"}`);
  const raft = report.raft;
  if (raft) lines.push(`  raft log    ${raft.lastIndex >= raft.firstIndex ? `entries ${raft.firstIndex}..${raft.lastIndex}` : `empty after ${raft.firstIndex - 1}`}, commit ${raft.commit}, term ${raft.term}`);
  if (report.clean) {
    lines.push("CLEAN: no corruption found");
    return `${lines.join("\n")}\n`;
  }
  const counted = checkKinds.filter((kind) => report.counts[kind] > 0);
  const total = counted.reduce((sum, kind) => sum + report.counts[kind], 0);
  lines.push(`CORRUPT: ${total} problem${total === 1 ? "" : "s"} (${counted.map((kind) => `${kind} ${report.counts[kind]}`).join(", ")})`);
  for (const problem of report.problems) {
    const where = problem.index === null ? "" : `index ${problem.index}${problem.key !== undefined ? ` key ${JSON.stringify(problem.key)}` : ""}: `;
    lines.push(`  ${problem.kind.padEnd(10)}  ${where}${problem.message}`);
  }
  for (const kind of counted) {
    const listed = report.problems.filter((p) => p.kind === kind).length;
    if (report.counts[kind] > listed) lines.push(`  ${kind.padEnd(10)}  … and ${report.counts[kind] - listed} more (--max-per-kind to list them)`);
  }
  return `${lines.join("\n")}\n`;
}

function parseCheckArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      "verifier-key": { type: "string" },
      "signing-key-file": { type: "string" },
      "max-per-kind": { type: "string" },
      json: { type: "boolean" },
      progress: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return { help: true as const };
  if (positionals.length !== 1) throw new CheckUsageError(`give exactly one DATA_DIR, got ${positionals.length}`, true);
  if (values["verifier-key"] !== undefined && values["signing-key-file"] !== undefined) throw new CheckUsageError("give --verifier-key or --signing-key-file, not both", true);
  const max = values["max-per-kind"] === undefined ? problemsPerKindDefault : Number(values["max-per-kind"]);
  if (!Number.isSafeInteger(max) || max < 0) throw new CheckUsageError(`--max-per-kind must be a non-negative integer, got ${values["max-per-kind"]}`, true);
  return { help: false as const, dataDir: resolve(positionals[0]!), max, values };
}

/** Runs `scribe-node check` with its arguments; returns the exit status. */
export async function checkCommand(argv: string[]): Promise<number> {
  try {
    const args = parseCheckArgs(argv);
    if (args.help) {
      console.log(checkUsage);
      return 0;
    }
    const { dataDir, values } = args;
    if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) throw new CheckUsageError(`${dataDir} is not a directory`);
    const database = databaseFile(dataDir);
    if (!existsSync(database)) throw new CheckUsageError(`${dataDir} has no database (${database})`);
    const holders = processesHolding([database, `${database}-wal`]);
    if (holders.length > 0) {
      const list = holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command})` : ""}`).join(", ");
      throw new CheckUsageError(`refusing to check ${dataDir}: its database is open in ${list}; stop the node first (a running node's files change under the check)`);
    }
    const verifier = await verifierFor(dataDir, values["verifier-key"], values["signing-key-file"]);
    let lastProgressMs = 0;
    const report = await checkDataFiles({
      databasePath: database,
      verifier,
      problemsPerKindMax: args.max,
      onProgress: values.progress
        ? (done, total) => {
            const now = Date.now();
            if (now - lastProgressMs < progressIntervalMs && done < total) return;
            lastProgressMs = now;
            process.stderr.write(`check: ${done}/${total} entries (${total === 0 ? 100 : Math.floor((done * 100) / total)}%)\n`);
          }
        : undefined,
    });
    for (const warning of report.warnings) process.stderr.write(`scribe-node check: warning: ${warning}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(checkReportJson(dataDir, report), null, 2)}\n` : formatCheckReport(dataDir, report));
    return report.clean ? 0 : 1;
  } catch (error) {
    const badArguments = (error instanceof CheckUsageError && error.badArguments) || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    if (!badArguments && !(error instanceof CheckUsageError)) throw error;
    console.error(`scribe-node check: ${(error as Error).message}${badArguments ? `\n${checkUsage}` : ""}`);
    return 2;
  }
}
