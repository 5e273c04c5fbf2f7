/**
 * @module test support: s3-fixture. A test file's s3rver on loopback and its temporary
 * directories, started before the file's tests and stopped and removed after them.
 */

import { afterAll, beforeAll } from "bun:test";
import { tempDir } from "./node-process.ts";
import { startS3Server, type S3ServerHandle } from "./s3-server.ts";

/**
 * A test file's s3rver and temporary directories: the server starts before the file's tests;
 * after them, `beforeStop` runs (e.g. to kill the file's node processes), the server stops and
 * every directory made by `dir()` is removed.
 */
export function s3Fixture(dirPrefix: string, beforeStop?: () => Promise<void>): { readonly s3: S3ServerHandle; dir(): string } {
  let server: S3ServerHandle | undefined;
  const dirs: { remove(): void }[] = [];
  beforeAll(async () => {
    server = await startS3Server();
  });
  afterAll(async () => {
    await beforeStop?.();
    await server?.stop();
    for (const dir of dirs) dir.remove();
  });
  return {
    get s3(): S3ServerHandle {
      if (!server) throw new Error("the s3rver of this file has not started (use it inside a test)");
      return server;
    },
    dir(): string {
      const d = tempDir(dirPrefix);
      dirs.push(d);
      return d.path;
    },
  };
}
