/**
 * @module config. Loads the configuration: defaults, then a TOML file, then `SCRIBE_*`
 * environment variables, then command-line flags (each later source wins). Unknown keys and bad
 * values throw a ConfigError naming the key and where it came from.
 */

import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { envNameOf, schema, type FieldSpec, type FieldType } from "./schema.ts";
import { assessSecret, clusterSecretBitsMin } from "./secret.ts";

export type Role = "read" | "write" | "admin";
export interface Member {
  id: number;
  /** Raft transport address, host:port. */
  address: string;
  /** HTTP API address, host:port (optional; default: defaultClientAddress). */
  client?: string;
}
export interface ApiKey {
  name: string;
  key_sha256: string;
  role: Role;
}

export interface Config {
  node: { id: number; address: string; data_dir: string };
  network: { listen_addr: string; client_port: number; raft_port: number };
  storage: {
    segment_size: number;
    max_cache_size: number;
    max_value_size: number;
    max_batch_ops: number;
    max_batch_bytes: number;
    group_commit_max_ops: number;
    sync: "full" | "normal";
    min_free_bytes: number;
    s3: {
      bucket: string;
      region: string;
      endpoint: string;
      access_key_id: string;
      secret_access_key: string;
      path_style: boolean;
      pool_size: number;
      timeout_secs: number;
      max_retries: number;
      prefix: string;
      require_reachable: boolean;
    };
    tiering: {
      age_threshold_secs: number;
      enable_compression: boolean;
      compression_level: number;
      enable_auto_archival: boolean;
      archival_check_interval_secs: number;
    };
  };
  consensus: {
    election_timeout_min: number;
    election_timeout_max: number;
    heartbeat_interval_ms: number;
    tick_interval_ms: number;
    max_inflight_msgs: number;
    max_append_bytes: number;
    log_compaction_threshold: number;
    cluster_members: Member[];
  };
  api: { write_timeout_secs: number; read_timeout_secs: number; max_batch_size: number; cache_capacity: number; idempotency_window_secs: number; idempotency_keys_max: number; watch_streams_max: number; watch_backlog_entries_max: number; ready_lag_entries_max: number; ready_requires_s3: boolean };
  discovery: { seeds: string[]; heartbeat_interval_ms: number; failure_timeout_ms: number; cluster_secret: string };
  security: {
    api_keys: ApiKey[];
    tls_cert: string;
    tls_key: string;
    tls_ca: string;
    raft_tls: boolean;
    allow_insecure_public: boolean;
    rate_limit_per_sec: number;
    rate_limit_burst: number;
    signing_key_file: string;
    checkpoint_origin: string;
    cosign_interval_ms: number;
    strict_permissions: boolean;
  };
  witness: { endpoints: string[]; keys: string[]; timeout_secs: number };
  logging: { level: string; format: "auto" | "json" | "pretty"; output: string; audit_log: string };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where a setting came from, for error messages. */
type Source = string;

export interface LoadOptions {
  /** Path of a TOML file; when absent, no file is read. */
  file?: string;
  /** TOML text (instead of reading `file`; `file` then only names it in messages). */
  text?: string;
  /** Environment; only SCRIBE_* variables are read. */
  env?: Record<string, string | undefined>;
  /** Overrides by dotted name, e.g. { "node.id": 2 }, from command-line flags. */
  overrides?: Record<string, unknown>;
}

const sectionNames = Object.keys(schema);

function specOf(section: string, key: string): FieldSpec | undefined {
  const fields = (schema as Record<string, Record<string, FieldSpec>>)[section];
  return fields?.[key];
}

function describe(type: FieldType): string {
  switch (type.kind) {
    case "int":
      return `an integer${type.min !== undefined ? ` >= ${type.min}` : ""}${type.max !== undefined ? ` and <= ${type.max}` : ""}`;
    case "float":
      return "a number";
    case "bool":
      return "true or false";
    case "string":
      return type.allowEmpty ? "a string" : "a non-empty string";
    case "enum":
      return `one of ${type.values.map((v) => `"${v}"`).join(", ")}`;
    case "string-list":
      return "a list of strings";
    case "members":
      return "a list of { id, address, client? } tables";
    case "api-keys":
      return "a list of { name, key_sha256, role } tables";
  }
}

/** Coerces a value (from TOML, or a string from env/flags when `fromText`) to the field's type. */
function coerce(type: FieldType, raw: unknown, fromText: boolean): { ok: true; value: unknown } | { ok: false } {
  let value = raw;
  if (fromText && typeof raw === "string") {
    switch (type.kind) {
      case "int":
      case "float":
        value = raw.trim() === "" ? NaN : Number(raw);
        break;
      case "bool":
        value = raw === "true" || raw === "1" ? true : raw === "false" || raw === "0" ? false : raw;
        break;
      case "string-list":
        value = raw.trim() === "" ? [] : raw.split(",").map((s) => s.trim());
        break;
      case "members":
      case "api-keys":
        try {
          value = JSON.parse(raw);
        } catch {
          return { ok: false };
        }
        break;
    }
  }
  switch (type.kind) {
    case "int": {
      const n = typeof value === "bigint" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) return { ok: false };
      if (type.min !== undefined && n < type.min) return { ok: false };
      if (type.max !== undefined && n > type.max) return { ok: false };
      return { ok: true, value: n };
    }
    case "float":
      return typeof value === "number" && Number.isFinite(value) ? { ok: true, value } : { ok: false };
    case "bool":
      return typeof value === "boolean" ? { ok: true, value } : { ok: false };
    case "string":
      return typeof value === "string" && (type.allowEmpty || value.length > 0) ? { ok: true, value } : { ok: false };
    case "enum":
      return typeof value === "string" && type.values.includes(value) ? { ok: true, value } : { ok: false };
    case "string-list":
      return Array.isArray(value) && value.every((v) => typeof v === "string" && v.length > 0)
        ? { ok: true, value: [...value] }
        : { ok: false };
    case "members":
      return coerceMembers(value);
    case "api-keys":
      return coerceApiKeys(value);
  }
}

