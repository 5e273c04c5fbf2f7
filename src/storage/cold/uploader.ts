/**
 * @module uploader. Writes immutable objects to S3 exactly once, streamed, and verified.
 *
 * `writeOnce` HEADs the key first: an object already there with the same identity (a metadata
 * field the caller names, e.g. the raw segment SHA-256) is read back, verified, and skipped; one
 * with a different identity is a conflict and is never overwritten. Otherwise the body streams
 * into a multipart upload as it is produced (parts of `partBytes`, the last one smaller; a body
 * smaller than one part goes up as a single PutObject), the SHA-256 is computed on the way, and the
 * object is read back and hashed before success is reported. Failures are retried with
 * exponential backoff; incomplete multipart uploads are aborted.
 */

import type { S3Client } from "@aws-sdk/client-s3";
import { assert, AssertionError, bytesEqual, concatBytes, isScribeError, ScribeError, toHex } from "../../lib/index.ts";
import { DirectPut } from "./direct-put.ts";
import { StreamHash } from "./hashing.ts";
import { s3Sdk } from "./sdk.ts";
import type { ChunkSource } from "./compression.ts";

/** S3's minimum part size for every part but the last. */
export const s3PartBytesMin = 5 * 1024 * 1024;
/** S3's maximum number of parts in one multipart upload. */
export const s3PartsMax = 10_000;

export interface UploaderOptions {
  bucket: string;
  /** Multipart part size; >= 5 MiB. Memory held per upload is about twice this. */
  partBytes?: number;
  /** Whole-operation attempts (each S3 call also has the client's own retries). */
  attemptsMax?: number;
  backoffMsBase?: number;
  backoffMsMax?: number;
  /** Time limit of one direct PUT of a small object (putOnce); storage.s3.timeout_secs. */
  requestTimeoutMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

export interface UploaderStats {
  /** Objects uploaded and verified. */
  uploads: number;
  /** writeOnce calls that found the object already complete and verified it. */
  skipped: number;
  /** Object bytes uploaded and verified. */
  bytes: number;
  /** Operations that failed after all attempts (or with a non-retryable error). */
  errors: number;
  /** Attempts repeated after a failure. */
  retries: number;
  /** Multipart uploads aborted after a failure. */
  aborts: number;
}

export interface ObjectDigest {
  bytes: number;
  /** Lowercase hex SHA-256 of the object's bytes. */
  sha256: string;
}

export interface WriteOnceRequest {
  key: string;
  /** Produces the body; called again on every attempt, so it must give the same bytes. */
  body: () => ChunkSource;
  /** User metadata (names lowercase, values ASCII). */
  metadata: Record<string, string>;
  /** The metadata field that identifies the content; must be present in `metadata`. */
  identityField: string;
  contentType?: string;
  /** Extra verification of an existing object before it is accepted (e.g. decode it). */
  verifyExisting?: (key: string, digest: ObjectDigest) => Promise<void>;
}

export interface WriteOnceResult extends ObjectDigest {
  skipped: boolean;
}

export interface HeadResult {
  bytes: number;
  metadata: Record<string, string>;
}

/** Keys asked for per LIST page (S3's maximum). */
const listPageKeysMax = 1000;

export interface PutOnceOptions {
  cacheControl?: string;
  /**
   * Keys (and sizes) a listing taken before this write found (`keysBetween`): a key not in it
   * needs no HEAD before its first attempt. Retries always HEAD (an attempt may have written it).
   */
  listed?: ReadonlyMap<string, number>;
}

const defaults = { partBytes: 8 * 1024 * 1024, attemptsMax: 4, backoffMsBase: 100, backoffMsMax: 5_000, requestTimeoutMs: 30_000 };

export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

function md5Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("md5").update(bytes).digest("hex");
}

/** The store refused a conditional write (If-None-Match: *) because the object exists. */
function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "PreconditionFailed" || e?.$metadata?.httpStatusCode === 412;
}

function isRetryable(error: unknown): boolean {
  return !(isScribeError(error) && (error.code === "conflict" || error.code === "invalid_request" || error.code === "payload_too_large"));
}

