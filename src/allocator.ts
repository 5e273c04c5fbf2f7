/**
 * @module allocator. The one runtime setting of the node that must be in place before the process
 * starts, and the process's first step: main.ts imports this module before anything else.
 *
 * Bun allocates through its fork of mimalloc, which hands freed memory back to the kernel
 * (`madvise`) from a scavenger thread 100 ms after it was freed; the next allocation touches the
 * same pages again and takes a page fault for each. A node under load frees and reuses memory
 * continuously (requests, Raft messages, SQLite rows), so it paid that round trip all the time:
 * about 15% of a cluster leader's CPU was `madvise`, page faults and the scavenger and helper
 * threads around them (perf, docs/PERFORMANCE.md section 11). With purging off
 * (`MIMALLOC_PURGE_DELAY=-1`) freed memory stays with the process and is reused: 0.70x the
 * cluster's CPU per write, 0.8-0.9x per single-node PUT and GET. The cost: the process's resident
 * size stays at its high-water mark instead of shrinking after a burst.
 *
 * mimalloc reads the variable once, when the process starts, so setting it from JavaScript is too
 * late: when it is not set, the process replaces itself (`execve`, so the same PID, the same argv
 * and environment, byte for byte from /proc/self, plus the variable) before any other module runs.
 * A value the operator sets in the process's environment wins and nothing is re-executed
 * (`MIMALLOC_PURGE_DELAY=100` restores Bun's default; a `.env` file is read by Bun after the
 * allocator started, so it cannot set it). Linux only; elsewhere, or if anything of it fails, the process goes on with
 * Bun's default and `allocatorSetting()` says so.
 */

import { dlopen, FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";

/** The variable mimalloc reads at startup, and the node's value for it: never purge. */
export const purgeDelayVariable = "MIMALLOC_PURGE_DELAY";
export const nodePurgeDelay = "-1";

/**
 * What the process runs with: the variable's value in the environment the process started with
 * (what mimalloc read), or undefined for Bun's default (100 ms). On Linux from /proc/self/environ:
 * `process.env` also holds what Bun loaded from `.env` files after the allocator had started.
 */
export function allocatorSetting(): string | undefined {
  if (process.platform !== "linux") return process.env[purgeDelayVariable];
  const prefix = Buffer.from(`${purgeDelayVariable}=`);
  try {
    const found = nulTerminated(readFileSync("/proc/self/environ")).find((s) => s.subarray(0, prefix.length).equals(prefix));
    return found?.subarray(prefix.length, found.length - 1).toString("utf8");
  } catch {
    return process.env[purgeDelayVariable];
  }
}

/** The NUL-terminated strings of a /proc file (cmdline, environ), as raw bytes: no re-encoding. */
function nulTerminated(bytes: Buffer): Buffer[] {
  const strings: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(0, start);
    if (end === -1) break;
    strings.push(bytes.subarray(start, end + 1));
    start = end + 1;
  }
  return strings;
}

/** A NULL-terminated array of the strings' addresses (the caller keeps the strings alive). */
function pointerArray(strings: readonly Buffer[]): BigUint64Array {
  const array = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => (array[i] = BigInt(ptr(s))));
  return array;
}

/** Replaces the process with itself plus the variable; returns only if that failed. */
function reexecuteWithPurgeOff(): void {
  // argv and environment exactly as the process was started, byte for byte (bun flags, script,
  // arguments, or a compiled executable's; a path in any encoding), plus the variable.
  const argv = nulTerminated(readFileSync("/proc/self/cmdline"));
  if (argv.length === 0) return;
  const env = [...nulTerminated(readFileSync("/proc/self/environ")), Buffer.from(`${purgeDelayVariable}=${nodePurgeDelay}\0`)];
  const libc = dlopen("libc.so.6", { execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
  const path = Buffer.from("/proc/self/exe\0");
  const args = pointerArray(argv);
  const environment = pointerArray(env);
  libc.symbols.execve(ptr(path), ptr(args), ptr(environment));
  // Still here: execve failed (errno is not reachable from here); go on with Bun's default.
  libc.close();
}

if (process.platform === "linux" && allocatorSetting() === undefined) {
  try {
    reexecuteWithPurgeOff();
  } catch {
    // No libc.so.6 (musl) or no /proc: Bun's default allocator setting, as before.
  }
}
