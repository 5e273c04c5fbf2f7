/**
 * @module gzip-crash-worker (test). The real gzip worker, except that it exits (as a crashed
 * Worker would) when a pushed chunk starts with 0xFF: test/cold/compression.test.ts.
 */

import "../../src/storage/cold/gzip-worker.ts";

declare const self: Worker;

const real = self.onmessage!;
self.onmessage = (event: MessageEvent) => {
  const message = event.data as { type: string; chunk?: Uint8Array };
  if (message.type === "push" && message.chunk?.[0] === 0xff) process.exit(1);
  real.call(self, event);
};