function coerceMembers(value: unknown): { ok: true; value: Member[] } | { ok: false } {
  if (!Array.isArray(value)) return { ok: false };
  const members: Member[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) return { ok: false };
    const { id, address, client } = item as Record<string, unknown>;
    const idNumber = typeof id === "bigint" ? Number(id) : id;
    if (typeof idNumber !== "number" || !Number.isSafeInteger(idNumber) || idNumber < 1) return { ok: false };
    if (typeof address !== "string" || !isHostPort(address)) return { ok: false };
    if (client !== undefined && (typeof client !== "string" || !isHostPort(client))) return { ok: false };
    const extra = Object.keys(item as object).filter((k) => !["id", "address", "client"].includes(k));
    if (extra.length > 0) return { ok: false };
    members.push(client === undefined ? { id: idNumber, address } : { id: idNumber, address, client });
  }
  if (new Set(members.map((m) => m.id)).size !== members.length) return { ok: false };
  return { ok: true, value: members };
}

function coerceApiKeys(value: unknown): { ok: true; value: ApiKey[] } | { ok: false } {
  if (!Array.isArray(value)) return { ok: false };
  const keys: ApiKey[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) return { ok: false };
    const { name, key_sha256, role } = item as Record<string, unknown>;
    if (typeof name !== "string" || name.length === 0) return { ok: false };
    if (typeof key_sha256 !== "string" || !/^[0-9a-f]{64}$/.test(key_sha256)) return { ok: false };
    if (role !== "read" && role !== "write" && role !== "admin") return { ok: false };
    keys.push({ name, key_sha256, role });
  }
  return { ok: true, value: keys };
}

/**
 * A member's HTTP address when its config names none: the host of its Raft address with the
 * client port (the usual layout of one node per host, every node on the same ports).
 */
