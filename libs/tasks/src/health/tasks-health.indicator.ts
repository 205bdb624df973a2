import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import { TaskQueues } from '../queues/task-queues.js';
import { assertQueueName, bullQueueName } from '../options/task-queue-names.js';
import type { JobOutcomeListener } from '../queues/job-outcome.listener.js';
import { TrackingDatabaseLocator } from '../tracking/tracking-database.js';
import { TaskWorkerHost } from '../worker/task-worker.host.js';
import { CronScheduler } from '../scheduler/cron-scheduler.js';
import { CronSchedule } from '../cron/cron-schedule.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';

/** What one check reports, in the shape `@nestjs/terminus` expects of a health indicator. */
export type TasksHealthResult<Key extends string = string> = Record<Key, { status: 'up' | 'down'; [detail: string]: unknown }>;

/** What the lateness check reads: the cron's schedule, and the status of a run of a tick at or after `due` that was not MISSED. */
interface LatenessSource {
  readonly schedule: { expression: string; timeZone: string; paused: boolean; removedAt: Date | null } | undefined;
  readonly runSince: (due: number) => Promise<string | undefined>;
}

/** How long a check waits for its dependency before it reports it down. */
const CHECK_TIMEOUT_MS = 2_000;

/** Options of {@link TasksHealthIndicator.redis}. */
export interface RedisHealthOptions {
  /**
   * Task queues whose results this process waits for (`waitResult`), e.g.
   * `['default']`: their result readers are opened by the check (one
   * connection each, kept), so the first wait needs no new connection.
   * Default none: a reader is checked once a wait has opened it.
   */
  results?: readonly string[];
}

/**
 * Health indicators of the library's dependencies, for `@nestjs/terminus`
 * (`health.check([() => tasksHealth.redis(), () => tasksHealth.database()])`)
 * or any probe of your own. They resolve with `status: 'down'` and the cause,
 * never reject, and never show a password. What they find (the prefix, queue
 * names, causes naming addresses) is for operators: an anonymous answer
 * should show each check's `status` only.
 */
@Injectable()
export class TasksHealthIndicator {
  /** @internal Built by Nest's injector. */
  constructor(
    private readonly clients: RedisClients,
    private readonly tracking: TrackingDatabaseLocator,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly workerHost: TaskWorkerHost,
    private readonly cronScheduler: CronScheduler,
    private readonly schedules: ScheduleStoreSelector,
    private readonly taskQueues: TaskQueues,
  ) {}

