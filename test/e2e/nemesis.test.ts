/**
 * The nemesis in CI, in a short seeded form (scripts/nemesis.ts runs it longer): a 3-node cluster
 * of real processes under kill -9 and SIGSTOP of the leader, a follower, a majority and every
 * node, and network partitions between them, with clients writing and reading through every
 * node. The history must be linearizable, every acknowledged write must be in every node's ledger
 * where its receipt put it, no write may be applied twice, and every signed checkpoint seen must
 * be consistent with every other.
 */
import { expect, test } from "bun:test";
import { faultKinds, runNemesis } from "../support/nemesis.ts";

test("a seeded nemesis of kills, pauses and partitions loses no acknowledged write and keeps the history linearizable and the checkpoints consistent", async () => {
  const seed = Number(process.env.NEMESIS_SEED ?? 7);
  const report = await runNemesis({ seed, seconds: Number(process.env.NEMESIS_SECONDS ?? 20) });
  if (!report.ok) console.error(`nemesis seed ${seed}:\n${report.problems.join("\n")}`);
  expect(report.problems).toEqual([]);
  expect(report.linearizability).toBe("ok");
  // The run must have exercised what it claims to check, or passing means nothing.
  const kinds = faultKinds.filter((k) => report.faults[k] > 0);
  expect(kinds.length).toBeGreaterThanOrEqual(4);
  expect(kinds.filter((k) => k.startsWith("partition")).length).toBeGreaterThanOrEqual(1);
  // Every node-to-node connection a partition met was placed, so the cuts were whole.
  expect(report.unplacedConnections).toBe(0);
  expect(report.writes.acked).toBeGreaterThan(200);
  expect(report.reads).toBeGreaterThan(200);
  expect(report.checkpoints.verified).toBeGreaterThan(5);
  expect(report.ledgerSize).toBeGreaterThanOrEqual(report.writes.acked);
}, 180_000);
