/**
 * Child process for the kill -9 test: archives a deterministic ledger into the given S3 endpoint
 * and prints every S3 command it sends, one per line, so the parent can kill it mid-upload.
 *   bun test/cold/archive-child.ts <endpoint> <bucket> <prefix>
 */

import { Archiver } from "../../src/storage/cold/index.ts";
import { makeRecords, MemorySource, recordCommands, wireS3 } from "./fixtures.ts";
import { killTestLedger } from "./kill-fixture.ts";

const [endpoint, bucket, prefix] = Bun.argv.slice(2) as [string, string, string];
const s3 = wireS3({ endpoint, bucket, accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, { prefix });
const commands = recordCommands(s3.uploader.client);
const originalPush = commands.push.bind(commands);
commands.push = (...items) => {
  for (const item of items) console.log(`command ${item.name}`);
  return originalPush(...items);
};
const source = new MemorySource(makeRecords(killTestLedger.count, killTestLedger.seed, { maxValueBytes: killTestLedger.maxValueBytes }));
const archiver = new Archiver({ source, uploader: s3.uploader, layout: s3.layout, config: killTestLedger.config, onSegmentArchived: source.onSegmentArchived });
const result = await archiver.runOnce(Date.now());
console.log(`done ${result.archived.length} ${result.error?.message ?? ""}`);
