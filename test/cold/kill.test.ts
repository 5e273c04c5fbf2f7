import { afterAll, beforeAll, expect, test } from "bun:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { toHex } from "../../src/lib/index.ts";
import { Archiver, readManifest, restoreFromBucket } from "../../src/storage/cold/index.ts";
import { startS3Server, type S3ServerHandle } from "../support/s3-server.ts";
import { leavesOf, makeRecords, MemorySource, naiveTreeHash, wireS3 } from "./fixtures.ts";
import { killTestLedger } from "./kill-fixture.ts";

let server: S3ServerHandle;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server.stop();
});

test("kill -9 in the middle of a multipart upload: the restart writes the same single object", async () => {
  const prefix = "killed";
  const child = Bun.spawn(["bun", new URL("./archive-child.ts", import.meta.url).pathname, server.endpoint, server.bucket, prefix], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const seen: string[] = [];
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = child.stdout.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value);
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    seen.push(...lines);
    if (seen.filter((l) => l === "command UploadPartCommand").length >= 2) {
      child.kill(9);
      break;
    }
  }
  await child.exited;
  expect(child.signalCode).toBe("SIGKILL");
  expect(seen).toContain("command PutObjectCommand"); // the pending marker
  expect(seen.some((l) => l.startsWith("done"))).toBe(false);

  const s3 = wireS3(server, { prefix });
  expect(await readManifest(s3.uploader, s3.layout)).toBeUndefined();
  const records = makeRecords(killTestLedger.count, killTestLedger.seed, { maxValueBytes: killTestLedger.maxValueBytes });
  const source = new MemorySource(records);
  const archiver = new Archiver({ source, uploader: s3.uploader, layout: s3.layout, config: killTestLedger.config, onSegmentArchived: source.onSegmentArchived });
  const result = await archiver.runOnce(Date.now());
  expect(result.error).toBeUndefined();
  expect(result.archived.length).toBe(1);
  expect(result.archived[0]).toMatchObject({ first_index: 0, last_index: killTestLedger.count - 1 });
  expect(result.archived[0]!.object_bytes).toBeGreaterThan(10 * 1024 * 1024);

  const listed = await s3.uploader.client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${prefix}/segments/` }));
  expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([result.archived[0]!.object_key]);
  const restored = await restoreFromBucket({ uploader: s3.uploader, layout: s3.layout, sink: () => {} });
  expect(restored.root).toBe(toHex(naiveTreeHash(leavesOf(records))));
}, 60_000);
