/**
 * @module transport/address. Parses peer addresses "host:port" and "[v6]:port", and names the
 * source an inbound connection comes from (for per-source handshake limits).
 */

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

/**
 * The source an inbound connection is counted under: an IPv4 address as it is (IPv4-mapped IPv6
 * addresses included), an IPv6 address by its /64 prefix, since one host or site is usually given
 * a whole /64 and could otherwise open each connection from a new address.
 */
export function sourceKeyOf(remoteIp: string): string {
  const ip = remoteIp.trim().toLowerCase();
  const mapped = /^[0:]*:ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(":")) return ip === "" ? "unknown" : ip;
  const groups = expandIpv6(ip.split("%")[0]!);
  if (groups === undefined) return ip;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when the text is not one. */
function expandIpv6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const group of part.split(":")) {
      if (!/^[0-9a-f]{1,4}$/.test(group)) return undefined;
      out.push(parseInt(group, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head, ...new Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tail];
}
