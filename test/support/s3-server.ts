/**
 * @module s3-server. Starts a real S3-compatible server (the npm package `s3rver`) on 127.0.0.1
 * with a free port and a temporary directory, for tests, benches and local scripts.
 *
 * s3rver 3.7.1 needs two shims under Bun, applied once at load time (node_modules is untouched):
 *  - its ListObjects continuation token is encrypted with the `des` cipher name, which Bun's
 *    node:crypto only knows as `des-cbc`: `createCipheriv`/`createDecipheriv` map the name;
 *  - its filesystem store walks directories in `readdirSync` order, which is not sorted under
 *    Bun, so a listing comes back unsorted and truncation at MaxKeys drops arbitrary keys: the
 *    store's `listObjects` is wrapped to list everything, sort by key, then apply StartAfter and
 *    MaxKeys the way S3 does.
 *  - its `putObject` and `putPart` answer once the request body has been read, not once the file
 *    is written (they resolve on the hashing Transform's 'finish', not the write stream's), so a
 *    GET right after a PUT can read a short or empty file, and CompleteMultipartUpload can
 *    concatenate a part still being written. Both are replaced by versions that write to a
 *    temporary file, wait for it to be flushed and closed, then rename it into place (atomic for
 *    readers of an overwritten object).
 */

import { createRequire } from "node:module";
import { createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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
  const listObjects = FilesystemStore.prototype.listObjects;
  FilesystemStore.prototype.listObjects = async function sortedListObjects(
    bucket: string,
    options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number },
  ) {
    const { startAfter = "", maxKeys = Infinity } = options;
    const all = await listObjects.call(this, bucket, { ...options, startAfter: "", maxKeys: Infinity });
    const sorted = (all.objects as { key: string }[])
      .filter((object) => object.key > startAfter)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const prefixes = (all.commonPrefixes as string[]).filter((prefix) => prefix > startAfter);
    return {
      objects: sorted.slice(0, maxKeys),
      commonPrefixes: prefixes,
      isTruncated: sorted.length > maxKeys,
    };
  };
}

/** Writes `content` to a temporary file, waits until it is closed, then renames it to `path`. */
async function writeFileFlushed(path: string, content: Buffer | Readable): Promise<{ size: number; md5: string }> {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  const md5 = createHash("md5");
  let size = 0;
  if (Buffer.isBuffer(content)) {
    writeFileSync(temporary, content);
    md5.update(content);
    size = content.length;
  } else {
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    await pipeline(content, counter, createWriteStream(temporary));
  }
  renameSync(temporary, path);
  return { size, md5: md5.digest("hex") };
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