export class Uploader {
  readonly stats: UploaderStats = { uploads: 0, skipped: 0, bytes: 0, errors: 0, retries: 0, aborts: 0 };
  readonly bucket: string;
  /** Set when a LIST was refused (403): keysBetween answers undefined from then on. */
  private listDenied = false;
  private readonly partBytes: number;
  private readonly attemptsMax: number;
  private readonly backoffMsBase: number;
  private readonly backoffMsMax: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** putOnce's PUTs: signed by the client, sent without its middleware (direct-put.ts). */
  private readonly direct: DirectPut;
  private readonly sdk = s3Sdk();

  constructor(
    readonly client: S3Client,
    options: UploaderOptions,
  ) {
    this.bucket = options.bucket;
    this.partBytes = options.partBytes ?? defaults.partBytes;
    this.attemptsMax = options.attemptsMax ?? defaults.attemptsMax;
    this.backoffMsBase = options.backoffMsBase ?? defaults.backoffMsBase;
    this.backoffMsMax = options.backoffMsMax ?? defaults.backoffMsMax;
    this.sleep = options.sleep ?? ((ms) => Bun.sleep(ms));
    this.direct = new DirectPut(client, this.bucket, options.requestTimeoutMs ?? defaults.requestTimeoutMs);
    if (this.partBytes < s3PartBytesMin) throw new RangeError(`partBytes must be >= ${s3PartBytesMin}, got ${this.partBytes}`);
    if (!(this.attemptsMax >= 1)) throw new RangeError(`attemptsMax must be >= 1, got ${this.attemptsMax}`);
  }

