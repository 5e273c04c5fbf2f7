/**
 * GET /metrics/prometheus: the exposition parses as Prometheus text format 0.0.4 (HELP and TYPE
 * before every family's samples, valid names, labels and values, complete histograms), and the
 * numbers are what the node did. The parser is written here, independent of prom-client.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrometheusRegistry, type MetricsSource } from "../../src/metrics/index.ts";
import { RequestMetrics } from "../../src/http/request-metrics.ts";
import { makeApp } from "../support/app.ts";

interface Family {
  help?: string;
  type?: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value ${JSON.stringify(text)}`);
  return Number(text);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const match = re.exec(text);
    if (!match) throw new Error(`bad labels {${text}} at ${at}`);
    if (match[1]! in labels) throw new Error(`duplicate label ${match[1]}`);
    labels[match[1]!] = match[2]!.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    at = re.lastIndex;
  }
  return labels;
}

/** Parses the text format into families; throws on anything malformed. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => families.get(name) ?? families.set(name, { samples: [] }).get(name)!;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!nameRe.test(name!)) throw new Error(`bad metric name ${name}`);
      const f = family(name!);
      if (f.samples.length > 0) throw new Error(`${kind} for ${name} after its samples`);
      if (kind === "HELP") {
        if (f.help !== undefined) throw new Error(`second HELP for ${name}`);
        f.help = rest!;
      } else {
        if (f.type !== undefined || !types.has(rest!)) throw new Error(`bad or second TYPE for ${name}: ${rest}`);
        f.type = rest!;
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!sample) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const [, name, labelText, value] = sample;
    const base = [...families.keys()].find((f) => name === f || ((families.get(f)!.type === "histogram" || families.get(f)!.type === "summary") && /^(_bucket|_sum|_count)$/.test(name!.slice(f.length)) && name!.startsWith(f)));
    if (!base) throw new Error(`sample ${name} has no HELP/TYPE before it`);
    family(base).samples.push({ name: name!, labels: parseLabels(labelText ?? ""), value: parseValue(value!) });
  }
  for (const [name, f] of families) {
    if (f.help === undefined || f.type === undefined) throw new Error(`${name} lacks HELP or TYPE`);
    if (f.type === "histogram") checkHistogram(name, f);
    if (f.type === "counter") for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`counter ${name} is ${s.value}`);
  }
  return families;
}

function checkHistogram(name: string, f: Family): void {
  const buckets = f.samples.filter((s) => s.name === `${name}_bucket`);
  const count = f.samples.find((s) => s.name === `${name}_count`);
  if (!count || !f.samples.some((s) => s.name === `${name}_sum`)) throw new Error(`histogram ${name} lacks _sum or _count`);
  if (buckets.at(-1)?.labels.le !== "+Inf" || buckets.at(-1)!.value !== count.value) throw new Error(`histogram ${name}: +Inf bucket must equal _count`);
  for (let i = 1; i < buckets.length; i++) if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`histogram ${name} buckets decrease`);
}

const value = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  (families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, "")))?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe("GET /metrics/prometheus", () => {
  let s: Awaited<ReturnType<typeof makeApp>>;
  beforeAll(async () => {
    s = await makeApp();
  });
  afterAll(() => s.close());

  test("is valid exposition with the original names, counting what the node did", async () => {
    await s.call("PUT", "/kv/a", { body: "hello" });
    await s.call("PUT", "/kv/b", { body: "world!" });
    await s.call("GET", "/kv/a");
    await s.call("GET", "/kv/a");
    await s.call("GET", "/kv/missing");
    await s.call("DELETE", "/kv/b");
    await s.call("POST", "/batch", { body: JSON.stringify({ ops: [{ op: "put", key: "c", value: "1" }] }) });
    const response = await s.call("GET", "/metrics/prometheus");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const families = parseExposition(await response.text());

    for (const op of ["get", "put", "delete", "batch"]) {
      expect(families.get(`scribe_ledger_${op}_requests_total`)?.type).toBe("counter");
      expect(families.get(`scribe_ledger_${op}_latency_seconds`)?.type).toBe("histogram");
    }
    expect(value(families, "scribe_ledger_get_requests_total")).toBe(3);
    expect(value(families, "scribe_ledger_put_requests_total")).toBe(2);
    expect(value(families, "scribe_ledger_delete_requests_total")).toBe(1);
    expect(value(families, "scribe_ledger_batch_requests_total")).toBe(1);
    expect(value(families, "scribe_ledger_get_errors_total")).toBe(0); // a 404 is not a server error
    expect(value(families, "scribe_ledger_get_latency_seconds_count")).toBe(3);
    expect(value(families, "scribe_ledger_get_latency_seconds_bucket", { le: "10" })).toBe(3); // every GET took less than 10 s
    expect(value(families, "scribe_ledger_get_latency_seconds_bucket", { le: "+Inf" })).toBe(3);
    expect(value(families, "scribe_ledger_get_latency_seconds_sum")).toBeGreaterThan(0);

    expect(value(families, "scribe_ledger_tree_size")).toBe(4);
    expect(value(families, "scribe_ledger_ledger_size")).toBe(4);
    expect(value(families, "scribe_ledger_storage_keys")).toBe(2); // a and c; b is deleted
    expect(value(families, "scribe_ledger_storage_bytes", { tier: "hot" })).toBe(5 + 6 + 1);
    expect(value(families, "scribe_ledger_storage_bytes", { tier: "cold" })).toBe(0);
    expect(value(families, "scribe_ledger_raft_role", { role: "leader" })).toBe(1);
    expect(value(families, "scribe_ledger_raft_is_leader")).toBe(1);
    expect(value(families, "scribe_ledger_raft_leader_id")).toBe(1);
    expect(value(families, "scribe_ledger_raft_term")).toBeGreaterThanOrEqual(1);
    expect(value(families, "scribe_ledger_raft_applied_index")).toBe(value(families, "scribe_ledger_raft_commit_index")!);
    const hits = value(families, "scribe_ledger_cache_hits_total", { cache: "heads" })! + value(families, "scribe_ledger_cache_misses_total", { cache: "heads" })!;
    expect(hits).toBeGreaterThan(0);
    for (const name of ["scribe_ledger_s3_uploads_total", "scribe_ledger_s3_upload_bytes_total", "scribe_ledger_s3_errors_total"]) {
      expect(value(families, name)).toBe(0);
    }
    // Without a cold tier nothing archives: no backlog or archived index is claimed.
    expect(value(families, "scribe_ledger_archival_backlog_entries")).toBeUndefined();
    expect(value(families, "scribe_ledger_archived_index")).toBeUndefined();
  });

  test("the parser rejects malformed exposition (so the test above can fail)", () => {
    expect(() => parseExposition("x_total 1\n")).toThrow(/HELP\/TYPE/);
    expect(() => parseExposition("# HELP x h\n# TYPE x counter\nx{a=b} 1\n")).toThrow(/labels/);
    expect(() => parseExposition("# HELP x h\n# TYPE x gauge\nx one\n")).toThrow(/value/);
    expect(() => parseExposition("# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\nx_sum 1\nx_count 1\n")).toThrow(/decrease/);
  });
});

describe("the registry reads replication lag and the cold tier at scrape time", () => {
  test("lag per peer on the leader; S3 counters and backlog from metrics().cold", async () => {
    let uploads = 3;
    const source: MetricsSource = {
      status: () => ({
        node_id: 1, role: "leader", term: 4, leader_id: 1, commit_index: 90, applied_index: 90, ledger_size: 80, healthy: true,
        membership: [{ id: 1 }, { id: 2, lag: 0, connected: true }, { id: 3, lag: 17, connected: false }],
      }),
      metrics: () => ({ tree_size: 80, cold: { enabled: true, uploads, bytes: 4096, errors: 1, backlog_entries: 12, segments_archived: 2, archived_index: 68 } }),
    };
    const registry = createPrometheusRegistry(source, new RequestMetrics());
    let families = parseExposition(await registry.metrics());
    expect(value(families, "scribe_ledger_replication_lag_entries", { peer: "3" })).toBe(17);
    expect(value(families, "scribe_ledger_replication_lag_entries", { peer: "2" })).toBe(0);
    expect(value(families, "scribe_ledger_replication_lag_entries", { peer: "1" })).toBeUndefined();
    expect(value(families, "scribe_ledger_peer_connected", { peer: "3" })).toBe(0);
    expect(value(families, "scribe_ledger_s3_uploads_total")).toBe(3);
    expect(value(families, "scribe_ledger_s3_upload_bytes_total")).toBe(4096);
    expect(value(families, "scribe_ledger_s3_errors_total")).toBe(1);
    expect(value(families, "scribe_ledger_archival_backlog_entries", { role: "leader" })).toBe(12);
    expect(value(families, "scribe_ledger_archived_index", { role: "leader" })).toBe(68);
    expect(value(families, "scribe_ledger_storage_bytes", { tier: "cold" })).toBe(4096);
    uploads = 5;
    families = parseExposition(await registry.metrics());
    expect(value(families, "scribe_ledger_s3_uploads_total")).toBe(5);
  });

  test("a follower that has not read the bucket yet shows no backlog sample (unknown), not 0", async () => {
    const source: MetricsSource = {
      status: () => ({ node_id: 2, role: "follower", term: 4, leader_id: 1, commit_index: 90, applied_index: 90, ledger_size: 80, healthy: true, membership: [] }),
      metrics: () => ({ cold: { enabled: true, archival_role: "follower", backlog_entries: null, archived_index: null, uploads: 0 } }),
    };
    const families = parseExposition(await createPrometheusRegistry(source, new RequestMetrics()).metrics());
    expect(families.get("scribe_ledger_archival_backlog_entries")?.samples).toEqual([]);
    expect(families.get("scribe_ledger_archived_index")?.samples).toEqual([]);
    expect(value(families, "scribe_ledger_s3_uploads_total")).toBe(0);
    const known: MetricsSource = { ...source, metrics: () => ({ cold: { enabled: true, archival_role: "follower", backlog_entries: 3, archived_index: 77 } }) };
    const later = parseExposition(await createPrometheusRegistry(known, new RequestMetrics()).metrics());
    expect(value(later, "scribe_ledger_archival_backlog_entries", { role: "follower" })).toBe(3);
    expect(value(later, "scribe_ledger_archived_index", { role: "follower" })).toBe(77);
  });
});