  /**
   * This process consumes: `runWorker` started it, every queue's BullMQ
   * worker runs, and each one with a slot free polled Redis within
   * `maxPollAgeMs` (default `healthMaxPollAgeMs`, 30 s).
   */
  async worker<Key extends string = 'worker'>(key: Key = 'worker' as Key, maxPollAgeMs = this.options.healthMaxPollAgeMs): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const queues = this.workerHost.consumerStates();
      if (queues.length === 0) throw new Error('not consuming: the worker has not started, or is shutting down');
      const stopped = queues.filter((queue) => !queue.running).map((queue) => queue.queue);
      if (stopped.length > 0) throw new Error(`the consumer of ${stopped.join(', ')} is not running`);
      const now = Date.now();
      const stale = queues.filter((queue) => !queue.busy && now - queue.lastPollAt > maxPollAgeMs);
      if (stale.length > 0) {
        const ages = stale.map((queue) => `${queue.queue} ${now - queue.lastPollAt} ms ago`).join(', ');
        throw new Error(`not polling: the last poll of Redis was ${ages} (allowed ${maxPollAgeMs} ms)`);
      }
      return { queues: queues.map((queue) => queue.queue) };
    });
  }

  /**
   * This process fires ticks: `runScheduler` started it and its latest tick
   * was enqueued (down, with the cause, while enqueues fail). Says whether it
   * holds the scheduler lease, and which replica does (`leaseHolder`).
   */
  async scheduler<Key extends string = 'scheduler'>(key: Key = 'scheduler' as Key): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const { running, crons, leader, id: replica, enqueueFailing } = this.cronScheduler.state();
      if (!running) throw new Error('not scheduling: the scheduler has not started, or is shutting down');
      if (enqueueFailing) {
        throw new Error(`cannot enqueue ticks since ${new Date(enqueueFailing.since).toISOString()}: ${enqueueFailing.cause}`);
      }
      if (crons === 0) return { crons, leader };
      // Redis being away is the redis check's to report; here it only leaves the holder unknown.
      const leaseHolder = await this.cronScheduler.leaseHolder().catch(() => undefined);
      return { crons, leader, replica, leaseHolder: leaseHolder ?? null };
    });
  }

  /**
   * Redis answers, within 2 s, on the connections this process enqueues and
   * consumes with: the shared client (`@InjectRedis()`), the library's
   * command connection (every queue of the library, cancellations, events),
   * and the result readers (`waitResult`) that are open or named in
   * `options.results`. A connection Redis will not take back (down, or at
   * `maxclients` while older connections still work) makes it down. A probe
   * costs one PING per connection and opens none of its own: a connection
   * this process lacks is opened once, as the first enqueue would, and kept.
   */
  async redis<Key extends string = 'redis'>(key: Key = 'redis' as Key, options: RedisHealthOptions = {}): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const results = new Set(options.results);
      const checks: [string, () => Promise<unknown>][] = [
        ['the shared client', () => answers(this.clients.app)],
        ['the queues\' connection', () => answers(this.clients.command)],
        ...[...new Set([...this.taskQueues.names(), ...results])].map((name): [string, () => Promise<unknown>] => [
          `the result reader of ${bullQueueName(name)}`,
          async () => readerConnected(this.taskQueues.outcomes(assertQueueName('TasksHealthIndicator.redis({ results })', name)), results.has(name)),
        ]),
      ];
      const outcomes = await Promise.allSettled(checks.map(([, check]) => within(check(), CHECK_TIMEOUT_MS - 100)));
      // Causes go through describe(), the one redaction (redactSecrets), like every other health answer.
      const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [`${checks[i]?.[0]}: ${this.clients.describe(outcome.reason)}`] : []));
      if (failed.length > 0) throw new Error(failed.join('; '));
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

  /**
   * Cron `name` is not late: the latest tick due more than `graceMs` ago
   * (default 60 s) has a row that is not MISSED (it ran, runs, failed, or was
   * SKIPPED by its overlap policy). Down, with the tick, when it has none or
   * when no scheduler has the cron; up with `paused: true` while it is paused.
   * In an app whose crons are all `track: false` there are no rows: the
   * latest tick a worker took (ran, or skipped), kept in Redis, stands for them.
   */
  async cronLate<Key extends string = string>(name: string, graceMs = 60_000, key: Key = `cron:${name}` as Key): Promise<TasksHealthResult<Key>> {
    return this.probe(key, async () => {
      const namespace = this.options.prefix;
      const { schedule, runSince } = this.schedules.inRedis ? await this.lateSourceInRedis(name) : await this.lateSourceInDatabase(name);
      if (!schedule || schedule.removedAt) throw new Error(`no scheduler has the cron "${name}" under the prefix "${namespace}"`);
      if (schedule.paused) return { paused: true };
      const due = new CronSchedule(schedule.expression, schedule.timeZone).previousTick(Date.now() - graceMs);
      if (due === undefined) return {};
      const status = await runSince(due);
      const tick = new Date(due).toISOString();
      if (!status) throw new Error(`late: the tick of ${tick} has no run ${graceMs} ms after it (none started, or it was MISSED)`);
      return { tick, lastStatus: status };
    });
  }

  /** The cron's schedule row, and the status of its newest run at or after a tick that was not MISSED. */
  private async lateSourceInDatabase(name: string): Promise<LatenessSource> {
    const { dataSource, table, schedulesTable } = await this.tracking.get();
    const namespace = this.options.prefix;
    const [row] = (await dataSource.query(
      `SELECT expression, time_zone, paused, removed_at FROM ${schedulesTable} WHERE namespace = $1 AND name = $2`,
      [namespace, name],
    )) as { expression: string; time_zone: string; paused: boolean; removed_at: Date | null }[];
    const schedule = row && { expression: row.expression, timeZone: row.time_zone, paused: row.paused, removedAt: row.removed_at };
    const runSince = async (due: number) => {
      const [run] = (await dataSource.query(
        `SELECT status FROM ${table}
          WHERE namespace = $1 AND job_name = $2 AND scheduled_at >= $3 AND status <> 'MISSED'
          ORDER BY scheduled_at DESC LIMIT 1`,
        [namespace, name, new Date(due)],
      )) as { status: string }[];
      return run?.status;
    };
    return { schedule, runSince };
  }

  private async lateSourceInRedis(name: string): Promise<LatenessSource> {
    const found = await this.schedules.redis.get(name);
    const admitted = found?.admitted;
    return { schedule: found?.schedule, runSince: async (due) => (admitted && admitted.tick >= due ? admitted.status : undefined) };
  }

  private async probe<Key extends string>(key: Key, check: () => Promise<Record<string, unknown>>): Promise<TasksHealthResult<Key>> {
    const result = (status: 'up' | 'down', details: Record<string, unknown>) =>
      ({ [key]: { ...details, status } }) as Record<string, unknown> as TasksHealthResult<Key>;
    try {
      return result('up', await within(check(), CHECK_TIMEOUT_MS));
    } catch (error) {
      return result('down', { message: this.clients.describe(error) });
    }
  }
}

/** `work`, or a rejection once `ms` have passed. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The connection answers a PING; one that lost Redis and tries again is down at once, rather than queueing the PING until it is back. */
async function answers(client: Redis): Promise<void> {
  if (client.status === 'reconnecting' || client.status === 'close' || client.status === 'end') throw new Error(`not connected (${client.status})`);
  await client.ping();
}

/** The result reader is connected (opened first when `open`); one nothing opened yet is fine. */
async function readerConnected(outcomes: JobOutcomeListener, open: boolean): Promise<void> {
  const status = await outcomes.readerStatus(open);
  if (status !== undefined && status !== 'ready') throw new Error(`not connected (${status})`);
}