  /** Exponential backoff with jitter: base * 2^(attempt-1), capped, then 50..100% of that. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.backoffMsMax, this.backoffMsBase * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Runs `operation` up to attemptsMax times with backoff; counts retries and final errors. */
  async withRetries<T>(what: string, operation: (attempt: number) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attemptsMax; attempt++) {
      try {
        return await operation(attempt);
      } catch (error) {
        // A broken invariant (e.g. a source handing over a value that does not match its entry)
        // is not an S3 failure: it is neither retried nor turned into an error value.
        if (error instanceof AssertionError) throw error;
        lastError = error;
        if (!isRetryable(error) || attempt === this.attemptsMax) break;
        this.stats.retries += 1;
        await this.sleep(this.backoffMs(attempt));
      }
    }
    this.stats.errors += 1;
    if (isScribeError(lastError)) throw lastError;
    throw new ScribeError("unavailable", `${what} failed after ${this.attemptsMax} attempts: ${(lastError as Error)?.message ?? lastError}`, {
      cause: String((lastError as Error)?.name ?? "error"),
    });
  }

  /** HEAD: the object's size and user metadata, or undefined when absent. */
  async head(key: string): Promise<HeadResult | undefined> {
    try {
      const response = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: response.ContentLength ?? 0, metadata: response.Metadata ?? {} };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Streams an object's bytes (optionally a byte range, inclusive). */
  async *getStream(key: string, range?: { start: number; end: number }): AsyncGenerator<Uint8Array> {
    const response = await this.client.send(
      new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }),
    );
    const body = response.Body as unknown as AsyncIterable<Uint8Array> | undefined;
    if (!body) return;
    for await (const chunk of body) yield chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer);
  }

  /** Reads a whole object into memory, refusing objects above `bytesMax`. */
  async getBytes(key: string, bytesMax: number): Promise<Uint8Array | undefined> {
    const head = await this.head(key);
    if (!head) return undefined;
    if (head.bytes > bytesMax) throw new ScribeError("payload_too_large", `object ${key} has ${head.bytes} bytes, limit ${bytesMax}`);
    const parts: Uint8Array[] = [];
    let length = 0;
    for await (const chunk of this.getStream(key)) {
      length += chunk.length;
      if (length > bytesMax) throw new ScribeError("payload_too_large", `object ${key} exceeds ${bytesMax} bytes`);
      parts.push(chunk);
    }
    return concatBytes(parts);
  }

  /** Reads an object back and hashes it as it streams. */
  async digest(key: string): Promise<ObjectDigest> {
    const hash = new StreamHash();
    for await (const chunk of this.getStream(key)) hash.update(chunk);
    return { bytes: hash.bytes, sha256: toHex(hash.digest()) };
  }

  /** Overwritable small object (manifest, checkpoint, pending marker), with retries. */
  async putBytes(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.withRetries(`put ${key}`, () =>
      this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: contentType, ContentLength: bytes.length })),
    );
  }

  /**
   * Writes a small immutable object exactly once (tiles, entry bundles): an object already there
   * with the same bytes is left alone ("existed"); one with other bytes is a conflict and is never
   * overwritten. The PUT carries `If-None-Match: *`, so a store that honours it (AWS S3, MinIO)
   * refuses a racing second writer with 412, which is then compared like an existing object; a
   * store that ignores it (s3rver) is covered by the HEAD before. What the store received is
   * checked before "written" is reported: by the PUT's ETag (the MD5 of a single-part object)
   * when it is one, else by reading the object back. With `listed`, a key the listing did not find
   * is not HEADed before its first attempt.
   */
  async putOnce(key: string, bytes: Uint8Array, contentType: string, options: PutOnceOptions = {}): Promise<"written" | "existed"> {
    const { cacheControl, listed } = options;
    return this.withRetries(`put-once ${key}`, async (attempt) => {
      const absent = attempt === 1 && listed !== undefined && !listed.has(key);
      if (!absent && (await this.storedSame(key, bytes))) return "existed";
      let etag: string | undefined;
      try {
        ({ etag } = await this.direct.put(key, bytes, { contentType, ifNoneMatch: "*", ...(cacheControl ? { cacheControl } : {}) }));
      } catch (error) {
        if (!isPreconditionFailed(error)) throw error;
        if (await this.storedSame(key, bytes)) return "existed";
        throw new ScribeError("unavailable", `object ${key}: the store refused the write as existing, but has no such object`);
      }
      // A single-part object's ETag is the MD5 of what the store received (S3, MinIO, s3rver;
      // not under SSE-KMS): when it matches, that is the read-back; otherwise read it back.
      if (etag?.replaceAll('"', "") === md5Hex(bytes)) return "written";
      const back = await this.readBack(key, bytes.length);
      if (!back || !bytesEqual(back, bytes)) {
        // Our own object came back different: remove it so the next attempt writes it again.
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
        throw new ScribeError("verification_failed", `object ${key} read back as ${back?.length ?? "no"} bytes differing from the ${bytes.length} written`, { object_key: key });
      }
      return "written";
    });
  }

  /** One GET of an object of known size (no HEAD first); undefined when absent or longer than expected. */
  private async readBack(key: string, bytesExpected: number): Promise<Uint8Array | undefined> {
    const parts: Uint8Array[] = [];
    let length = 0;
    try {
      for await (const chunk of this.getStream(key)) {
        length += chunk.length;
        if (length > bytesExpected) return undefined;
        parts.push(chunk);
      }
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return concatBytes(parts);
  }

  /** True when `key` holds exactly `bytes`, false when absent; a conflict when it holds others. */
  private async storedSame(key: string, bytes: Uint8Array): Promise<boolean> {
    const head = await this.head(key);
    if (!head) return false;
    const stored = head.bytes === bytes.length ? await this.readBack(key, bytes.length) : undefined;
    if (stored && bytesEqual(stored, bytes)) return true;
    throw new ScribeError("conflict", `object ${key} exists with other bytes (${head.bytes} bytes, want ${bytes.length}); not overwriting it`, { object_key: key });
  }

  /**
   * The keys from `first` to `last` (inclusive, in S3's lexicographic order) that exist, with
   * their sizes: which of a batch of write-once keys are already there, in a LIST page per
   * `listPageKeysMax` keys instead of a HEAD per key. Undefined when the credentials may not list
   * the bucket (no `s3:ListBucket`; remembered): the caller then HEADs each key.
   */
  async keysBetween(first: string, last: string): Promise<Map<string, number> | undefined> {
    if (this.listDenied) return undefined;
    assert(first <= last, `keysBetween: ${first} after ${last}`);
    let prefix = 0;
    while (prefix < first.length && first[prefix] === last[prefix]) prefix++;
    const found = new Map<string, number>();
    let startAfter = first.slice(0, -1); // just before `first` (StartAfter is exclusive)
    for (;;) {
      const page = await this.withRetries(`list ${first}..${last}`, () =>
        this.client
          .send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: first.slice(0, prefix), StartAfter: startAfter, MaxKeys: listPageKeysMax }))
          .catch((error) => {
            if ((error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode !== 403) throw error;
            this.listDenied = true;
            return undefined;
          }),
      );
      if (!page) return undefined;
      const contents = page.Contents ?? [];
      for (const object of contents) {
        if (object.Key === undefined || object.Key < first) continue;
        if (object.Key > last) return found;
        found.set(object.Key, object.Size ?? 0);
      }
      if (!page.IsTruncated || contents.length === 0) return found;
      startAfter = contents.at(-1)!.Key!;
    }
  }

  async delete(key: string): Promise<void> {
    await this.withRetries(`delete ${key}`, () => this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  /** Writes an immutable object once; see the module comment. */
  async writeOnce(request: WriteOnceRequest): Promise<WriteOnceResult> {
    const identity = request.metadata[request.identityField];
    assert(identity !== undefined, `metadata lacks identity field ${request.identityField}`);
    return this.withRetries(`upload ${request.key}`, async () => {
      const existing = await this.head(request.key);
      if (existing) {
        const found = existing.metadata[request.identityField];
        if (found !== identity) {
          throw new ScribeError("conflict", `object ${request.key} exists with ${request.identityField}=${found}, expected ${identity}; not overwriting`, {
            object_key: request.key,
          });
        }
        const digest = await this.digest(request.key);
        this.checkDigest(request.key, digest, existing.bytes, existing.metadata["sha256"]);
        await request.verifyExisting?.(request.key, digest);
        this.stats.skipped += 1;
        return { ...digest, skipped: true };
      }
      const uploaded = await this.uploadStream(request.key, request.body(), request.metadata, request.contentType);
      const readBack = await this.digest(request.key);
      if (readBack.bytes !== uploaded.bytes || readBack.sha256 !== uploaded.sha256) {
        // Our own object came back different: remove it so the next attempt writes it again.
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: request.key })).catch(() => undefined);
        throw new ScribeError(
          "verification_failed",
          `object ${request.key} read back as ${readBack.bytes} bytes sha256 ${readBack.sha256}, uploaded ${uploaded.bytes} bytes sha256 ${uploaded.sha256}`,
          { object_key: request.key },
        );
      }
      this.stats.uploads += 1;
      this.stats.bytes += uploaded.bytes;
      return { ...uploaded, skipped: false };
    });
  }

  private checkDigest(key: string, digest: ObjectDigest, headBytes: number, metadataSha256: string | undefined): void {
    if (digest.bytes !== headBytes) {
      throw new ScribeError("verification_failed", `object ${key}: HEAD says ${headBytes} bytes, GET gave ${digest.bytes}`, { object_key: key });
    }
    if (metadataSha256 !== undefined && metadataSha256 !== digest.sha256) {
      throw new ScribeError("conflict", `object ${key}: stored sha256 ${metadataSha256} but its bytes hash to ${digest.sha256}`, { object_key: key });
    }
  }

  /**
   * One upload attempt, streaming: a single PutObject when the body fits in one part (its sha256
   * then goes into the metadata too), else a multipart upload with one part in flight while the
   * next fills. Aborts the multipart upload on any failure.
   */
  async uploadStream(key: string, source: ChunkSource, metadata: Record<string, string>, contentType = "application/octet-stream"): Promise<ObjectDigest> {
    const hash = new StreamHash();
    const multipart = new MultipartWriter(this.client, { Bucket: this.bucket, Key: key, Metadata: metadata, ContentType: contentType });
    // A body already in memory (an array of chunks) gets parts no larger than what is left of it:
    // a fresh buffer is zero-filled, and a segment object is usually far below partBytes.
    let unread = Array.isArray(source) ? source.reduce((sum: number, chunk: Uint8Array) => sum + chunk.length, 0) : Infinity;
    const newPart = (): Uint8Array => new Uint8Array(Math.min(this.partBytes, unread));
    let part = newPart();
    let partFill = 0;
    try {
      for await (const chunk of source) {
        hash.update(chunk);
        let offset = 0;
        while (offset < chunk.length) {
          if (partFill === part.length) {
            await multipart.send(part);
            part = newPart();
            partFill = 0;
          }
          const n = Math.min(chunk.length - offset, part.length - partFill);
          part.set(chunk.subarray(offset, offset + n), partFill);
          partFill += n;
          offset += n;
          unread -= n;
        }
      }
      const sha256 = toHex(hash.digest());
      const last = part.subarray(0, partFill);
      if (!multipart.started) {
        await this.client.send(
          new this.sdk.PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: last,
            ContentLength: last.length,
            ContentType: contentType,
            Metadata: { ...metadata, sha256 },
          }),
        );
      } else {
        await multipart.send(last);
        await multipart.complete();
      }
      return { bytes: hash.bytes, sha256 };
    } catch (error) {
      if (await multipart.abort()) this.stats.aborts += 1;
      throw error;
    }
  }
}

