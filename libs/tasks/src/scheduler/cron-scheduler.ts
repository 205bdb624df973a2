import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { CRON_QUEUE_TOKEN, TASKS_OPTIONS } from '../module/tasks.constants.js';
import type { ResolvedTasksOptions } from '../module/tasks-options.interface.js';
import { CronCatalog, type RegisteredCron } from '../cron/cron.catalog.js';
import { cronJobOptions, cronTickJobId, type CronJobData } from '../cron/cron-job-data.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { CronSchedulerLease } from './scheduler-lease.js';

// setTimeout cannot wait longer than this; longer waits re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Node's timers count whole milliseconds and fire up to a millisecond or two
// late (plus the wake-up). The timer is aimed this much early and the last
// stretch is waited out on setImmediate, so a tick is enqueued within a
// fraction of a millisecond of its time (docs/benchmarks.md); the cost is at
// most this many milliseconds of a busy event loop per tick.
const EARLY_WAKE_MS = 2;
// A replica that does not hold the scheduler lease enqueues each tick this
// much later, as a backup of the lease holder (scheduler-lease.ts).
const BACKUP_DELAY_MS = 500;

/** The next tick of one cron and the timer that fires it. */
interface PendingTick {
  readonly tick: number;
  timer: NodeJS.Timeout;
}

/**
 * Fires each cron at its ticks by enqueueing a ready job for a worker. The
 * scheduler times ticks itself (BullMQ's repeatable jobs start late by up to
 * Redis' hz period and can drop a due tick on re-upsert) and derives the job
 * id from (job, tick), so any number of replicas enqueue each tick once. The
 * replica holding the scheduler lease enqueues at the tick and the others half
 * a second later as backups. Beyond that short-lived lease it keeps no state
 * in Redis: a cron removed or changed in code leaves nothing behind.
 */
@Injectable()
export class CronScheduler implements BeforeApplicationShutdown {
  private readonly logger = new Logger('CronScheduler');
  private readonly pending = new Map<string, PendingTick>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lease: CronSchedulerLease;
  private running = false;

  constructor(
    private readonly registry: CronCatalog,
    @Inject(CRON_QUEUE_TOKEN) private readonly queue: Queue<CronJobData>,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
  ) {
    this.lease = new CronSchedulerLease(
      () => connections.create('fail-fast', 'scheduler-lease'),
      `${options.prefix}:cron-scheduler:lease`,
      () => this.rearmAll(),
      (error) => this.logger.warn(`Scheduler lease: ${connections.describe(error)}; firing ticks as a backup meanwhile`),
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // Until the lease answers, this replica fires as a backup; taking it re-arms the pending ticks.
    void this.lease.start();
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
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    await this.lease.stop();
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
    const previous = this.pending.get(cron.name);
    if (previous) clearTimeout(previous.timer);
    const delay = Math.min(Math.max(this.fireTime(tick) - Date.now() - EARLY_WAKE_MS, 0), MAX_TIMER_MS);
    const entry: PendingTick = { tick, timer: setTimeout(() => this.due(cron, entry), delay) };
    this.pending.set(cron.name, entry);
  }

  /** Fires the tick once its time has come (never before), unless it was re-armed meanwhile. */
  private due(cron: RegisteredCron, entry: PendingTick): void {
    if (!this.running || this.pending.get(cron.name) !== entry) return;
    const left = this.fireTime(entry.tick) - Date.now();
    if (left > EARLY_WAKE_MS) {
      // A wait longer than setTimeout allows, or the clock was set back.
      this.arm(cron, entry.tick);
      return;
    }
    if (left > 0) {
      setImmediate(() => this.due(cron, entry));
      return;
    }
    this.arm(cron, cron.schedule.nextTick(entry.tick));
    this.fire(cron, entry.tick);
  }

  private fireTime(tick: number): number {
    return this.lease.isLeader ? tick : tick + BACKUP_DELAY_MS;
  }

  /** Just took the lease: pending ticks move from the backup time to the tick itself. */
  private rearmAll(): void {
    if (!this.running) return;
    for (const cron of this.registry.all()) {
      const entry = this.pending.get(cron.name);
      if (entry) this.arm(cron, entry.tick);
    }
  }

  private fire(cron: RegisteredCron, tick: number): void {
    const enqueue = this.queue
      .add(cron.name, { name: cron.name, scheduledAt: tick, trigger: 'schedule' }, cronJobOptions(cron, cronTickJobId(cron.name, tick), this.options))
      .then(
        () => undefined,
        (error: unknown) =>
          this.logger.error(`Could not enqueue tick ${new Date(tick).toISOString()} of ${cron.name}: ${this.connections.describe(error)}`),
      );
    this.inFlight.add(enqueue);
    void enqueue.finally(() => this.inFlight.delete(enqueue));
  }
}
