/** @module transport/address. Parses peer addresses "host:port" and "[v6]:port". */

export interface PeerAddress {
  host: string;
  port: number;
}

/** Returns the address, or a message saying what was wrong with the text. */
export function parsePeerAddress(text: string): PeerAddress | string {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return `peer address ${JSON.stringify(text)} is not "host:port" or "[ipv6]:port"`;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return `peer address ${JSON.stringify(text)} has port ${port}, wanted 1..65535`;
  return { host: match[1] ?? match[2]!, port };
}

export function formatPeerAddress(address: PeerAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
