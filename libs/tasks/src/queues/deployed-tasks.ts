import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { TaskCatalog } from '../task/task.catalog.js';

/** How often a running app says which tasks it has, and after how long without that it no longer counts. */
const REFRESH_MS = 20_000;
const STALE_MS = 60_000;

/** A task some running app of the deployment has, and on which queue. */
export interface DeployedTask {
  name: string;
  queue: string;
  /** The app (host:pid:random) that has it. */
  app: string;
}

/**
 * Which tasks the running apps of this prefix have, and on which queue: each
 * app with tasks keeps its entry in one Redis hash fresh while it runs and
 * removes it when it stops, so that a worker booting to consume a queue can
 * tell which of the queue's tasks it lacks. Stopped or crashed apps drop out
 * after a minute; a renamed task never blocks a boot for longer.
 */
@Injectable()
export class DeployedTasks implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('DeployedTasks');
  readonly appId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private client?: Redis;
  private timer?: NodeJS.Timeout;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
    private readonly catalog: TaskCatalog,
  ) {}

  private get key(): string {
    // Beside the library's queues (`tasks.default`), never under a queue an app may name `tasks`.
    return `${this.options.prefix}:tasks.deployed`;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.catalog.names().length === 0) return;
    await this.publish();
    this.timer = setInterval(() => void this.publish(), REFRESH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (this.client) {
      await this.client.hdel(this.key, this.appId).catch(() => 0);
      this.client.disconnect();
    }
  }

  /** The tasks of the other running apps. */
  async others(): Promise<DeployedTask[]> {
    const entries = await this.redis().hgetall(this.key);
    const now = Date.now();
    const found: DeployedTask[] = [];
    const stale: string[] = [];
    for (const [app, raw] of Object.entries(entries)) {
      if (app === this.appId) continue;
      let entry: { seenAt: number; tasks: Record<string, string> };
      try {
        entry = JSON.parse(raw) as typeof entry;
      } catch {
        stale.push(app);
        continue;
      }
      if (now - entry.seenAt > STALE_MS) {
        stale.push(app);
        continue;
      }
      for (const [name, queue] of Object.entries(entry.tasks)) found.push({ name, queue, app });
    }
    if (stale.length > 0) await this.redis().hdel(this.key, ...stale);
    return found;
  }

  private async publish(): Promise<void> {
    const tasks = Object.fromEntries(this.catalog.names().map((name) => [name, this.catalog.get(name)?.queue]));
    try {
      await this.redis().hset(this.key, this.appId, JSON.stringify({ seenAt: Date.now(), tasks }));
    } catch (error) {
      // Only the boot check of other workers misses this app meanwhile.
      this.logger.warn(`Could not publish this app's tasks: ${this.connections.describe(error)}`);
    }
  }

  private redis(): Redis {
    this.client ??= this.connections.create('fail-fast', 'deployed-tasks');
    return this.client;
  }
}
