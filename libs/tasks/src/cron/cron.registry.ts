import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { CRON_QUEUE_TOKEN, TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { UnknownTaskError } from '../errors/tasks.errors.js';
import { unknownCron } from '../tasks.messages.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { JobOutcomeListener } from '../client/job-outcome.listener.js';
import { EnqueuedTask } from '../client/task-handle.js';
import type { TaskHandle } from '../client/task-client.types.js';
import { CronCatalog, type RegisteredCron } from './cron.catalog.js';
import { cronJobOptions, type CronJobData, type CronRunOutcome } from './cron-job-data.js';

/** A cron job as the registry describes it. */
export interface CronJobInfo {
  readonly name: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly lockTtlMs: number;
  /** Runs per tick before the run is recorded FAILED. */
  readonly attempts: number;
  /** Whether runs are recorded in cron_job_runs. */
  readonly track: boolean;
  /** `Class.method` of the handler. */
  readonly source: string;
  /** One of the library's own maintenance crons (lost-run sweep, retention prune). */
  readonly internal: boolean;
}

/**
 * The cron jobs of this application: list them, preview their next ticks,
 * and trigger one now. Inject it anywhere in an app that imports TasksModule.
 */
@Injectable()
export class CronRegistry implements OnApplicationShutdown {
  private readonly outcomes: JobOutcomeListener;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly catalog: CronCatalog,
    @Inject(CRON_QUEUE_TOKEN) private readonly queue: Queue<CronJobData>,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    connections: RedisConnections,
  ) {
    this.outcomes = new JobOutcomeListener(queue, connections);
  }

  /** Every cron job, sorted by name; the library's own ones only with `{ internal: true }`. */
  list({ internal = false }: { internal?: boolean } = {}): CronJobInfo[] {
    return this.catalog
      .all()
      .filter((cron) => internal || !cron.internal)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(describe);
  }

  /** One cron job, or undefined. */
  get(name: string): CronJobInfo | undefined {
    const cron = this.catalog.get(name);
    return cron && describe(cron);
  }

  /** The next `count` ticks of a cron job after `from` (default now). Throws `UnknownTaskError` for an unknown name. */
  nextTicks(name: string, count = 5, from: Date = new Date()): Date[] {
    const { schedule } = this.require(name);
    const ticks: Date[] = [];
    let at = from.getTime();
    for (let i = 0; i < count; i++) {
      at = schedule.nextTick(at);
      ticks.push(new Date(at));
    }
    return ticks;
  }

  /**
   * Runs a cron job now, through the same lock and run tracking as its ticks.
   * The handle resolves with the run's outcome (COMPLETED with the result, or SKIPPED).
   */
  async trigger(name: string): Promise<TaskHandle<CronRunOutcome>> {
    const cron = this.require(name);
    const jobId = `${name}@manual-${randomUUID()}`;
    await this.queue.add(name, { name, scheduledAt: Date.now(), trigger: 'manual' }, cronJobOptions(cron, jobId, this.options));
    return new EnqueuedTask<CronRunOutcome>(jobId, name, this.outcomes);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.outcomes.close();
  }

  private require(name: string): RegisteredCron {
    const cron = this.catalog.get(name);
    if (!cron) throw new UnknownTaskError(unknownCron(name, this.catalog.names()), name, this.catalog.names());
    return cron;
  }
}

function describe(cron: RegisteredCron): CronJobInfo {
  const { name, expression, timeZone, lockTtlMs, attempts, track, source, internal } = cron;
  return { name, expression, timeZone, lockTtlMs, attempts, track, source, internal };
}
