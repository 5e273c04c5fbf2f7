/**
 * @module tmpfs. A small tmpfs for tests of a full disk: mounted at a fresh directory (this needs
 * root or CAP_SYS_ADMIN; when it cannot be mounted, `mountTmpfs` says why so the test can skip with
 * the reason printed), filled by a filler file to leave a given number of bytes free, unmounted
 * and removed at the end.
 */

import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeBytesOf } from "../../src/storage/index.ts";

export interface Tmpfs {
  path: string;
  /** Writes a filler file that leaves `leaveBytes` free (0: fills until ENOSPC); returns its path. */
  fill(leaveBytes: number, name?: string): string;
  /** Deletes the filler files written so far. */
  drain(): void;
  freeBytes(): number;
  /** Unmounts and removes the directory (stop the processes using it first). */
  remove(): void;
}

const chunkBytes = 1024 * 1024;

/** Mounts a tmpfs of `sizeMiB`; a string is the reason it could not be mounted. */
export function mountTmpfs(sizeMiB: number): Tmpfs | string {
  const path = mkdtempSync(join(tmpdir(), "scribe-tmpfs-"));
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=0700`, "tmpfs", path], { stderr: "pipe" });
  if (mounted.exitCode !== 0) {
    rmSync(path, { recursive: true, force: true });
    return `cannot mount a tmpfs (mount exited ${mounted.exitCode}: ${mounted.stderr.toString().trim() || "no message"}); run as root to test a full disk`;
  }
  const fillers: string[] = [];
  return {
    path,
    freeBytes: () => freeBytesOf(path),
    fill(leaveBytes, name = `filler-${fillers.length}`) {
      const file = join(path, name);
      fillers.push(file);
      const fd = openSync(file, "w");
      const chunk = new Uint8Array(chunkBytes).fill(0x5a);
      try {
        let left = leaveBytes === 0 ? Number.POSITIVE_INFINITY : freeBytesOf(path) - leaveBytes;
        while (left > 0) {
          const n = Math.min(left, chunkBytes);
          try {
            writeSync(fd, chunk, 0, n);
          } catch (error) {
            if ((error as { code?: string }).code === "ENOSPC" && leaveBytes === 0) break;
            throw error;
          }
          left -= n;
        }
        // The last pages: a byte at a time until the file system refuses one.
        if (leaveBytes === 0) {
          for (;;) {
            try {
              writeSync(fd, chunk, 0, 1);
            } catch {
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return file;
    },
    drain() {
      for (const file of fillers.splice(0)) rmSync(file, { force: true });
    },
    remove() {
      for (const file of fillers.splice(0)) {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      }
      Bun.spawnSync(["umount", path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}
