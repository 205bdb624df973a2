import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { waitFor } from './wait-for.js';

/**
 * A redis-server of the test's own on a free loopback port (e.g. with a
 * password), for failure paths that must not touch the shared Redis. Stopped
 * by `stop()`, and killed if the test process exits first.
 */
export class ExtraRedisServer {
  private constructor(
    readonly port: number,
    private child: ChildProcess,
    private readonly dir: string,
    private password: string | undefined,
  ) {}

  static async start({ password }: { password?: string } = {}): Promise<ExtraRedisServer> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'tasks-redis-'));
    const server = new ExtraRedisServer(port, spawnRedis(port, dir, password), dir, password);
    await waitFor(() => server.ping(), { timeoutMs: 10_000, what: `redis-server on port ${port}` });
    return server;
  }

  /** Stops the server and starts an empty one on the same port, as a restart without persistence (or a failover that lost the keys) does. */
  async restartEmpty(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** Stops the server, keeping its port and directory, so that `start()` brings it back (empty). */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on its port after `kill()`. */
  async start(): Promise<void> {
    this.child = spawnRedis(this.port, this.dir, this.password);
    await waitFor(() => this.ping(), { timeoutMs: 10_000, what: `redis-server on port ${this.port}` });
  }

  /** A redis:// URL for it with `password` (default: the server's own). */
  url(password = this.password): string {
    return `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${this.port}`;
  }

  /** Changes the password and drops every client connection, as a rotation under running apps does. */
  async rotatePassword(next: string): Promise<void> {
    const admin = this.admin();
    try {
      await admin.config('SET', 'requirepass', next);
      this.password = next;
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
    } finally {
      admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private admin(): Redis {
    return new Redis({ host: '127.0.0.1', port: this.port, password: this.password, maxRetriesPerRequest: 1, lazyConnect: false });
  }

  private async ping(): Promise<boolean> {
    const client = this.admin();
    client.on('error', () => undefined);
    try {
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  }
}

function spawnRedis(port: number, dir: string, password: string | undefined): ChildProcess {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  if (password) args.push('--requirepass', password);
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}
