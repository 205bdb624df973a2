import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { CRON_QUEUE_TOKEN, TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TasksClock } from '../options/tasks-clock.js';
import { CronCatalog, type RegisteredCron } from '../cron/cron.catalog.js';
import { cronJobOptions, cronTickJobId, type CronJobData } from '../cron/cron-job-data.js';
import { catchUpAfterBoot, planCatchUp, type MissedTick } from '../cron/catch-up-policy.js';
import { fireTicks, type TickFiring } from '../cron/fire-ticks.js';
import { RedisClients } from '../redis/redis-clients.js';
import { CronRunStore } from '../tracking/cron-run.store.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import { CronSchedulerLease } from '../lock/scheduler-lease.js';
import { TasksEvents } from '../events/tasks-events.js';
import type { CronMissedCause } from '../events/lifecycle-events.js';

// setTimeout counts on the monotonic clock, the ticks are wall-clock times:
// after the wall clock is stepped forward (NTP, a resumed VM) one long wait
// would end that much after its tick, which 'skip' then records MISSED. Waits
// are cut into pieces this long, each aimed again at the wall clock, so a
// jump is noticed within this time (this also keeps under setTimeout's limit).
const MAX_WAIT_MS = 1_000;
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

/** What the scheduler did since it started; read by tests (metrics count the lifecycle events). */
export interface CronSchedulerStats {
  /** Ticks added to the cron queue (a replica's add of a tick another already added counts too). */
  enqueued: number;
  /** Adds that failed and were tried again. */
  enqueueRetries: number;
  /** Ticks that could not be enqueued within their catch-up allowance (recorded MISSED). */
  enqueueFailures: number;
  /** Ticks recorded MISSED by this scheduler's catch-up. */
  missed: number;
  /** Ticks not enqueued because their cron was paused. */
  paused: number;
}

/**
 * Fires each cron at its ticks by enqueueing a ready job for a worker. The
 * scheduler times ticks itself (BullMQ's repeatable jobs start late by up to
 * Redis' hz period and can drop a due tick on re-upsert) and derives the job
 * id from (job, tick), so any number of replicas enqueue each tick once. The
 * replica holding the scheduler lease enqueues at the tick and the others half
 * a second later as backups.
 *
 * cron_schedules (Redis, for an app whose crons are all untracked) is
 * reconciled from the code at start, says before every tick whether the
 * cron is paused, and keeps the last tick fired: ticks that fell
 * while no scheduler ran, or while this one was frozen, go through the cron's
 * catch-up policy (fired, or recorded MISSED), never replayed as a burst.
 */
@Injectable()
export class CronScheduler implements BeforeApplicationShutdown {
  private readonly logger = new Logger(CronScheduler.name);
  private readonly pending = new Map<string, PendingTick>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lease: CronSchedulerLease;
  private running = false;
  private storeFailing = false;
  /** Set while the latest attempt to enqueue a tick failed: since when, and why. */
  private enqueueFailing?: { since: number; cause: string };
  readonly stats: CronSchedulerStats = { enqueued: 0, enqueueRetries: 0, enqueueFailures: 0, missed: 0, paused: 0 };
  /** What firing a tick (or a catch-up plan) does here: the shared steps of fireTicks, on this scheduler's store and queue. */
  private readonly firing: TickFiring = {
    beforeTick: (cron, tick, next) => this.beforeTick(cron, tick, next),
    recordMissed: (cron, missed) => this.recordMissed(cron, missed, 'catch-up'),
    enqueue: (cron, tick) => this.enqueue(cron, tick),
  };

  constructor(
    private readonly catalog: CronCatalog,
    @Inject(CRON_QUEUE_TOKEN) private readonly queue: Queue<CronJobData>,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
    private readonly schedules: ScheduleStoreSelector,
    private readonly runs: CronRunStore,
    private readonly events: TasksEvents,
    private readonly clock: TasksClock,
  ) {
    this.lease = new CronSchedulerLease(
      clients.failFast,
      `${options.prefix}:cron-scheduler:lease`,
      (held) => {
        events.emit('scheduler.lease.changed', { held, schedulerId: this.lease.id });
        if (held) this.rearmAll();
      },
      (error) => this.logger.warn(`Scheduler lease: ${clients.describe(error)}; firing ticks as a backup meanwhile`),
      { ttlMs: options.schedulerLeaseTtlMs, renewMs: options.schedulerLeaseRenewMs },
    );
  }

