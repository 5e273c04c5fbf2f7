/**
 * @module s3-server. Starts a real S3-compatible server (the npm package `s3rver`) on 127.0.0.1
 * with a free port and a temporary directory, for tests, benches and local scripts.
 *
 * s3rver 3.7.1 gets these shims under Bun, applied once at load time (node_modules is untouched):
 *  - its ListObjects continuation token is encrypted with the `des` cipher name, which Bun's
 *    node:crypto only knows as `des-cbc`: `createCipheriv`/`createDecipheriv` map the name;
 *  - its filesystem store walks directories in `readdirSync` order, which is not sorted under
 *    Bun, so a listing came back unsorted and truncation at MaxKeys dropped arbitrary keys; it
 *    also read every listed key's metadata, and lost the common prefix of a directory holding only
 *    directories. `listObjects` is replaced: walk the directories that can hold a match, sort,
 *    apply StartAfter and MaxKeys the way S3 does, and read metadata only for the page returned.
 *  - its `putObject` and `putPart` answer once the request body has been read, not once the file
 *    is written (they resolve on the hashing Transform's 'finish', not the write stream's), so a
 *    GET right after a PUT can read a short or empty file, and CompleteMultipartUpload can
 *    concatenate a part still being written. Both are replaced by versions that write the body
 *    to a temporary file, then rename it into place (atomic for readers of an overwritten object).
 *  - cost: a silent server skips the request logger, and small metadata files and bucket checks
 *    use sync calls, not Bun's I/O thread pool (3.2-3.8 ms of CPU per 8 KiB PUT before, 2.0-2.3 ms
 *    after; the archival bench shares the machine's two cores with this server).
 */

import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export interface S3ServerHandle {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The directory holding the bucket's files (objects live under `<dir>/<bucket>/`). */
  dir: string;
  port: number;
  /** Path of the file s3rver keeps an object's bytes in (for tamper tests). */
  objectPath(key: string): string;
  /** Closes the listener but keeps the data: S3 is "down" until resume(). */
  pause(): Promise<void>;
  /** Listens again on the same port with the same data. */
  resume(): Promise<void>;
  /** Stops the server and removes the data directory if the harness created it. */
  stop(): Promise<void>;
}

export interface S3ServerOptions {
  /** Data directory; a fresh temporary one (removed by stop()) when omitted. */
  dir?: string;
  bucket?: string;
  /** 0 picks a free port. */
  port?: number;
  silent?: boolean;
}

/** s3rver accepts exactly this key pair by default. */
const accessKeyId = "S3RVER";
const secretAccessKey = "S3RVER";

let shimsApplied = false;

