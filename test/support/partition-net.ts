/**
 * @module partition-net. Network partitions between node processes on loopback, without root or a
 * firewall. The cluster's configuration gives every node's Raft address and client address (what
 * other nodes dial for node-to-node HTTP: read indexes, cosignatures, catch-up) as ports of this
 * module, which forward to the node's real ports. The tests' own clients use the real ports and
 * are never cut.
 *
 * Which node dialed a connection is read from the kernel's socket table: the accepted
 * connection's source port names the dialer's socket in /proc/net/tcp, whose inode one node
 * process holds among its open files (/proc/PID/fd). Linux only.
 *
 * `cut(pairs)` severs the pairs of nodes given: a connection between them stops carrying bytes,
 * both ways (what either side sends is lost, as on a network that drops every packet; the
 * processes see no close), and one opened while the pair is cut is accepted but never reaches
 * the node. `heal()` closes those connections, as TCP would give up on them, so the nodes dial
 * again. A cut can be any set of pairs: a clean split into groups (`pairsAcross`) or a partial one
 * where some node still reaches both sides.
 */

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { TestCluster, type ClusterOptions } from "./cluster.ts";
import { freePort } from "./node-process.ts";

interface Link {
  /** The dialing node; undefined until found (a node dials its peers before the tests learn its process id). */
  from: number | undefined;
  to: number;
  /** The dialer's port and the port it dialed: what names the dialer's socket. */
  remotePort: number | undefined;
  port: number;
  client: Socket;
  upstream: Socket | undefined;
  severed: boolean;
}

/** The pairs of nodes in different groups. */
export function pairsAcross(groups: readonly (readonly number[])[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let g = 0; g < groups.length; g++) {
    for (let h = g + 1; h < groups.length; h++) for (const a of groups[g]!) for (const b of groups[h]!) pairs.push([a, b]);
  }
  return pairs;
}

/** /proc/net/tcp's form of 127.0.0.1:port: the address as a little-endian hex word, the port big-endian. */
function loopbackHex(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The inode of the IPv4 socket from 127.0.0.1:localPort to 127.0.0.1:remotePort, if there is one. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const local = loopbackHex(localPort);
  const remote = loopbackHex(remotePort);
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[2] === remote) return fields[9];
  }
  return undefined;
}

/** Whether process `pid` holds the socket `inode` among its open files. */
function holdsSocket(pid: number, inode: string): boolean {
  const want = `socket:[${inode}]`;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

export class PartitionNet {
  private readonly servers: Server[] = [];
  private readonly listening: Promise<void>[] = [];
  private readonly links = new Set<Link>();
  private severedPairs = new Set<string>();
  /** Connections a cut had to leave alone because their dialer was not found among the nodes (only nodes dial these ports). */
  unidentified = 0;

  /** `nodes()`: the running nodes' process ids and node ids, asked at each new connection. */
  constructor(private readonly nodes: () => readonly { pid: number; id: number }[]) {}

  /** A new port in front of node `to`'s `targetPort`; `listening()` resolves once every such port listens. */
  front(to: number, targetPort: number): number {
    const port = freePort();
    const server = createServer((client) => this.accept(client, to, port, targetPort));
    this.servers.push(server);
    this.listening.push(
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
      }),
    );
    return port;
  }

  async ready(): Promise<void> {
    await Promise.all(this.listening);
  }

  /** Severs every pair in `pairs` (and nothing else: an earlier cut is replaced). */
  cut(pairs: readonly (readonly [number, number])[]): void {
    this.severedPairs = new Set(pairs.flatMap(([a, b]) => [`${a}-${b}`, `${b}-${a}`]));
    for (const link of this.links) {
      link.from ??= this.dialer(link.remotePort, link.port);
      if (link.from === undefined) this.unidentified++;
      else if (this.isSevered(link)) this.sever(link);
    }
  }

  /** Every pair reachable again; connections that were severed are closed. */
  heal(): void {
    this.severedPairs.clear();
    for (const link of [...this.links]) if (link.severed) this.close(link);
  }

  async stop(): Promise<void> {
    for (const link of [...this.links]) this.close(link);
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private isSevered(link: Link): boolean {
    return link.from !== undefined && this.severedPairs.has(`${link.from}-${link.to}`);
  }

  private accept(client: Socket, to: number, port: number, targetPort: number): void {
    client.pause();
    const link: Link = { from: this.dialer(client.remotePort, port), to, remotePort: client.remotePort, port, client, upstream: undefined, severed: false };
    this.links.add(link);
    // During a cut, a connection whose dialer is not found would cross it unnoticed: counted.
    if (link.from === undefined && this.severedPairs.size > 0) this.unidentified++;
    client.on("error", () => this.close(link));
    client.on("close", () => this.close(link));
    if (this.isSevered(link)) {
      this.sever(link);
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    link.upstream = upstream;
    upstream.on("error", () => this.close(link));
    upstream.on("close", () => this.close(link));
    upstream.on("connect", () => {
      if (link.severed || !this.links.has(link)) return;
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** The node that dialed a connection accepted on `port` from `remotePort`. */
  private dialer(remotePort: number | undefined, port: number): number | undefined {
    if (remotePort === undefined) return undefined;
    const inode = socketInode(remotePort, port);
    if (inode === undefined) return undefined;
    return this.nodes().find((n) => holdsSocket(n.pid, inode))?.id;
  }

  /** Stops carrying bytes both ways; what arrives from now on is read and dropped. */
  private sever(link: Link): void {
    link.severed = true;
    for (const [from, to] of [[link.client, link.upstream], [link.upstream, link.client]] as const) {
      if (!from) continue;
      if (to) from.unpipe(to);
      from.removeAllListeners("data");
      from.on("data", () => {});
      from.resume();
    }
  }

  private close(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}

/** A TestCluster whose nodes dial each other (Raft and HTTP) through a new PartitionNet; await `net.ready()` before starting it. */
export function partitionableCluster(options: ClusterOptions): { cluster: TestCluster; net: PartitionNet } {
  const net = new PartitionNet(() => cluster.nodes.flatMap((n) => (n.process ? [{ pid: n.process.pid, id: n.id }] : [])));
  const fronts = new Map<number, { raft: number; client: number }>();
  const advertise = (id: number, ports: { raft: number; client: number }) => {
    if (!fronts.has(id)) fronts.set(id, { raft: net.front(id, ports.raft), client: net.front(id, ports.client) });
    return fronts.get(id)!;
  };
  const cluster: TestCluster = new TestCluster({ ...options, advertise });
  return { cluster, net };
}
