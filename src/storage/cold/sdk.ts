/**
 * @module sdk. The AWS SDK's S3 client, loaded the first time the cold tier needs it. Loading it
 * takes about 150-200 ms of CPU and 30 MB of memory (its CommonJS modules and their dependencies),
 * a third of a node's start, which a node without `storage.s3` never needs (docs/PERFORMANCE.md
 * section 13). Every module of the cold tier that makes a client or a command takes the SDK from
 * here; the others import its types only, which the transpiler erases.
 */

export type S3Sdk = typeof import("@aws-sdk/client-s3");

let loaded: S3Sdk | undefined;

/** The SDK's module, loaded (synchronously) on the first call. */
export function s3Sdk(): S3Sdk {
  return (loaded ??= require("@aws-sdk/client-s3") as S3Sdk);
}