  /**
   * For health checks: whether it fires ticks, how many crons, whether it
   * holds the lease (its id, and the lease's key), and since when its tick
   * enqueues fail, if the latest one did.
   */
  state(): { running: boolean; crons: number; leader: boolean; id: string; leaseKey: string; enqueueFailing?: { since: number; cause: string } } {
    return {
      running: this.running,
      crons: this.catalog.all().length,
      leader: this.lease.isLeader,
      id: this.lease.id,
      leaseKey: this.lease.leaseKey,
      ...(this.enqueueFailing ? { enqueueFailing: this.enqueueFailing } : {}),
    };
  }

  /** The replica that holds the scheduler lease (the `id` of its state), or null when none does. */
  leaseHolder(): Promise<string | null> {
    return this.lease.holder();
  }

  /** Reconciles cron_schedules with the code, catches up on missed ticks, and arms the next ones. */
  async startTicking(): Promise<void> {
    if (this.running) return;
    const crons = this.catalog.all();
    if (crons.length === 0) {
      this.running = true;
      this.logger.log('Scheduling 0 cron job(s)');
      return;
    }
    // An app whose crons are all untracked keeps its schedules in Redis and needs no database.
    const store = this.schedules.store;
    if (!this.schedules.inRedis) await this.runs.connect();
    await store.connect();
    const now = this.clock.now();
    const lastTicks = await store.reconcile(this.catalog.declaredSchedules(now));
    this.running = true;
    // Until the lease answers, this replica fires as a backup; taking it re-arms the pending ticks.
    void this.lease.startRefreshing();
    for (const cron of crons) {
      this.catchUp(cron, catchUpAfterBoot(cron, lastTicks.get(cron.name), now, this.options.cronCatchUpMs), now);
      this.arm(cron, cron.schedule.nextTick(now));
    }
    this.logger.log(
      `Scheduling ${crons.length} cron job(s): ` + crons.map((c) => `${c.name} "${c.expression}" ${c.timeZone}`).join(', '),
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

  private arm(cron: RegisteredCron, tick: number): void {
    const previous = this.pending.get(cron.name);
    if (previous) clearTimeout(previous.timer);
    const delay = Math.min(Math.max(this.fireTime(tick) - this.clock.now() - EARLY_WAKE_MS, 0), MAX_WAIT_MS);
    const entry: PendingTick = { tick, timer: setTimeout(() => this.due(cron, entry), delay) };
    this.pending.set(cron.name, entry);
  }

  /** Fires the tick once its time has come (never before), unless it was re-armed meanwhile. */
  private due(cron: RegisteredCron, entry: PendingTick): void {
    if (!this.running || this.pending.get(cron.name) !== entry) return;
    const now = this.clock.now();
    const left = this.fireTime(entry.tick) - now;
    if (left > EARLY_WAKE_MS) {
      // One piece of a longer wait, or the clock was set back: the tick stays ahead.
      this.arm(cron, entry.tick);
      return;
    }
    if (left > 0) {
      setImmediate(() => this.due(cron, entry));
      return;
    }
    const next = cron.schedule.nextTick(entry.tick);
    if (next <= now) {
      // Woke after the following tick too: the process was frozen or the clock
      // jumped. The ticks slept through go through the catch-up policy.
      this.logger.warn(`${cron.name}: woke ${now - entry.tick} ms after tick ${new Date(entry.tick).toISOString()}; catching up by its policy`);
      this.arm(cron, cron.schedule.nextTick(now));
      this.catchUp(cron, entry.tick - 1, now);
      return;
    }
    this.arm(cron, next);
    this.track(this.fire(cron, [entry.tick], [], next));
  }

  private fireTime(tick: number): number {
    return this.lease.isLeader ? tick : tick + BACKUP_DELAY_MS;
  }

  /** Just took the lease: pending ticks move from the backup time to the tick itself. */
  private rearmAll(): void {
    if (!this.running) return;
    for (const cron of this.catalog.all()) {
      const entry = this.pending.get(cron.name);
      if (entry) this.arm(cron, entry.tick);
    }
  }

  /** Ticks in (`after`, `now`] no scheduler fired: fired or recorded MISSED, as the cron's catch-up policy says. */
  private catchUp(cron: RegisteredCron, after: number, now: number): void {
    const plan = planCatchUp(cron, after, now, this.options.cronCatchUpMs);
    if (plan.fire.length === 0 && plan.missed.length === 0) return;
    if (plan.uncounted) {
      this.logger.warn(`${cron.name}: more missed ticks than are recorded one by one; only the latest ${plan.missed.length} get MISSED rows`);
    }
    this.track(this.fire(cron, plan.fire, plan.missed, cron.schedule.nextTick(now)));
  }

  /** Asks cron_schedules whether the cron is paused (noting the tick), then records `missed` and enqueues `ticks`. */
  private async fire(cron: RegisteredCron, ticks: readonly number[], missed: readonly MissedTick[], next: number): Promise<void> {
    if (!(await fireTicks(this.firing, cron, ticks, missed, next))) this.stats.paused += ticks.length;
  }

  // If the schedules' store does not answer, the tick is enqueued all the same:
  // the worker checks the pause again when it claims the run. Nothing is recorded MISSED then.
  private async beforeTick(cron: RegisteredCron, tick: number, next: number): Promise<{ paused: boolean; previousTick: number | undefined }> {
    try {
      const store = this.schedules.store;
      const answer = await store.beforeTick(cron.name, tick, next);
      if (this.storeFailing) this.logger.log(`${store.where} answers again`);
      this.storeFailing = false;
      return answer;
    } catch (error) {
      if (!this.storeFailing) {
        this.logger.warn(`${this.schedules.store.where} unreachable (${(error as Error).message}); enqueueing ticks without the pause check`);
      }
      this.storeFailing = true;
      return { paused: false, previousTick: Infinity };
    }
  }

  private async recordMissed(cron: RegisteredCron, missed: readonly MissedTick[], cause: CronMissedCause): Promise<void> {
    this.stats.missed += missed.length;
    this.logger.warn(`${cron.name}: ${missed.length} tick(s) missed, the newest ${new Date(missed[missed.length - 1].tick).toISOString()}: ${missed[missed.length - 1].reason}`);
    let recorded: ReadonlySet<number> = new Set();
    if (cron.track) {
      try {
        recorded = new Set(await this.runs.recordMissed(cron.name, missed));
      } catch (error) {
        this.logger.error(`Could not record ${missed.length} missed tick(s) of ${cron.name}: ${(error as Error).message}`);
      }
    }
    for (const { tick, reason } of missed) {
      this.events.emit('cron.tick.missed', { cron: cron.name, scheduledAt: new Date(tick), cause, reason, recorded: recorded.has(tick) });
    }
  }

  /**
   * Adds the tick's job, retrying a failed add for as long as the catch-up
   * policy would still run the tick; past that it is recorded MISSED.
   */
  private async enqueue(cron: RegisteredCron, tick: number): Promise<void> {
    const deadline = this.enqueueDeadline(cron, tick);
    const data: CronJobData = { name: cron.name, scheduledAt: tick, trigger: 'schedule' };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.queue.add(cron.name, data, cronJobOptions(cron, cronTickJobId(cron.name, tick), this.options));
        this.stats.enqueued++;
        this.events.emit('cron.tick.enqueued', { cron: cron.name, scheduledAt: new Date(tick), leader: this.lease.isLeader });
        this.enqueueFailing = undefined;
        if (attempt > 1) this.logger.log(`Enqueued tick ${new Date(tick).toISOString()} of ${cron.name} at attempt ${attempt}`);
        return;
      } catch (error) {
        const delay = Math.min(100 * 2 ** attempt, 2_000);
        const cause = this.clients.describe(error);
        this.enqueueFailing = { since: this.enqueueFailing?.since ?? this.clock.now(), cause };
        if (!this.running || this.clock.now() + delay > deadline) {
          this.stats.enqueueFailures++;
          this.logger.error(`Could not enqueue tick ${new Date(tick).toISOString()} of ${cron.name} (${attempt} attempt(s)): ${cause}`);
          await this.recordMissed(cron, [{ tick, reason: `Missed: could not be enqueued (${cause})` }], 'enqueue-failed');
          return;
        }
        if (attempt === 1) this.logger.warn(`Could not enqueue tick ${new Date(tick).toISOString()} of ${cron.name}, retrying: ${cause}`);
        this.stats.enqueueRetries++;
        await sleep(delay);
      }
    }
  }

  /** Until when a tick may still be enqueued: while its catch-up policy would still run it. */
  private enqueueDeadline(cron: RegisteredCron, tick: number): number {
    if (typeof cron.catchUp === 'object') return tick + cron.catchUp.windowMs;
    if (cron.catchUp === 'latest') return cron.schedule.nextTick(tick);
    return Math.min(tick + this.options.cronCatchUpMs, cron.schedule.nextTick(tick));
  }

  private track(work: Promise<void>): void {
    const done = work.catch((error: unknown) => this.logger.error(`Firing ticks failed: ${(error as Error).stack ?? String(error)}`));
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }
}
