/** @module config. Schema, defaults, the loader of TOML + SCRIBE_* env + flags, and the cluster secret's strength. */
export * from "./config.ts";
export * from "./schema.ts";
export { assessSecret, clusterSecretBitsMin, generatedSecretBytes, newClusterSecret, type SecretStrength } from "./secret.ts";