export function defaultClientAddress(raftAddress: string, clientPort: number): string {
  return `${raftAddress.slice(0, raftAddress.lastIndexOf(":"))}:${clientPort}`;
}

/** True for "host:port" with a port in 1..65535. */
export function isHostPort(text: string): boolean {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(text);
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535;
}

function defaults(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const section of sectionNames) {
    out[section] = {};
    for (const [key, spec] of Object.entries((schema as Record<string, Record<string, FieldSpec>>)[section]!)) {
      out[section]![key] = structuredClone(spec.default);
    }
  }
  return out;
}

function setField(flat: Record<string, Record<string, unknown>>, explicit: Set<string>, section: string, key: string, raw: unknown, source: Source, fromText: boolean): void {
  const spec = specOf(section, key);
  if (!spec) throw new ConfigError(`unknown configuration key "${section}.${key}" (${source})`);
  const result = coerce(spec.type, raw, fromText);
  if (!result.ok) {
    throw new ConfigError(`invalid value for "${section}.${key}" (${source}): wanted ${describe(spec.type)}, got ${JSON.stringify(raw, (_, v) => (typeof v === "bigint" ? Number(v) : v))}`);
  }
  flat[section]![key] = result.value;
  explicit.add(`${section}.${key}`);
}

/** Walks a parsed TOML document, setting every leaf; sub-tables of known sections are sections too. */
function applyToml(flat: Record<string, Record<string, unknown>>, explicit: Set<string>, doc: Record<string, unknown>, file: string, prefix = ""): void {
  for (const [name, value] of Object.entries(doc)) {
    const dotted = prefix ? `${prefix}.${name}` : name;
    if (sectionNames.includes(dotted)) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError(`"${dotted}" must be a table (${file})`);
      }
      applyToml(flat, explicit, value as Record<string, unknown>, file, dotted);
    } else if (prefix && sectionNames.includes(prefix)) {
      setField(flat, explicit, prefix, name, value, file, false);
    } else {
      throw new ConfigError(`unknown configuration ${prefix ? "key" : "section"} "${dotted}" (${file})`);
    }
  }
}

function readFileText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
}

/** Loads and validates the configuration. Throws ConfigError naming the offending key. */
export function loadConfig(options: LoadOptions = {}): Config {
  const flat = defaults();
  const explicit = new Set<string>();
  if (options.file !== undefined || options.text !== undefined) {
    const name = options.file ?? "config text";
    const text = options.text ?? readFileText(options.file!);
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`cannot parse ${name}: ${(error as Error).message}`);
    }
    applyToml(flat, explicit, doc, name);
  }
  applyEnv(flat, explicit, options.env ?? {});
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    const cut = dotted.lastIndexOf(".");
    setField(flat, explicit, dotted.slice(0, cut), dotted.slice(cut + 1), value, "command line", typeof value === "string");
  }
  resolveListenAddr(flat, explicit);
  const config = nest(flat);
  validateCrossFields(config);
  return config;
}

function applyEnv(flat: Record<string, Record<string, unknown>>, explicit: Set<string>, env: Record<string, string | undefined>): void {
  const known = new Map<string, [string, string]>();
  for (const section of sectionNames) {
    for (const key of Object.keys((schema as Record<string, Record<string, FieldSpec>>)[section]!)) {
      known.set(envNameOf(section, key), [section, key]);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("SCRIBE_") || value === undefined) continue;
    const target = known.get(name);
    if (!target) throw new ConfigError(`unknown configuration environment variable ${name}`);
    setField(flat, explicit, target[0], target[1], value, `environment ${name}`, true);
  }
}

