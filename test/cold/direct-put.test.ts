/**
 * The direct PUT of small objects (src/storage/cold/direct-put.ts): signed by the S3 client's own
 * signer and sent with fetch. Against a real s3rver on loopback (which stores objects but does not
 * check SigV4 signatures), and against a loopback server that checks each request's signature with
 * an independent SigV4 computation (what AWS S3 and MinIO do); and how Uploader.putOnce reports
 * its failures.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createS3Client } from "../../src/storage/cold/s3-client.ts";
import { DirectPut, S3RequestError } from "../../src/storage/cold/direct-put.ts";
import { Uploader } from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { wireS3 } from "./fixtures.ts";

let server: S3ServerHandle;

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server.stop();
});

function client(options: { accessKeyId?: string; secret?: string; endpoint?: string; timeoutSecs?: number } = {}) {
  return createS3Client({
    bucket: server.bucket,
    region: "eu-west-1",
    endpoint: options.endpoint ?? server.endpoint,
    access_key_id: options.accessKeyId ?? server.accessKeyId,
    secret_access_key: options.secret ?? server.secretAccessKey,
    path_style: true,
    timeout_secs: options.timeoutSecs ?? 5,
    max_retries: 0,
  });
}

const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("hex");
const hmac = (key: string | Uint8Array, text: string) => new Bun.CryptoHasher("sha256", key).update(text).digest() as Uint8Array;

/** The AWS SigV4 check of a request, computed here from the specification, not by the SDK. */
function sigV4Valid(request: Request, path: string, body: Uint8Array, secret: string): boolean {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(request.headers.get("authorization") ?? "");
  if (!auth) return false;
  const [, , date, region, service, signedHeaders, signature] = auth as unknown as string[];
  const payloadHash = request.headers.get("x-amz-content-sha256");
  if (payloadHash !== hex(Bun.SHA256.hash(body) as Uint8Array)) return false;
  const names = signedHeaders!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date") || !names.includes("x-amz-content-sha256")) return false;
  const canonicalHeaders = names.map((n) => `${n}:${(request.headers.get(n) ?? "").trim()}\n`).join("");
  const canonicalRequest = [request.method, path, "", canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", request.headers.get("x-amz-date"), scope, hex(Bun.SHA256.hash(new TextEncoder().encode(canonicalRequest)) as Uint8Array)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), "aws4_request");
  return hex(hmac(key, stringToSign)) === signature && region === "eu-west-1" && service === "s3";
}

describe("direct PUT", () => {
  test("stores the bytes under keys that need percent-encoding, and answers the ETag (the MD5 of the bytes)", async () => {
    const put = new DirectPut(client(), server.bucket, 5_000);
    const bytes = new TextEncoder().encode("tile bytes");
    for (const key of ["plain/tile/0/001", "odd/a b+c=d&e'(f)*!/ü/x~y"]) {
      const { etag } = await put.put(key, bytes, { contentType: "application/octet-stream", cacheControl: "public, max-age=31536000, immutable" });
      expect(etag?.replaceAll('"', "")).toBe(new Bun.CryptoHasher("md5").update(bytes).digest("hex"));
      expect(Buffer.from(readFileSync(server.objectPath(key))).equals(Buffer.from(bytes))).toBe(true);
    }
    const head = await wireS3(server).uploader.head("plain/tile/0/001");
    expect(head?.bytes).toBe(bytes.length);
  });

  test("each request carries a valid SigV4 signature over its path, headers and payload hash", async () => {
    const seen: { path: string; valid: boolean }[] = [];
    const checker = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const body = new Uint8Array(await request.arrayBuffer());
        const path = new URL(request.url).pathname;
        seen.push({ path, valid: sigV4Valid(request, path, body, server.secretAccessKey) });
        return new Response("", { headers: { etag: `"${new Bun.CryptoHasher("md5").update(body).digest("hex")}"` } });
      },
    });
    try {
      const put = new DirectPut(client({ endpoint: `http://127.0.0.1:${checker.port}` }), "signed-bucket", 5_000);
      await put.put("tile/0/x001/234", new Uint8Array([1, 2, 3]), { contentType: "application/octet-stream", cacheControl: "no-cache", ifNoneMatch: "*" });
      await put.put("a b/ü+'(x)*!", new Uint8Array(0), { contentType: "text/plain" });
      expect(seen).toEqual([
        { path: "/signed-bucket/tile/0/x001/234", valid: true },
        { path: "/signed-bucket/a%20b/%C3%BC%2B%27%28x%29%2A%21", valid: true },
      ]);
    } finally {
      checker.stop(true);
    }
  });

  test("an error answer is thrown with the store's error code and HTTP status", async () => {
    const put = new DirectPut(client({ accessKeyId: "NOBODY" }), server.bucket, 5_000);
    const error = await put.put("denied/x", new Uint8Array(3), { contentType: "application/octet-stream" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3RequestError);
    expect((error as S3RequestError).name).toBe("InvalidAccessKeyId");
    expect((error as S3RequestError).$metadata.httpStatusCode).toBe(403);
  });

  test("a store that never answers: putOnce gives up after its attempts with `unavailable`, each attempt bounded by the request timeout", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const uploader = new Uploader(client({ endpoint: `http://127.0.0.1:${silent.port}`, timeoutSecs: 0.2 }), {
        bucket: server.bucket,
        attemptsMax: 2,
        backoffMsBase: 1,
        backoffMsMax: 2,
        requestTimeoutMs: 200,
      });
      const error = await uploader.putOnce("never/x", new Uint8Array(3), "application/octet-stream", { listed: new Map() }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "unavailable" });
      expect(String((error as Error).message)).toContain("put-once never/x failed after 2 attempts");
      expect(uploader.stats.retries).toBe(1);
      expect(uploader.stats.errors).toBe(1);
    } finally {
      silent.stop(true);
    }
  });
});
