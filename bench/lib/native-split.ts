/**
 * @module bench/lib/native-split. Splits `perf script` samples of one thread by the kind of code
 * they were taken in (bench/native-split.ts): JavaScript compiled by the JIT, Bun's own native
 * code (its runtime and interpreter, the HTTP server, SQLite: Bun's binary is stripped, so perf
 * cannot name its functions), the kernel by the system call it serves, libc and the vDSO (clock
 * reads). The JavaScript profiler (`bun --cpu-prof`) counts the native HTTP work outside
 * JavaScript as idle; this view counts every sample of the thread's CPU time.
 */

/** One sample: its CPU time (perf's period, ns) and its call chain, innermost frame first. */
export interface PerfSample {
  periodNs: number;
  frames: { symbol: string; dso: string }[];
}

/**
 * Parses `perf script -F tid,period,ip,sym,dso` output (with call chains): a header line
 * `TID PERIOD` per sample, then one `ADDRESS SYMBOL (DSO)` line per frame, then a blank line.
 */
export function parsePerfScript(text: string): PerfSample[] {
  const samples: PerfSample[] = [];
  let current: PerfSample | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      current = undefined;
      continue;
    }
    if (!/^\s/.test(line)) {
      const fields = line.trim().split(/\s+/);
      const periodNs = Number(fields[fields.length - 1]);
      if (!Number.isFinite(periodNs)) throw new Error(`not a perf script sample header: ${JSON.stringify(line)}`);
      current = { periodNs, frames: [] };
      samples.push(current);
      continue;
    }
    const frame = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
    if (!current || !frame) throw new Error(`not a perf script frame: ${JSON.stringify(line)}`);
    current.frames.push({ symbol: frame[1]!, dso: frame[2]! });
  }
  return samples;
}

/** The kind of code a sample was taken in, by its innermost frame. */
export function sampleKind(sample: PerfSample): string {
  const top = sample.frames[0];
  if (!top) return "unknown";
  const dso = top.dso;
  if (/^\/tmp\/perf-\d+\.map$/.test(dso) || dso.startsWith("[JIT]")) return "JavaScript (JIT-compiled code)";
  if (dso.includes("kallsyms") || dso === "[kernel]") {
    // The outermost system-call entry names what the thread asked the kernel for.
    for (let i = sample.frames.length - 1; i >= 0; i--) {
      const m = /^__(?:x64|ia32)_sys_(\w+)$/.exec(sample.frames[i]!.symbol);
      if (m && sample.frames[i]!.dso === dso) return `kernel: ${m[1]}`;
    }
    return "kernel: no system call (interrupts, scheduling, page faults)";
  }
  if (dso === "[vdso]") return "vDSO (clock reads)";
  if (/\/libc[.-]/.test(dso)) return "libc (memcpy, memset, ...)";
  if (/\/bun(\.exe)?$/.test(dso)) return "Bun native code (runtime, interpreter, HTTP, SQLite)";
  return `other: ${dso.split("/").pop()}`;
}

/** Microseconds of the thread's CPU per operation, by kind, largest first. */
export function splitPerOp(samples: readonly PerfSample[], ops: number): { kind: string; usPerOp: number }[] {
  const byKind = new Map<string, number>();
  for (const sample of samples) {
    const kind = sampleKind(sample);
    byKind.set(kind, (byKind.get(kind) ?? 0) + sample.periodNs);
  }
  return [...byKind].map(([kind, ns]) => ({ kind, usPerOp: ns / 1000 / ops })).sort((a, b) => b.usPerOp - a.usPerOp);
}
