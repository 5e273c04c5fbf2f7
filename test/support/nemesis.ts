/**
 * @module nemesis. A seeded fault run against a real cluster of node processes, longer than the
 * end-to-end tests and with more kinds of fault: clients write and read linearizably through
 * every node while a nemesis kills nodes with SIGKILL (the leader, a follower, a majority, all of
 * them at once), pauses them with SIGSTOP (the leader, a follower, a majority) and partitions the
 * network between them (the leader from the rest, a minority from a majority, or two sides that
 * one node still bridges; partition-net.ts: every node stays up and reachable by the clients),
 * one fault at a time, each healed before the next. A monitor meanwhile fetches signed
 * checkpoints from random nodes and checks each one the way a client does (`TrustedState`: a
 * majority of the pinned member keys, and a consistency proof to the checkpoint trusted before it).
 *
 * At the end every fault is healed and the run checks what a user relies on:
 *  - the client history is linearizable (src/check: a write answered 200 happened once, a
 *    refused one never did, a read saw the latest value);
 *  - every node holds the same ledger, and every acknowledged write is in it at its receipt's
 *    index with its receipt's leaf hash and its value's hash (nothing acknowledged was lost,
 *    even by a crash of every node at once);
 *  - no write was applied twice (each value written is unique);
 *  - every checkpoint seen, during the faults and at the end, is signed by a majority and
 *    consistent with every other (the log was only ever appended to).
 *
 * The fault schedule comes from the seed; the processes' timing does not, so a seed repeats its
 * faults, not its interleavings. scripts/nemesis.ts runs it from the command line; CI runs a short
 * seeded form (test/e2e/nemesis.test.ts).
 */

import { checkKvHistory, type CheckResult } from "../../src/check/index.ts";
import { parseVerifierKey, TrustedState, VerificationError } from "../../src/client/index.ts";
import { TestCluster, type ClusterNodeHandle, type LedgerEntry } from "./cluster.ts";
import { newRecorder, recordedGet, recordedPut, type Recorder } from "./history.ts";
import { pairsAcross, partitionableCluster } from "./partition-net.ts";

export const faultKinds = [
  "kill-leader",
  "kill-follower",
  "kill-majority",
  "kill-all",
  "pause-leader",
  "pause-follower",
  "pause-majority",
  "partition-leader",
  "partition-halves",
  "partition-bridge",
] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface NemesisOptions {
  seed: number;
  /** How long the faults go on; healing and the checks come after. */
  seconds: number;
  /** Cluster size (odd: 3 or 5). */
  nodes?: number;
  /** Concurrent clients, each alternating a put and a get. */
  clients?: number;
  /** Keys per 5 s window: the clients move to fresh keys every 5 s, so each key's history stays short for the checker. */
  keys?: number;
  /** Fault kinds to draw from (default all). */
  faults?: readonly FaultKind[];
  /** Progress lines (default none). */
  log?: (line: string) => void;
  /** Ends the faults early when it returns true (Ctrl-C); healing and the checks still run. */
  stop?: () => boolean;
}

export interface NemesisReport {
  seed: number;
  seconds: number;
  nodes: number;
  faults: Record<FaultKind, number>;
  writes: { acked: number; unknown: number; refused: number };
  reads: number;
  checkpoints: { verified: number; unavailable: number; largestSize: number };
  ledgerSize: number;
  /** Node-to-node connections the partitions could not place (their dialer was not found): 0 unless a partition leaked. */
  unplacedConnections: number;
  linearizability: CheckResult["result"];
  /** What failed; empty when the run holds. */
  problems: string[];
  ok: boolean;
}

