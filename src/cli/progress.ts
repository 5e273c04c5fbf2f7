/**
 * @module cli/progress. Audit progress on stderr: a redrawn bar when stderr is a terminal, plain
 * lines (at most one per tenth of the work) otherwise, so logs stay short.
 */

import type { AuditProgress } from "../client/index.ts";

/** Width of the bar in characters. */
const barWidth = 30;
/** Shortest time between two redraws of the bar, so a fast audit does not flood the terminal. */
const redrawIntervalMs = 100;

export interface ProgressReporter {
  update(progress: AuditProgress): void;
  done(): void;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function progressReporter(stream: { isTTY?: boolean; write(text: string): unknown }, startedMs = performance.now()): ProgressReporter {
  let lastDrawMs = 0;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(progress) {
      const fraction = progress.total === 0 ? 1 : progress.entries / progress.total;
      const elapsedSeconds = Math.max((performance.now() - startedMs) / 1000, 1e-3);
      const rate = Math.round(progress.entries / elapsedSeconds);
      if (stream.isTTY) {
        const now = performance.now();
        if (now - lastDrawMs < redrawIntervalMs && progress.entries < progress.total) return;
        lastDrawMs = now;
        const filled = Math.round(fraction * barWidth);
        const bar = `${"#".repeat(filled)}${"-".repeat(barWidth - filled)}`;
        stream.write(`\r\x1b[2Kaudit [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${progress.entries}/${progress.total} entries, ${megabytes(progress.valueBytes)}, ${rate}/s`);
        drawn = true;
        return;
      }
      const tenth = Math.floor(fraction * 10);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      stream.write(`audit: ${progress.entries}/${progress.total} entries (${(fraction * 100).toFixed(0)}%), ${megabytes(progress.valueBytes)}, ${rate}/s\n`);
    },
    done() {
      if (drawn) stream.write("\n");
    },
  };
}