/** `listen_addr = "host:port"` (the original config's form) also sets the client port. */
function resolveListenAddr(flat: Record<string, Record<string, unknown>>, explicit: Set<string>): void {
  const listen = flat.network!.listen_addr as string;
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  if (!match) return;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`invalid port in "network.listen_addr": ${listen}`);
  if (explicit.has("network.client_port") && flat.network!.client_port !== port) {
    throw new ConfigError(`"network.listen_addr" port ${port} disagrees with "network.client_port" ${flat.network!.client_port}`);
  }
  flat.network!.listen_addr = match[1]!;
  flat.network!.client_port = port;
}

function nest(flat: Record<string, Record<string, unknown>>): Config {
  return {
    ...flat,
    storage: { ...flat.storage, s3: flat["storage.s3"], tiering: flat["storage.tiering"] },
  } as unknown as Config;
}

function validateCrossFields(config: Config): void {
  const c = config.consensus;
  if (c.election_timeout_min >= c.election_timeout_max) {
    throw new ConfigError(`"consensus.election_timeout_min" (${c.election_timeout_min}) must be below "consensus.election_timeout_max" (${c.election_timeout_max})`);
  }
  if (c.heartbeat_interval_ms >= c.election_timeout_min) {
    throw new ConfigError(`"consensus.heartbeat_interval_ms" (${c.heartbeat_interval_ms}) must be below "consensus.election_timeout_min" (${c.election_timeout_min})`);
  }
  const prefix = config.storage.s3.prefix;
  if (prefix.startsWith("/") || prefix.endsWith("/")) {
    throw new ConfigError(`"storage.s3.prefix" must not start or end with "/", got ${JSON.stringify(prefix)}`);
  }
  const s = config.security;
  if ((s.tls_cert === "") !== (s.tls_key === "")) {
    throw new ConfigError(`"security.tls_cert" and "security.tls_key" must be given together`);
  }
  if (s.raft_tls && s.tls_cert === "") {
    throw new ConfigError(`"security.raft_tls" needs "security.tls_cert" and "security.tls_key"`);
  }
  validateClusterSecret(config.discovery.cluster_secret);
  validateWitnesses(config.witness);
  if (config.storage.max_batch_bytes < config.storage.max_value_size) {
    // A batch must be able to carry at least one maximal value.
    throw new ConfigError(`"storage.max_batch_bytes" (${config.storage.max_batch_bytes}) must be at least "storage.max_value_size" (${config.storage.max_value_size})`);
  }
}

/** Witness endpoints are http(s) URLs and need keys; keys look like cosigner vkeys (checked fully at start). */
function validateWitnesses(witness: Config["witness"]): void {
  for (const endpoint of witness.endpoints) {
    if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(endpoint)) throw new ConfigError(`"witness.endpoints" wants http(s) URLs, got ${JSON.stringify(endpoint)}`);
  }
  if (witness.endpoints.length > 0 && witness.keys.length === 0) throw new ConfigError(`"witness.endpoints" is set but "witness.keys" is empty: the witnesses' cosigner keys are needed to check what they answer`);
  for (const key of witness.keys) {
    if (!/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/.test(key)) throw new ConfigError(`"witness.keys" wants cosigner verifier keys name+keyid+base64, got ${JSON.stringify(key)}`);
  }
}

/**
 * A set cluster secret must carry at least `clusterSecretBitsMin` bits of estimated entropy
 * (config/secret.ts): anyone holding one recorded proof could otherwise guess it offline. The
 * message never quotes the secret.
 */
function validateClusterSecret(secret: string): void {
  if (secret === "") return;
  const { weakness } = assessSecret(secret);
  if (weakness === undefined) return;
  throw new ConfigError(
    `"discovery.cluster_secret" is too weak: ${weakness}; it must carry at least ${clusterSecretBitsMin} bits of entropy. ` +
      "Make one with `scribe-node gen-secret` (32 random bytes) and set the same value on every member",
  );
}

/** The effective batch limit: the lower of storage.max_batch_ops and api.max_batch_size. */
export function batchOpsMax(config: Config): number {
  return Math.min(config.storage.max_batch_ops, config.api.max_batch_size);
}
