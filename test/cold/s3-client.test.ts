import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { createS3Client, type S3Config } from "../../src/storage/cold/index.ts";

/** A TCP server that accepts connections and never answers: every request must time out. */
let silent: { port: number; stop(closeActiveConnections?: boolean): void };
let connections = 0;
beforeAll(() => {
  silent = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open() {
        connections += 1;
      },
      data() {},
    },
  });
});
afterAll(() => {
  silent.stop(true);
});

const base: S3Config = {
  bucket: "scribe",
  region: "us-east-1",
  access_key_id: "x",
  secret_access_key: "y",
  path_style: true,
  timeout_secs: 0.3,
  max_retries: 1,
};

describe("createS3Client", () => {
  test("a request to a server that never answers times out, and is retried max_retries times", async () => {
    const client = createS3Client({ ...base, endpoint: `http://127.0.0.1:${silent.port}` });
    const started = performance.now();
    let caught: { name?: string; $metadata?: { attempts?: number } } | undefined;
    try {
      await client.send(new HeadObjectCommand({ Bucket: "scribe", Key: "k" }));
    } catch (error) {
      caught = error as typeof caught;
    }
    const elapsedMs = performance.now() - started;
    expect(caught).toBeDefined();
    expect(caught!.$metadata?.attempts).toBe(2);
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(elapsedMs).toBeGreaterThanOrEqual(550);
    expect(elapsedMs).toBeLessThan(10_000);
  });

  test("refuses bad settings with the key named", () => {
    expect(() => createS3Client({ ...base, bucket: "" })).toThrow(/bucket/);
    expect(() => createS3Client({ ...base, timeout_secs: 0 })).toThrow(/timeout_secs/);
    expect(() => createS3Client({ ...base, max_retries: -1 })).toThrow(/max_retries/);
  });

  test("checksums are computed and validated only when required", async () => {
    const client = createS3Client({ ...base, endpoint: "http://127.0.0.1:1" });
    expect(await client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
    expect(await client.config.responseChecksumValidation()).toBe("WHEN_REQUIRED");
    expect(await client.config.maxAttempts()).toBe(2);
  });
});

describe("createColdStorage", () => {
  test("wires client, uploader and layout from one config", async () => {
    const { createColdStorage } = await import("../../src/storage/cold/index.ts");
    const storage = createColdStorage({ ...base, endpoint: "http://127.0.0.1:1", prefix: "cluster-a" });
    expect(storage.uploader.bucket).toBe("scribe");
    expect(storage.layout.manifestKey()).toBe("cluster-a/manifest.json");
    expect(storage.uploader.client).toBe(storage.client);
  });
});
