/**
 * @module bench/lib/alternate. Runs several loads in alternating slices — A, B, C, A, B, C, … —
 * instead of one after the other, so that Scribe and its baseline see the same background load
 * on a shared machine: the ratio of two figures measured minutes apart moved by 2x between runs
 * here; measured in interleaved slices it moves far less. Every server stays up for the whole
 * alternation (an idle server costs next to nothing) and is warmed up once before it.
 */

import { cpuSeconds } from "./proc.ts";
import type { LoadFigure } from "./figures.ts";
import { median } from "./proc.ts";
import { runWrk, type WrkScript } from "./wrk.ts";

/** One slice of one load. */
export interface Slice {
  ok: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU seconds each measured process used during the slice. */
  cpuSeconds: number[];
}

/** Most slices per load: enough to interleave well without restarting wrk too often. */
const slicesMax = 5;

/**
 * How to cut `seconds` into slices: slices of at least 2 s (stable wrk percentiles) and whole
 * seconds (wrk's -d takes no fractions); the total is `slices * sliceSeconds`, close to `seconds`.
 */
export function slicesFor(seconds: number): { slices: number; sliceSeconds: number } {
  const slices = Math.max(1, Math.min(slicesMax, Math.floor(seconds / 2)));
  return { slices, sliceSeconds: Math.max(1, Math.round(seconds / slices)) };
}

/** Runs `loads` in turn, `rounds` times; returns each load's slices in order. */
export async function alternate<K extends string>(rounds: number, loads: Record<K, (round: number) => Promise<Slice>>): Promise<Record<K, Slice[]>> {
  const out = Object.fromEntries(Object.keys(loads).map((k) => [k, [] as Slice[]])) as Record<K, Slice[]>;
  for (let round = 0; round < rounds; round++) {
    for (const key of Object.keys(loads) as K[]) out[key].push(await loads[key](round));
  }
  return out;
}

/** Runs `measure` and reports the CPU each of `pids` used meanwhile. */
export async function withCpu<T>(pids: readonly number[], measure: () => Promise<T>): Promise<{ result: T; cpuSeconds: number[] }> {
  const start = pids.map(cpuSeconds);
  const result = await measure();
  return { result, cpuSeconds: pids.map((pid, i) => cpuSeconds(pid) - start[i]!) };
}

/** One wrk slice against `url`, with the CPU of `pids`. */
export async function wrkSlice(url: string, pids: readonly number[], script: WrkScript, connections: number, seconds: number): Promise<Slice> {
  const { result, cpuSeconds } = await withCpu(pids, () => runWrk({ url, script, connections, seconds }));
  return { ok: result.okPerSec * result.seconds, seconds: result.seconds, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.non2xx + result.errors, cpuSeconds };
}

/**
 * Combines a load's slices: throughput over their total time, latency percentiles as the median
 * of the slices' percentiles, CPU per operation over all slices (and per process under `names`).
 */
export function combine(slices: readonly Slice[], names?: readonly string[]): LoadFigure {
  const ok = slices.reduce((n, s) => n + s.ok, 0);
  const seconds = slices.reduce((n, s) => n + s.seconds, 0);
  const processes = slices[0]?.cpuSeconds.length ?? 0;
  const cpuEach = Array.from({ length: processes }, (_, i) => slices.reduce((n, s) => n + s.cpuSeconds[i]!, 0));
  const cpuTotal = cpuEach.reduce((a, b) => a + b, 0);
  const figure: LoadFigure = {
    ops_per_sec: ok / seconds,
    p50_ms: median(slices.map((s) => s.p50Ms)),
    p99_ms: median(slices.map((s) => s.p99Ms)),
    errors: slices.reduce((n, s) => n + s.errors, 0),
    cpu_us_per_op: processes === 0 || ok === 0 ? null : (cpuTotal * 1e6) / ok,
    seconds,
  };
  if (names && ok > 0) figure.cpu_us_per_op_by_process = Object.fromEntries(names.map((name, i) => [name, (cpuEach[i]! * 1e6) / ok]));
  return figure;
}
