/**
 * @module tls. The Raft transport's TLS options from [security]: raft_tls = true reuses the
 * node's HTTPS certificate and key, and checks peers against tls_ca (or that same certificate,
 * for one self-signed cluster certificate). Mutual: every node presents its certificate.
 */

import { readFileSync } from "node:fs";
import { ConfigError, type Config } from "../config/index.ts";
import type { TransportTlsOptions } from "../transport/index.ts";

function readPem(path: string, key: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read "${key}" ${path}: ${(error as Error).message}`);
  }
}

/** The transport's TLS options, or undefined when security.raft_tls is off. */
export function raftTlsOptions(config: Config): TransportTlsOptions | undefined {
  const s = config.security;
  if (!s.raft_tls) return undefined;
  const cert = readPem(s.tls_cert, "security.tls_cert");
  return { cert, key: readPem(s.tls_key, "security.tls_key"), ca: s.tls_ca !== "" ? readPem(s.tls_ca, "security.tls_ca") : cert, rejectUnauthorized: true, requestCert: true };
}
