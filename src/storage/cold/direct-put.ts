/**
 * @module direct-put. One PutObject of a small in-memory object, signed with the S3 client's own
 * SigV4 signer and sent with Bun's `fetch`, outside the client's middleware stack.
 *
 * Why: archiving a segment writes about 150 small objects (a hash tile and an entry bundle per 256
 * entries), and the SDK's per-command machinery (middleware, serde, its node:http handler) costs
 * about 1.1-1.5 ms of CPU per 8 KiB PutObject on this machine, against about 0.3 ms for the same
 * signed request through `fetch` (docs/PERFORMANCE.md, section 11). Everything that decides what
 * the request is still comes from the client: the credentials, region and signing name through its
 * signer, the URL through its endpoint rule set (resolved once per bucket), its clock offset.
 * Only the transport differs, so configuration (endpoint, path style, credentials) means the same.
 *
 * The payload's SHA-256 is signed (`x-amz-content-sha256`), so the store checks what it received.
 * An error answer is thrown as an `S3RequestError` named after the S3 error code, with the HTTP
 * status in `$metadata.httpStatusCode` as the SDK's exceptions carry it, so callers classify both
 * the same way. One request per call: the caller (Uploader.withRetries) retries.
 */

import type { S3Client } from "@aws-sdk/client-s3";
import { toHex } from "../../lib/index.ts";
import { sha256 } from "./hashing.ts";

export interface DirectPutHeaders {
  contentType: string;
  cacheControl?: string;
  /** `*`: the store refuses the write (412) when the key exists. */
  ifNoneMatch?: string;
}

/** An S3 error answer (or a failed request) in the shape of the SDK's service exceptions. */
export class S3RequestError extends Error {
  readonly $metadata: { httpStatusCode?: number };

  constructor(name: string, message: string, httpStatusCode?: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode };
  }
}

interface Target {
  /** Origin and path prefix of the bucket, without a trailing `/`. */
  base: URL;
  signingRegion: string;
  signingService: string;
}

interface Signer {
  sign(request: SignableRequest, options: { signingDate?: Date; signingRegion?: string; signingService?: string }): Promise<{ headers: Record<string, string> }>;
}

interface SignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The parts of the client's resolved configuration this module reads (not in its public types). */
interface ClientConfig {
  signer: () => Promise<Signer>;
  endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
  endpointProvider: (params: Record<string, unknown>, context: object) => { url: URL; properties?: { authSchemes?: { signingName?: string; signingRegion?: string }[] } };
  region: () => Promise<string>;
  useFipsEndpoint: () => Promise<boolean>;
  useDualstackEndpoint: () => Promise<boolean>;
  forcePathStyle?: boolean;
  useAccelerateEndpoint?: boolean;
  useGlobalEndpoint?: boolean;
  disableMultiregionAccessPoints?: boolean;
  useArnRegion?: boolean;
  systemClockOffset?: number;
}

/** Percent-encodes one path segment of an object key as S3's SigV4 canonical URI expects it. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The text of `<name>` in an S3 XML error body. */
function xmlField(body: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
}

export class DirectPut {
  private target: Promise<Target> | undefined;
  private signer: Promise<Signer> | undefined;
  private readonly config: ClientConfig;

  constructor(
    client: S3Client,
    private readonly bucket: string,
    private readonly requestTimeoutMs: number,
  ) {
    this.config = client.config as unknown as ClientConfig;
  }

  /** The bucket's URL and signing scope, from the client's endpoint rule set (once). */
  private resolve(): Promise<Target> {
    this.target ??= (async () => {
      const c = this.config;
      const endpoint = await c.endpoint?.();
      const port = endpoint?.port ? `:${endpoint.port}` : "";
      const region = await c.region();
      const resolved = c.endpointProvider(
        {
          Bucket: this.bucket,
          Region: region,
          UseFIPS: await c.useFipsEndpoint(),
          UseDualStack: await c.useDualstackEndpoint(),
          ForcePathStyle: c.forcePathStyle,
          Accelerate: c.useAccelerateEndpoint,
          UseGlobalEndpoint: c.useGlobalEndpoint,
          DisableMultiRegionAccessPoints: c.disableMultiregionAccessPoints,
          UseArnRegion: c.useArnRegion,
          ...(endpoint ? { Endpoint: `${endpoint.protocol}//${endpoint.hostname}${port}${endpoint.path}` } : {}),
        },
        {},
      );
      const scheme = resolved.properties?.authSchemes?.[0];
      const base = new URL(resolved.url.href.replace(/\/+$/, ""));
      return { base, signingRegion: scheme?.signingRegion ?? region, signingService: scheme?.signingName ?? "s3" };
    })();
    this.target.catch(() => (this.target = undefined));
    return this.target;
  }

  /** PUTs `bytes` at `key`; resolves with the ETag the store answered, throws S3RequestError otherwise. */
  async put(key: string, bytes: Uint8Array, headers: DirectPutHeaders): Promise<{ etag: string | undefined }> {
    const { base, signingRegion, signingService } = await this.resolve();
    this.signer ??= this.config.signer();
    const signer = await this.signer;
    const path = `${base.pathname === "/" ? "" : base.pathname}/${key.split("/").map(encodeSegment).join("/")}`;
    const request: SignableRequest = {
      method: "PUT",
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path,
      query: {},
      headers: {
        host: base.host,
        "content-type": headers.contentType,
        "content-length": String(bytes.length),
        "x-amz-content-sha256": toHex(sha256(bytes)),
        ...(headers.cacheControl ? { "cache-control": headers.cacheControl } : {}),
        ...(headers.ifNoneMatch ? { "if-none-match": headers.ifNoneMatch } : {}),
      },
      body: bytes,
    };
    const signed = await signer.sign(request, { signingDate: new Date(Date.now() + (this.config.systemClockOffset ?? 0)), signingRegion, signingService });
    const response = await fetch(`${base.origin}${path}`, { method: "PUT", headers: signed.headers, body: bytes as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(this.requestTimeoutMs) });
    const text = await response.text();
    if (response.ok) return { etag: response.headers.get("etag") ?? undefined };
    const code = xmlField(text, "Code") ?? (response.status === 412 ? "PreconditionFailed" : `Http${response.status}`);
    const message = xmlField(text, "Message");
    throw new S3RequestError(code, `PUT ${key}: ${response.status} ${code}${message ? `: ${message}` : ""}`, response.status);
  }
}
