/**
 * GET /ready's S3 check with a real s3rver on loopback, and the cold tier's S3 state behind it
 * (src/cluster/archival.ts `s3State`): it is what the node last learned from S3 — the start
 * check, an archival pass, a follower's manifest read, a read-through, or a HeadBucket — and a
 * /ready call never waits for S3: a state older than 30 s (or none) starts one HeadBucket in
 * the background, never more than one at a time.
 */
import { describe, expect, test } from "bun:test";
import { ColdTier } from "../../src/cluster/archival.ts";
import { s3StateAgeMsMax } from "../../src/cluster/s3-state.ts";
import { createLogger } from "../../src/cluster/logger.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { BucketProbe } from "../../src/storage/cold/index.ts";
import { freePort } from "../support/node-process.ts";
import { coldOverrides, openNode } from "./support.ts";
import { s3Fixture } from "../support/s3-fixture.ts";

const fixture = s3Fixture("scribe-cold-ready-");
const dir = () => fixture.dir();

const silent = createLogger({ ...loadConfig({}).logging, level: "silent" });

interface Readiness {
  ready: boolean;
  reasons?: string[];
  checks: { s3: Record<string, unknown> };
}

async function readyUntil(call: (method: string, path: string) => Promise<Response>, status: number): Promise<Readiness> {
  for (let i = 0; i < 200; i++) {
    const response = await call("GET", "/ready");
    if (response.status === status) return (await response.json()) as Readiness;
    await Bun.sleep(25);
  }
  throw new Error(`/ready never answered ${status}`);
}

describe("GET /ready with a bucket", () => {
  test("reachable: ready once S3 answered (a HeadBucket started by /ready itself)", async () => {
    const n = await openNode(dir(), coldOverrides(fixture.s3, "ready-up", { "storage.tiering.enable_auto_archival": false }));
    try {
      const body = await readyUntil(n.call, 200);
      expect(body.checks.s3).toMatchObject({ ok: true, configured: true, required: true, reachable: true, source: "probe" });
    } finally {
      await n.node.close();
    }
  });

  test("unreachable: 503 naming S3; with api.ready_requires_s3 = false, ready and still shown", async () => {
    const closed = `http://127.0.0.1:${freePort()}`;
    const n = await openNode(dir(), coldOverrides(fixture.s3, "ready-down", { "storage.s3.endpoint": closed, "storage.tiering.enable_auto_archival": false }));
    try {
      const body = await readyUntil(n.call, 503);
      // The first answer may come before the HeadBucket ends (unknown); then it is a refusal.
      const known = body.checks.s3.reachable === false ? body : await (async () => {
        for (let i = 0; i < 400; i++) {
          const b = (await (await n.call("GET", "/ready")).json()) as Readiness;
          if (b.checks.s3.reachable === false) return b;
          await Bun.sleep(25);
        }
        throw new Error("S3 never known unreachable");
      })();
      expect(known.checks.s3).toMatchObject({ ok: false, reachable: false, source: "probe" });
      expect(known.reasons!.join(" ")).toContain("s3: S3 was unreachable when last tried (probe): unreachable");
      expect((await n.call("GET", "/health")).status).toBe(200);
    } finally {
      await n.node.close();
    }
    const tolerant = await openNode(dir(), coldOverrides(fixture.s3, "ready-down2", { "storage.s3.endpoint": closed, "storage.tiering.enable_auto_archival": false, "api.ready_requires_s3": false }));
    try {
      for (let i = 0; i < 400; i++) {
        const b = (await (await tolerant.call("GET", "/ready")).json()) as Readiness;
        if (b.checks.s3.reachable === false) {
          expect(b.ready).toBe(true);
          expect(b.checks.s3).toMatchObject({ ok: true, required: false });
          return;
        }
        await Bun.sleep(25);
      }
      throw new Error("S3 never known unreachable");
    } finally {
      await tolerant.node.close();
    }
  });
});

describe("the cold tier's S3 state", () => {
  test("refreshed by at most one background HeadBucket when older than 30 s; archival and manifest reads update it", async () => {
    const n = await openNode(dir(), coldOverrides(fixture.s3, "state", { "storage.tiering.enable_auto_archival": false }));
    await n.node.cold?.stop();
    let now = 1_000_000;
    let probes = 0;
    let release: (probe: BucketProbe) => void = () => {};
    const tier = new ColdTier({
      config: n.config,
      ledger: n.node.ledger,
      logger: silent,
      isLeader: () => false,
      checkpointAt: () => Promise.reject(new Error("this test archives nothing")),
      now: () => now,
      probe: () => {
        probes++;
        return new Promise<BucketProbe>((resolve) => (release = resolve));
      },
    });
    try {
      expect(tier.s3State()).toEqual({ reachable: null, age_ms: null, source: null, detail: null });
      expect(tier.s3State().reachable).toBeNull();
      expect(probes).toBe(1); // one in flight, however often /ready asks
      release({ ok: false, where: "bucket", elapsedMs: 3, problem: "unreachable", detail: "ECONNREFUSED" });
      await tier.settled();
      expect(tier.s3State()).toEqual({ reachable: false, age_ms: 0, source: "probe", detail: "unreachable: ECONNREFUSED" });
      now += s3StateAgeMsMax;
      expect(tier.s3State().age_ms).toBe(s3StateAgeMsMax);
      expect(probes).toBe(1); // not older than the bound yet
      await tier.runOnce(); // a follower's pass reads the bucket's manifest: S3 answered
      expect(tier.s3State()).toMatchObject({ reachable: true, age_ms: 0, source: "manifest", detail: null });
      now += s3StateAgeMsMax + 1;
      expect(tier.s3State()).toMatchObject({ reachable: true, age_ms: s3StateAgeMsMax + 1 }); // the last known state, while...
      expect(probes).toBe(2); // ...a HeadBucket refreshes it
      release({ ok: true, where: "bucket", elapsedMs: 1 });
      await tier.settled();
      expect(tier.s3State()).toMatchObject({ reachable: true, age_ms: 0, source: "probe" });
      tier.noteProbe({ ok: false, where: "bucket", elapsedMs: 1, problem: "access_denied", detail: "403" }, "start check");
      expect(tier.s3State()).toMatchObject({ reachable: false, source: "start check", detail: "access_denied: 403" });
    } finally {
      await tier.stop();
      await n.node.close();
    }
  });
});