/**
 * One multipart upload: created on the first part, at most one part in flight (memory stays at
 * about two parts), completed with the parts in order, or aborted.
 */
class MultipartWriter {
  private uploadId: string | undefined;
  private readonly parts: { ETag: string; PartNumber: number }[] = [];
  private partsSent = 0;
  private inFlight: Promise<void> | undefined;
  private readonly sdk = s3Sdk();

  constructor(
    private readonly client: S3Client,
    private readonly target: { Bucket: string; Key: string; Metadata: Record<string, string>; ContentType: string },
  ) {}

  get started(): boolean {
    return this.uploadId !== undefined;
  }

  /** Starts uploading `bytes` as the next part once the previous part has been acknowledged. */
  async send(bytes: Uint8Array): Promise<void> {
    if (this.uploadId === undefined) {
      const created = await this.client.send(new this.sdk.CreateMultipartUploadCommand(this.target));
      assert(created.UploadId, `no UploadId for ${this.target.Key}`);
      this.uploadId = created.UploadId;
    }
    if (this.inFlight) await this.inFlight;
    const partNumber = ++this.partsSent;
    if (partNumber > s3PartsMax) throw new ScribeError("payload_too_large", `object ${this.target.Key} needs more than ${s3PartsMax} parts`);
    const uploadId = this.uploadId;
    this.inFlight = (async () => {
      const response = await this.client.send(
        new this.sdk.UploadPartCommand({ Bucket: this.target.Bucket, Key: this.target.Key, UploadId: uploadId, PartNumber: partNumber, Body: bytes, ContentLength: bytes.length }),
      );
      assert(response.ETag, `no ETag for part ${partNumber} of ${this.target.Key}`);
      this.parts.push({ ETag: response.ETag, PartNumber: partNumber });
    })();
    this.inFlight.catch(() => undefined); // observed when awaited; no unhandled rejection meanwhile
  }

  async complete(): Promise<void> {
    assert(this.uploadId !== undefined, "complete before any part");
    if (this.inFlight) await this.inFlight;
    const parts = [...this.parts].sort((a, b) => a.PartNumber - b.PartNumber);
    await this.client.send(
      new this.sdk.CompleteMultipartUploadCommand({ Bucket: this.target.Bucket, Key: this.target.Key, UploadId: this.uploadId, MultipartUpload: { Parts: parts } }),
    );
  }

  /** Aborts a started upload (best effort); returns whether there was one to abort. */
  async abort(): Promise<boolean> {
    if (this.uploadId === undefined) return false;
    if (this.inFlight) await this.inFlight.catch(() => undefined);
    await this.client
      .send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.target.Bucket, Key: this.target.Key, UploadId: this.uploadId }))
      .catch(() => undefined);
    return true;
  }
}
