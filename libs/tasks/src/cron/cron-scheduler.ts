import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { JobsOptions, Queue } from 'bullmq';
import { CRON_QUEUE, TASKS_OPTIONS } from '../tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { CronRegistry, type RegisteredCron } from './cron.registry.js';
import { cronTickJobId, type CronJobData } from './cron-job-data.js';

// setTimeout cannot wait longer than this; longer waits re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Fires each cron at its ticks by enqueueing a ready job for a worker. The
 * scheduler times ticks itself (BullMQ's repeatable jobs start late by up to
 * Redis' hz period and can drop a due tick on re-upsert) and derives the job
 * id from (job, tick), so any number of replicas enqueue each tick once. It
 * keeps no state in Redis: a cron removed or changed in code leaves nothing behind.
 */
@Injectable()
export class CronScheduler implements BeforeApplicationShutdown {
  private readonly logger = new Logger('CronScheduler');
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;

  constructor(
    private readonly registry: CronRegistry,
    @InjectQueue(CRON_QUEUE) private readonly queue: Queue<CronJobData>,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const now = Date.now();
    for (const cron of this.registry.all()) {
      this.catchUp(cron, now);
      this.arm(cron, cron.schedule.nextTick(now));
    }
    this.logger.log(
      `Scheduling ${this.registry.all().length} cron job(s): ` +
        this.registry
          .all()
          .map((c) => `${c.name} "${c.expression}" ${c.timeZone}`)
          .join(', '),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    // A tick being enqueued right now is finished, not dropped.
    await Promise.allSettled(this.inFlight);
  }

  // A tick that fell due moments before this scheduler started (e.g. during a
  // redeploy) is still fired; its job id makes it a no-op if another replica did.
  private catchUp(cron: RegisteredCron, now: number): void {
    const previous = cron.schedule.previousTick(now);
    if (previous !== undefined && now - previous <= this.options.cronCatchUpMs) this.fire(cron, previous);
  }

  private arm(cron: RegisteredCron, tick: number): void {
    const delay = Math.min(Math.max(tick - Date.now(), 0), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      if (!this.running) return;
      if (Date.now() < tick) {
        this.arm(cron, tick);
        return;
      }
      this.arm(cron, cron.schedule.nextTick(tick));
      this.fire(cron, tick);
    }, delay);
    this.timers.set(cron.name, timer);
  }

  private fire(cron: RegisteredCron, tick: number): void {
    const enqueue = this.queue
      .add(cron.name, { name: cron.name, scheduledAt: tick, trigger: 'schedule' }, this.jobOptions(cron, cronTickJobId(cron.name, tick)))
      .then(
        () => undefined,
        (error: unknown) =>
          this.logger.error(`Could not enqueue tick ${new Date(tick).toISOString()} of ${cron.name}: ${(error as Error).message}`),
      );
    this.inFlight.add(enqueue);
    void enqueue.finally(() => this.inFlight.delete(enqueue));
  }

  private jobOptions(cron: RegisteredCron, jobId: string): JobsOptions {
    return cronJobOptions(cron, jobId, this.options);
  }
}

/** Options of a cron run's job; finished ones are kept an hour so a late replica's add of the same tick stays a no-op. */
export function cronJobOptions(cron: RegisteredCron, jobId: string, options: ResolvedTasksOptions): JobsOptions {
  return {
    jobId,
    attempts: cron.attempts,
    backoff: { type: options.defaultBackoff.type, delay: options.defaultBackoff.delayMs },
    removeOnComplete: { age: 3_600, count: 100_000 },
    removeOnFail: { age: options.keepFailed.ageSeconds, count: options.keepFailed.count },
  };
}
