import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { ConfigError, envNameOf, loadConfig, schema, type FieldSpec } from "../../src/config/index.ts";
import { freePort, tempDir } from "../support/node-process.ts";

const repoRoot = join(import.meta.dir, "..", "..");

describe("configuration", () => {
  test("defaults run one node on 127.0.0.1:8001 with data in ./data and no S3", () => {
    const config = loadConfig();
    expect(config.node).toEqual({ id: 1, address: "127.0.0.1", data_dir: "./data" });
    expect(config.network.listen_addr).toBe("127.0.0.1");
    expect(config.network.client_port).toBe(8001);
    expect(config.storage.max_value_size).toBe(4 * 1024 * 1024);
    expect(config.storage.s3.bucket).toBe("");
    expect(config.storage.sync).toBe("full");
  });

  test("TOML, then environment, then flags; later wins", () => {
    const text = `
[node]
id = 2
data_dir = "/var/lib/scribe"
[network]
client_port = 8002
[storage.s3]
bucket = "b"
path_style = true
[storage.tiering]
compression_level = 6
[consensus]
cluster_members = [ { id = 1, address = "127.0.0.1:9001" }, { id = 2, address = "127.0.0.1:9002", client = "127.0.0.1:8002" } ]
`;
    const config = loadConfig({ text, env: { SCRIBE_NODE_ID: "3", SCRIBE_STORAGE_S3_REGION: "eu-west-1", PATH: "/bin" }, overrides: { "node.id": "4" } });
    expect(config.node.id).toBe(4);
    expect(config.node.data_dir).toBe("/var/lib/scribe");
    expect(config.network.client_port).toBe(8002);
    expect(config.storage.s3).toMatchObject({ bucket: "b", path_style: true, region: "eu-west-1" });
    expect(config.storage.tiering.compression_level).toBe(6);
    expect(config.consensus.cluster_members[1]).toEqual({ id: 2, address: "127.0.0.1:9002", client: "127.0.0.1:8002" });
    expect(loadConfig({ env: { SCRIBE_NETWORK_CLIENT_PORT: "9999", SCRIBE_NODE_DATA_DIR: "/d" } }).network.client_port).toBe(9999);
  });

  test("the original listen_addr = host:port form sets the client port", () => {
    const config = loadConfig({ text: `[network]\nlisten_addr = "0.0.0.0:8005"` });
    expect(config.network.listen_addr).toBe("0.0.0.0");
    expect(config.network.client_port).toBe(8005);
  });

  const failures: [string, Parameters<typeof loadConfig>[0], RegExp][] = [
    ["unknown key", { text: `[storage]\nsegmnt_size = 1` }, /storage\.segmnt_size/],
    ["unknown section", { text: `[nodes]\nid = 1` }, /nodes/],
    ["wrong type", { text: `[node]\nid = "one"` }, /node\.id.*integer/],
    ["out of range", { text: `[network]\nclient_port = 70000` }, /network\.client_port/],
    ["bad enum", { text: `[logging]\nlevel = "loud"` }, /logging\.level/],
    ["bad env value", { env: { SCRIBE_STORAGE_MAX_CACHE_SIZE: "lots" } }, /storage\.max_cache_size.*SCRIBE_STORAGE_MAX_CACHE_SIZE/],
    ["unknown env variable", { env: { SCRIBE_NODE_NAME: "x" } }, /SCRIBE_NODE_NAME/],
    ["bad member", { text: `[consensus]\ncluster_members = [ { id = 1, address = "nowhere" } ]` }, /consensus\.cluster_members/],
    ["inverted timeouts", { text: `[consensus]\nelection_timeout_min = 3000\nelection_timeout_max = 1000` }, /election_timeout_min/],
    ["broken TOML", { text: `[node\nid = 1` }, /cannot parse/],
    ["S3 prefix with a trailing slash", { env: { SCRIBE_STORAGE_S3_PREFIX: "ledger/" } }, /storage\.s3\.prefix/],
  ];
  for (const [name, options, message] of failures) {
    test(`refuses: ${name}`, () => {
      expect(() => loadConfig(options)).toThrow(ConfigError);
      expect(() => loadConfig(options)).toThrow(message);
    });
  }

  test("every key has an environment name of the form SCRIBE_<SECTION>_<KEY>", () => {
    expect(envNameOf("storage.s3", "access_key_id")).toBe("SCRIBE_STORAGE_S3_ACCESS_KEY_ID");
    for (const [section, fields] of Object.entries(schema)) {
      for (const key of Object.keys(fields)) {
        const name = envNameOf(section, key);
        expect(name).toMatch(/^SCRIBE_[A-Z0-9_]+$/);
      }
    }
  });
});

test("docs/CONFIGURATION.md lists every key with its default and environment name", async () => {
  const { renderConfigurationDoc } = await import("../../scripts/gen-config-docs.ts");
  const doc = await Bun.file(`${import.meta.dir}/../../docs/CONFIGURATION.md`).text();
  expect(doc).toBe(renderConfigurationDoc());
  for (const [section, fields] of Object.entries(schema)) {
    for (const key of Object.keys(fields)) expect(doc).toContain(envNameOf(section, key));
  }
});

describe("config.example.toml", () => {
  const path = `${import.meta.dir}/../../config.example.toml`;

  test("is current: generated from the schema like docs/CONFIGURATION.md", async () => {
    const { renderExampleToml } = await import("../../scripts/gen-config-docs.ts");
    expect(await Bun.file(path).text()).toBe(renderExampleToml());
  });

  test("sets every key of the schema to its default, with its meaning and environment name beside it", async () => {
    const text = await Bun.file(path).text();
    const doc = parseToml(text) as Record<string, Record<string, unknown>>;
    for (const [section, fields] of Object.entries(schema)) {
      const table = section.split(".").reduce<Record<string, unknown> | undefined>((t, part) => t?.[part] as Record<string, unknown> | undefined, doc);
      const own = Object.keys(table ?? {}).filter((k) => !(`${section}.${k}` in schema));
      expect(own.sort()).toEqual(Object.keys(fields).sort());
      for (const [key, spec] of Object.entries(fields as Record<string, FieldSpec>)) {
        expect(table![key]).toEqual(spec.default as never);
        const block = text.slice(0, text.indexOf(`\n${key} = `, text.indexOf(`[${section}]`)));
        expect(block.endsWith(`# env: ${envNameOf(section, key)}`)).toBe(true);
        expect(block.replace(/\n# /g, " ")).toContain(spec.doc);
      }
    }
  });

  test("loads as a configuration that equals the defaults", () => {
    expect(loadConfig({ file: path })).toEqual(loadConfig());
  });

  test("runs as it is: scribe-node --config config.example.toml starts a node", async () => {
    const work = tempDir("scribe-example-config-");
    const port = freePort();
    // Ports from flags (8001/9001 may be taken here); the data directory is the file's ./data, under the working directory.
    const proc = Bun.spawn(["bun", `${repoRoot}/src/main.ts`, "--config", path, "--port", String(port), "--raft-port", String(freePort())], {
      cwd: work.path,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      let status = 0;
      for (let i = 0; i < 300 && status !== 200 && proc.exitCode === null; i++) {
        status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
        if (status !== 200) await Bun.sleep(50);
      }
      expect(status).toBe(200);
      const put = await fetch(`http://127.0.0.1:${port}/kv/example`, { method: "PUT", body: "ok", headers: { "content-type": "text/plain" } });
      expect(put.status).toBe(200);
      expect(existsSync(join(work.path, "data", "scribe.db"))).toBe(true);
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
      work.remove();
    }
  }, 30_000);
});