/** mulberry32: a small seeded PRNG (the schedule only; nothing cryptographic). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}

/** A node's Raft state and its last warnings, for a report of nodes that did not converge. */
async function nodeState(node: ClusterNodeHandle): Promise<string> {
  let state: string;
  try {
    const s = (await (await fetch(`${node.url}/cluster/info`, { signal: AbortSignal.timeout(2000) })).json()) as Record<string, unknown>;
    state = `${s.role} term ${s.term} leader ${s.leader_id} commit ${s.commit_index} (leader's ${s.leader_commit_index}) applied ${s.applied_index} size ${s.ledger_size}${s.failed ? ` failed: ${s.failed}` : ""}`;
  } catch (error) {
    state = `no status: ${String(error)}`;
  }
  const warnings = (node.process?.output() ?? "")
    .split("\n")
    .filter((line) => /"level":(4|5|6)\d/.test(line))
    .slice(-5);
  return `node ${node.id}: ${state}${warnings.map((w) => `\n    ${w.slice(0, 400)}`).join("")}`;
}

/** A seeded shuffle (Fisher-Yates) of a copy of `list`. */
function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function runNemesis(options: NemesisOptions): Promise<NemesisReport> {
  const nodeCount = options.nodes ?? 3;
  const clients = options.clients ?? 8;
  const keysPerWindow = options.keys ?? 24;
  const kinds = options.faults ?? faultKinds;
  const log = options.log ?? (() => {});
  // The faults draw from their own generator, so the monitor's draws (timed by the processes)
  // do not move the fault schedule.
  const random = prng(options.seed);
  const monitorRandom = prng(options.seed ^ 0x5bd1e995);
  const pick = <T>(list: readonly T[], from = random): T => list[Math.floor(from() * list.length)]!;
  const between = (low: number, high: number, from = random) => low + from() * (high - low);
  const problems: string[] = [];
  const faults = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
  const checkpoints = { verified: 0, unavailable: 0, largestSize: 0 };

  // The node gives up on a write after 2 s (504 outcome_unknown, or a refusal that proves nothing
  // happened), before the client's 3 s: a write stuck behind a fault mostly gets an answer.
  // With partitions among the faults, the nodes dial each other through partition-net's ports.
  const clusterOptions = { size: nodeCount, env: { SCRIBE_API_WRITE_TIMEOUT_SECS: "2" } };
  const { cluster, net } = kinds.some((k) => k.startsWith("partition")) ? partitionableCluster(clusterOptions) : { cluster: new TestCluster(clusterOptions), net: undefined };
  const paused = new Set<number>();
  const recorder: Recorder = newRecorder();
  let stopClients = false;
  let stopMonitor = false;
  try {
    await net?.ready();
    await cluster.startAll();
    // Pinned once every member's key is registered (a just-bootstrapped cluster lists none for
    // about 100 ms, then all of them).
    let keyLines: string[] = [];
    for (const deadline = Date.now() + 10_000; keyLines.length < nodeCount; await Bun.sleep(50)) {
      if (Date.now() > deadline) throw new Error(`GET /checkpoint/keys listed ${keyLines.length} of ${nodeCount} member keys after 10 s`);
      keyLines = (await (await fetch(`${cluster.nodes[0]!.url}/checkpoint/keys`)).text()).split("\n").filter((line) => line !== "");
    }
    const verifiers = await Promise.all(keyLines.map((line) => parseVerifierKey(line)));
    const trusted = new TrustedState({ verifiers });
    const started = Date.now();

    const reachable = () => cluster.running().filter((n) => !paused.has(n.id));
    const fetchText = async (url: string, timeoutMs: number) => {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
      return response.text();
    };

    // Clients: each alternates a put of a unique value and a linearizable get, through the nodes
    // in turn (a paused node's requests time out: unknown writes, failed reads).
    const load = Promise.all(
      Array.from({ length: clients }, async (_, clientId) => {
        for (let seq = 0; !stopClients; seq++) {
          const targets = cluster.running();
          if (targets.length === 0) {
            await Bun.sleep(20);
            continue;
          }
          const url = targets[(clientId + seq) % targets.length]!.url;
          const window = Math.floor((Date.now() - started) / 5000);
          const key = `n${window}-${(clientId * 7 + seq) % keysPerWindow}`;
          if (seq % 2 === 0) await recordedPut(recorder, url, clientId, key, `c${clientId}-s${seq}`);
          else await recordedGet(recorder, url, clientId, key);
        }
      }),
    );

    // A node's checkpoint, checked as a client would: signed by a majority of the pinned keys and
    // consistent (a proof from that node) with the checkpoint trusted before it.
    const verifyCheckpointOf = async (node: { url: string }, timeoutMs: number) => {
      const note = await fetchText(`${node.url}/checkpoint`, timeoutMs);
      const checkpoint = await trusted.update(note, async (from, to) => JSON.parse(await fetchText(`${node.url}/proof/consistency?from=${from}&to=${to}`, timeoutMs)));
      checkpoints.verified++;
      checkpoints.largestSize = Math.max(checkpoints.largestSize, checkpoint.size);
    };

    // The monitor: checkpoints from random nodes; one that fails its check is a problem, one a
    // node under a fault cannot give is not.
    const monitor = (async () => {
      while (!stopMonitor) {
        await Bun.sleep(between(200, 600, monitorRandom));
        const nodes = reachable();
        if (nodes.length === 0) continue;
        const node = pick(nodes, monitorRandom);
        try {
          await verifyCheckpointOf(node, 2000);
        } catch (error) {
          if (error instanceof VerificationError) problems.push(`checkpoint from node ${node.id}: ${error.message}`);
          else checkpoints.unavailable++;
        }
      }
    })();

    const restart = async (ids: readonly number[]) => {
      for (const id of ids) paused.delete(id);
      await Promise.all(
        ids.map(async (id) => {
          try {
            await cluster.start(id, []);
          } catch (error) {
            problems.push(`node ${id} did not restart: ${String(error).slice(0, 2000)}`);
          }
        }),
      );
    };

    // The nemesis: one fault at a time, each healed before the next.
    while (Date.now() - started < options.seconds * 1000 && !options.stop?.()) {
      await Bun.sleep(between(300, 1500));
      const kind = pick(kinds);
      const leader = await cluster.leader([...paused], 500);
      const ids = cluster.running().map((n) => n.id);
      const others = ids.filter((id) => id !== leader);
      const majority = Math.floor(nodeCount / 2) + 1;
      faults[kind]++;
      if (kind.startsWith("partition")) {
        // Sides of the cut: the leader alone; a minority and a majority; or two sides and the one node that reaches both.
        const order = shuffled(ids, random);
        const halves = (list: number[]) => [list.slice(0, Math.floor(list.length / 2)), list.slice(Math.floor(list.length / 2))];
        const alone = leader ?? order[0]!;
        const sides = kind === "partition-leader" ? [[alone], ids.filter((id) => id !== alone)] : halves(kind === "partition-halves" ? order : order.slice(1));
        const cutMs = Math.round(between(500, 4000));
        const bridge = kind === "partition-bridge" ? ` (${order[0]} reaches both)` : "";
        log(`${((Date.now() - started) / 1000).toFixed(1)} s: ${kind} ${sides.map((s) => s.join(",")).join(" | ")}${bridge} for ${cutMs} ms (leader ${leader ?? "unknown"})`);
        net!.cut(pairsAcross(sides));
        await Bun.sleep(cutMs);
        net!.heal();
        continue;
      }
      let victims: number[];
      if (kind === "kill-leader" || kind === "pause-leader") victims = leader === undefined ? [pick(ids)] : [leader];
      else if (kind === "kill-follower" || kind === "pause-follower") victims = [pick(others.length > 0 ? others : ids)];
      else if (kind === "kill-all") victims = ids;
      else victims = [...(leader === undefined ? [] : [leader]), ...shuffled(others, random)].slice(0, majority);
      const downMs = Math.round(kind.startsWith("pause") ? between(300, 3000) : between(100, 2000));
      log(`${((Date.now() - started) / 1000).toFixed(1)} s: ${kind} ${victims.join(",")} for ${downMs} ms (leader ${leader ?? "unknown"})`);
      if (kind.startsWith("pause")) {
        for (const id of victims) {
          cluster.node(id).process?.proc.kill("SIGSTOP");
          paused.add(id);
        }
        await Bun.sleep(downMs);
        for (const id of victims) {
          cluster.node(id).process?.proc.kill("SIGCONT");
          paused.delete(id);
        }
      } else {
        await Promise.all(victims.map((id) => cluster.kill(id, "SIGKILL")));
        await Bun.sleep(downMs);
        await restart(victims);
      }
    }

    // Heal: every node running, unpaused and connected, then a quiet second of load, then stop the clients.
    net?.heal();
    for (const id of paused) cluster.node(id).process?.proc.kill("SIGCONT");
    paused.clear();
    await restart(cluster.nodes.filter((n) => n.process === undefined).map((n) => n.id));
    try {
      await cluster.waitForLeader(20_000);
    } catch (error) {
      problems.push(`no leader after healing: ${String(error)}`);
    }
    await Bun.sleep(1000);
    stopClients = true;
    await load;
    stopMonitor = true;
    await monitor;

    // The same ledger everywhere (the nodes catch up within a while); if not, the acknowledged
    // writes are still checked against the longest one.
    let ledger: LedgerEntry[] = [];
    try {
      ledger = await cluster.converged(30_000);
    } catch (error) {
      problems.push(`${String(error)}\n  ${(await Promise.all(cluster.running().map((n) => nodeState(n)))).join("\n  ")}`);
      for (const node of cluster.running()) {
        const listed = await cluster.ledger(node.id).catch(() => []);
        if (listed.length > ledger.length) ledger = listed;
      }
    }

    // Every acknowledged write, where its receipt put it; no value written twice (the first ten
    // of each kind are named).
    const lost: string[] = [];
    for (const ack of recorder.acked) {
      const entry = ledger[ack.index];
      if (!entry || entry.key !== ack.key || entry.leaf_hash !== ack.leafHash || entry.value_hash !== sha256Hex(ack.value)) {
        lost.push(`${ack.key}=${ack.value} at index ${ack.index} (leaf ${ack.leafHash}); found ${JSON.stringify(entry)}`);
      }
    }
    if (lost.length > 0) problems.push(`${lost.length} acknowledged writes are not in the ledger where their receipts put them:\n  ${lost.slice(0, 10).join("\n  ")}`);
    const written = new Map<string, number>();
    for (const entry of ledger) written.set(entry.value_hash, (written.get(entry.value_hash) ?? 0) + 1);
    const twice: string[] = [];
    for (const op of recorder.ops) {
      if (op.kind !== "put" || op.value === undefined) continue;
      const times = written.get(sha256Hex(op.value)) ?? 0;
      if (times > 1) twice.push(`${op.key}=${op.value} ${times} times`);
    }
    if (twice.length > 0) problems.push(`${twice.length} writes were applied more than once:\n  ${twice.slice(0, 10).join("\n  ")}`);

    // Every node's final checkpoint is consistent with what the monitor trusted.
    for (const node of cluster.nodes) {
      try {
        await verifyCheckpointOf(node, 5000);
      } catch (error) {
        problems.push(`node ${node.id}'s final checkpoint: ${String(error)}`);
      }
    }

    const result = checkKvHistory(recorder.ops);
    if (result.result === "violation") {
      const ops = result.operations.map((o) => `c${o.clientId} ${o.kind} ${o.value ?? JSON.stringify(o.output)} [${o.callMs.toFixed(1)}, ${o.unknown ? "unknown" : o.returnMs.toFixed(1)}]`);
      problems.push(`not linearizable on key ${result.violatingKey}:\n  ${ops.join("\n  ")}`);
    } else if (result.result === "timeout") {
      problems.push(`the linearizability check ran out of steps on key ${result.timedOutKey} (too many concurrent operations on one key)`);
    }

    const ops = recorder.ops;
    return {
      seed: options.seed,
      seconds: options.seconds,
      nodes: nodeCount,
      faults,
      writes: { acked: recorder.acked.length, unknown: ops.filter((o) => o.kind === "put" && o.unknown).length, refused: recorder.refused.length },
      reads: ops.filter((o) => o.kind === "get").length,
      checkpoints,
      ledgerSize: ledger.length,
      unplacedConnections: net?.unidentified ?? 0,
      linearizability: result.result,
      problems,
      ok: problems.length === 0,
    };
  } finally {
    stopClients = true;
    stopMonitor = true;
    await cluster.stop();
    await net?.stop();
  }
}
