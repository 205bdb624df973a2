import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TasksClock } from '../options/tasks-clock.js';
import type { QueueFactory } from '../queues/queue-factory.js';
import { CronRegistry } from '../client/cron.registry.js';
import type { TaskHandle } from '../client/task-client.types.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import type { CronJobData, CronRunOutcome } from '../cron/cron-job-data.js';
import { CronTestDriver } from './cron-test-driver.js';

const NO_QUEUES = { outcomes: () => undefined } as unknown as QueueFactory;

/**
 * The production `CronRegistry` over the kit's schedule store and cron
 * queue, provided under its token: `list`, `get`, `nextTicks`, `pause`,
 * `resume` and `trigger` run the production code (the kit's clock is their
 * now). Only the handle `trigger` returns is the kit's, as production's
 * waits for the outcome on Redis.
 */
@Injectable()
export class KitCronRegistry extends CronRegistry {
  // Every parameter names its token: the parent's @Inject() indexes would otherwise apply to these.
  constructor(
    @Inject(CronCatalog) catalog: CronCatalog,
    @Inject(ScheduleStoreSelector) schedules: ScheduleStoreSelector,
    @Inject(TASKS_OPTIONS) options: ResolvedTasksOptions,
    @Inject(TasksClock) clock: TasksClock,
    @Inject(CronTestDriver) private readonly driver: CronTestDriver,
  ) {
    // No result listener: trigger's handle is the kit's.
    super(catalog, schedules, driver.queue as unknown as Queue<CronJobData>, options, NO_QUEUES, clock);
  }

  /** Production's checks (the library's own crons, an unknown one), its job, run by the kit's worker. */
  override async trigger(name: string): Promise<TaskHandle<CronRunOutcome>> {
    const enqueued = await super.trigger(name);
    return this.driver.handle(enqueued.id);
  }
}
