import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { TrackingDatabaseLocator } from '../tracking/tracking-database.js';
import { TaskWorkerHost } from '../worker/task-worker.host.js';
import { CronScheduler } from '../scheduler/cron-scheduler.js';

/** What one check reports, in the shape `@nestjs/terminus` expects of a health indicator. */
export type TasksHealthResult<Key extends string = string> = Record<Key, { status: 'up' | 'down'; [detail: string]: unknown }>;

/** How long a check waits for its dependency before it reports it down. */
const CHECK_TIMEOUT_MS = 2_000;

/**
 * Health indicators of the library's dependencies, for `@nestjs/terminus`
 * (`health.check([() => tasksHealth.redis(), () => tasksHealth.database()])`)
 * or any probe of your own. They resolve with `status: 'down'` and the cause,
 * never reject, and never show a password.
 */
@Injectable()
export class TasksHealthIndicator implements OnApplicationShutdown {
  private client?: Redis;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly connections: RedisConnections,
    private readonly tracking: TrackingDatabaseLocator,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly workerHost: TaskWorkerHost,
    private readonly cronScheduler: CronScheduler,
  ) {}

  /** This process consumes: `runWorker` started it and every queue's BullMQ worker runs. */
  async worker<Key extends string = 'worker'>(key: Key = 'worker' as Key): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const queues = this.workerHost.consumerStates();
      if (queues.length === 0) throw new Error('not consuming: the worker has not started, or is shutting down');
      const stopped = queues.filter((queue) => !queue.running).map((queue) => queue.queue);
      if (stopped.length > 0) throw new Error(`the consumer of ${stopped.join(', ')} is not running`);
      return { queues: queues.map((queue) => queue.queue) };
    });
  }

  /** This process fires ticks: `runScheduler` started it; says whether it holds the scheduler lease. */
  async scheduler<Key extends string = 'scheduler'>(key: Key = 'scheduler' as Key): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const { running, crons, leader } = this.cronScheduler.state();
      if (!running) throw new Error('not scheduling: the scheduler has not started, or is shutting down');
      return { crons, leader };
    });
  }

  /** Redis answers PING within 2 s. */
  async redis<Key extends string = 'redis'>(key: Key = 'redis' as Key): Promise<TasksHealthResult<Key>> {
    this.client ??= this.connections.create('fail-fast', 'health');
    const client = this.client;
    return this.probe(key, async () => {
      await client.ping();
      return { prefix: this.options.prefix };
    });
  }

  /** The run-tracking database (the app's TypeORM DataSource with the library's tables) answers within 2 s. */
  async database<Key extends string = 'database'>(key: Key = 'database' as Key): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const { dataSource } = await this.tracking.get();
      await dataSource.query('SELECT 1');
      return {};
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.client?.disconnect();
  }

  private async probe<Key extends string>(key: Key, check: () => Promise<Record<string, unknown>>): Promise<TasksHealthResult<Key>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    });
    const result = (status: 'up' | 'down', details: Record<string, unknown>) =>
      ({ [key]: { status, ...details } }) as Record<string, unknown> as TasksHealthResult<Key>;
    try {
      return result('up', await Promise.race([check(), timeout]));
    } catch (error) {
      return result('down', { message: this.connections.describe(error) });
    } finally {
      clearTimeout(timer);
    }
  }
}
