import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** One line of Redis' CLIENT LIST. */
export interface RedisClientEntry {
  readonly id: string;
  /** The connection's name (CLIENT SETNAME), empty when it has none. */
  readonly name: string;
  /** The client's side of the connection, `ip:port`. */
  readonly addr: string;
  /** The last command it ran. */
  readonly cmd: string;
}

/** Every connection Redis has, as CLIENT LIST reports it. */
export async function clientList(admin: Redis): Promise<RedisClientEntry[]> {
  const text = (await admin.client('LIST')) as string;
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = new Map(line.trim().split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
      return { id: fields.get('id') ?? '', name: fields.get('name') ?? '', addr: fields.get('addr') ?? '', cmd: fields.get('cmd') ?? '' };
    });
}

/**
 * The local ports of the TCP connections process `pid` holds to `remotePort`
 * (Linux: its socket descriptors, looked up in its network namespace's tables).
 */
export function tcpPortsOf(pid: number, remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // Closed since the listing.
      continue;
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1] as string);
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const columns = row.trim().split(/\s+/);
      if (columns.length < 10) continue;
      // sl, local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode
      const [local, remote, inode] = [columns[1], columns[2], columns[9]];
      const port = (address: string | undefined) => Number.parseInt(address?.split(':').at(-1) ?? '', 16);
      if (inodes.has(inode as string) && port(remote) === remotePort) ports.add(port(local));
    }
  }
  return ports;
}

/** The connections of CLIENT LIST that process `pid` holds (to a Redis on `redisPort`). */
export async function clientsOf(admin: Redis, pid: number, redisPort: number): Promise<RedisClientEntry[]> {
  const ports = tcpPortsOf(pid, redisPort);
  return (await clientList(admin)).filter((client) => ports.has(Number(client.addr.split(':').at(-1))));
}