function applyShims(): void {
  if (shimsApplied) return;
  shimsApplied = true;
  const crypto = require("node:crypto") as typeof import("node:crypto");
  const cipherName = (name: string): string => (name === "des" ? "des-cbc" : name);
  const createCipheriv = crypto.createCipheriv;
  const createDecipheriv = crypto.createDecipheriv;
  (crypto as { createCipheriv: unknown }).createCipheriv = (name: string, ...rest: unknown[]) =>
    (createCipheriv as (...args: unknown[]) => unknown)(cipherName(name), ...rest);
  (crypto as { createDecipheriv: unknown }).createDecipheriv = (name: string, ...rest: unknown[]) =>
    (createDecipheriv as (...args: unknown[]) => unknown)(cipherName(name), ...rest);

  const FilesystemStore = require("s3rver/lib/stores/filesystem.js");
  const S3Object = require("s3rver/lib/models/object.js");
  FilesystemStore.prototype.putObject = async function putObjectFlushed(object: {
    bucket: string;
    key: string;
    content: Buffer | Readable;
    metadata: Record<string, string>;
  }) {
    const objectPath: string = this.getResourcePath(object.bucket, object.key, "object");
    const { size, md5 } = await writeFileFlushed(objectPath, object.content);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
  FilesystemStore.prototype.putPart = async function putPartFlushed(bucket: string, uploadId: string, partNumber: number, content: Readable) {
    const partPath = join(this.getResourcePath(bucket, undefined, "uploads"), uploadId, String(partNumber));
    const { size, md5 } = await writeFileFlushed(partPath, content);
    writeFileSync(`${partPath}.md5`, md5);
    return { size, md5 };
  };
  // Metadata, md5 and bucket checks are a few hundred bytes each: written and read with sync calls
  // on the event loop instead of a round trip each through Bun's file I/O thread pool, which cost
  // about as much CPU per request as all of s3rver's JavaScript (bench/profile.ts archival).
  FilesystemStore.prototype.putMetadata = async function putMetadataSync(bucket: string, key: string, metadata: Record<string, string>, md5?: string) {
    const kept = Object.entries(metadata).filter(([name]) => S3Object.ALLOWED_METADATA.includes(name) || name.startsWith("x-amz-meta-"));
    if (md5) writeFileSync(this.getResourcePath(bucket, key, "object.md5"), md5);
    writeFileSync(this.getResourcePath(bucket, key, "metadata.json"), JSON.stringify(Object.fromEntries(kept), null, 2));
  };
  const getMetadata = FilesystemStore.prototype.getMetadata;
  FilesystemStore.prototype.getMetadata = async function getMetadataSync(bucket: string, key: string) {
    const objectPath: string = this.getResourcePath(bucket, key, "object");
    const stat = statSync(objectPath); // throws ENOENT for a missing object, as the original does
    let stored: Record<string, string> | undefined;
    let md5: string;
    try {
      md5 = readFileSync(`${objectPath}.md5`, "utf8");
      stored = JSON.parse(readFileSync(this.getResourcePath(bucket, key, "metadata.json"), "utf8"));
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw error;
      return getMetadata.call(this, bucket, key); // it recomputes a missing md5, tolerates missing metadata
    }
    return { ...stored, etag: JSON.stringify(md5), "last-modified": stat.mtime.toUTCString(), "content-length": stat.size };
  };
  const S3Bucket = require("s3rver/lib/models/bucket.js");
  FilesystemStore.prototype.getBucket = async function getBucketSync(bucket: string) {
    try {
      const stat = statSync(this.getBucketPath(bucket));
      return stat.isDirectory() ? new S3Bucket(bucket, stat.birthtime) : null;
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return null;
      throw error;
    }
  };
  const objectSuffix = "._S3rver_object";
  FilesystemStore.prototype.listObjects = async function sortedListObjects(
    bucket: string,
    options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number },
  ) {
    const { delimiter = "", startAfter = "", prefix = "", maxKeys = Infinity } = options;
    const keys: string[] = [];
    const commonPrefixes = new Set<string>();
    const visit = (dir: string, below: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) {
          const path = `${below}${entry.name}/`;
          // Every key under `path` starts with it: skip it when that cannot match the prefix, or
          // when all such keys sort before startAfter (the two differ inside `path`).
          if (!path.startsWith(prefix) && !prefix.startsWith(path)) continue;
          if (path < startAfter && !startAfter.startsWith(path)) continue;
          visit(join(dir, entry.name), path);
        } else if (entry.name.endsWith(objectSuffix)) {
          const key: string = FilesystemStore.decodeKeyPath(`${below}${entry.name.slice(0, -objectSuffix.length)}`);
          if (key <= startAfter || !key.startsWith(prefix)) continue;
          const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
          if (cut === -1) keys.push(key);
          else commonPrefixes.add(key.slice(0, cut + delimiter.length));
        }
      }
    };
    visit(this.getBucketPath(bucket), "");
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    // Metadata (a stat and two file reads) only for the page returned, not for every key listed.
    const page = keys.slice(0, maxKeys);
    const metadata = await Promise.all(
      page.map((key) =>
        this.getMetadata(bucket, key).catch((error: { code?: string }) => {
          if (error.code === "ENOENT") return undefined; // deleted since the walk
          throw error;
        }),
      ),
    );
    return {
      objects: page.flatMap((key, i) => (metadata[i] === undefined ? [] : [new S3Object(bucket, key, null, metadata[i])])),
      commonPrefixes: [...commonPrefixes].sort(),
      isTruncated: keys.length > maxKeys,
    };
  };

  // Its request logger (koa-logger feeding winston) formats every request even when the console
  // transport is silent; a silent server gets a pass-through in its place (errors still reach
  // the winston logger the wrapped factory sets up).
  const loggerPath = require.resolve("s3rver/lib/middleware/logger.js");
  const loggerMiddleware = require(loggerPath) as (app: unknown, silent: boolean) => unknown;
  require.cache[loggerPath]!.exports = (app: unknown, silent: boolean) => {
    const middleware = loggerMiddleware(app, silent);
    return silent ? (_context: unknown, next: () => Promise<void>) => next() : middleware;
  };
}

/** Writes `content` to a temporary file, waits until it is closed, then renames it to `path`. */
async function writeFileFlushed(path: string, content: Buffer | Readable): Promise<{ size: number; md5: string }> {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  // A test server's bodies (segments, parts, tiles) fit in memory: gathered, written with one call.
  const bytes = Buffer.isBuffer(content) ? content : Buffer.concat(await Array.fromAsync(content as AsyncIterable<Buffer>));
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
  return { size: bytes.length, md5: createHash("md5").update(bytes).digest("hex") };
}

/** Starts s3rver on 127.0.0.1 and creates the bucket. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3ServerHandle> {
  applyShims();
  const S3rver = require("s3rver");
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "scribe-s3-"));
  const bucket = options.bucket ?? "scribe";
  const create = (port: number) =>
    new S3rver({
      address: "127.0.0.1",
      port,
      directory: dir,
      silent: options.silent ?? true,
      configureBuckets: [{ name: bucket }],
    });
  let server = create(options.port ?? 0);
  const address = (await server.run()) as { address: string; port: number };
  const port = address.port;
  let running = true;
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId,
    secretAccessKey,
    dir,
    port,
    objectPath: (key: string) => join(dir, bucket, `${key}._S3rver_object`),
    async pause() {
      if (!running) return;
      running = false;
      await server.close();
    },
    async resume() {
      if (running || stopped) return;
      server = create(port);
      await server.run();
      running = true;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (running) await server.close();
      running = false;
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
