/**
 * @module cold-node support. A node wired to a real s3rver on loopback: configuration overrides
 * (or SCRIBE_STORAGE_* environment variables for spawned processes), an in-process node with its
 * app, and a look at what s3rver holds on disk.
 */

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { makeApp } from "../support/app.ts";
import type { S3ServerHandle } from "../support/s3-server.ts";

/** Small segments, immediate sealing and eviction, few retries: the cold tier at test speed. */
export function coldOverrides(s3: S3ServerHandle, prefix: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "storage.s3.bucket": s3.bucket,
    "storage.s3.endpoint": s3.endpoint,
    "storage.s3.access_key_id": s3.accessKeyId,
    "storage.s3.secret_access_key": s3.secretAccessKey,
    "storage.s3.path_style": true,
    "storage.s3.prefix": prefix,
    "storage.s3.max_retries": 1,
    "storage.s3.timeout_secs": 5,
    "storage.segment_size": 4096,
    "storage.tiering.age_threshold_secs": 0,
    "storage.tiering.archival_check_interval_secs": 3600,
    ...extra,
  };
}

/** The same settings as SCRIBE_<SECTION>_<KEY> environment variables. */
export function coldEnv(s3: S3ServerHandle, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(coldOverrides(s3, prefix))) env[`SCRIBE_${name.replaceAll(".", "_").toUpperCase()}`] = String(value);
  return { ...env, ...extra };
}

export async function openNode(dataDir: string, overrides: Record<string, unknown>) {
  const { node, app, config, call } = await makeApp({ ...overrides, "node.data_dir": dataDir });
  const cold = async () => ((await (await call("GET", "/metrics")).json()) as { cold: Record<string, number> }).cold;
  return { node, app, config, call, cold };
}

/** Deterministic pseudo-random values of varied sizes (binary, including zero bytes). */
export function makeValues(count: number, seed: number, bytesMax = 600): Uint8Array[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const value = new Uint8Array(1 + Math.floor(next() * bytesMax));
    for (let i = 0; i < value.length; i++) value[i] = Math.floor(next() * 256);
    return value;
  });
}

/** Every object key s3rver holds under `prefix/`, from its directory (not through the S3 API). */
export function listStored(s3: S3ServerHandle, prefix: string): string[] {
  const root = join(s3.dir, s3.bucket);
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      if (name.endsWith("._S3rver_object")) out.push(relPath.slice(0, -"._S3rver_object".length));
      else if (!name.includes("._S3rver_")) walk(path, relPath);
    }
  };
  walk(join(root, prefix), prefix);
  return out.sort();
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
