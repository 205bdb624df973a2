import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { CRON_QUEUE_TOKEN, TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TasksClock } from '../options/tasks-clock.js';
import { InternalCronError, UnknownCronError } from '../errors/tasks.errors.js';
import { cronWithoutSchedule, internalCron, optionName, unknownCron } from '../errors/tasks.messages.js';
import type { JobOutcomeListener } from '../queues/job-outcome.listener.js';
import { QueueFactory } from '../queues/queue-factory.js';
import { EnqueuedTask } from './task-handle.js';
import type { TaskHandle } from './task-client.types.js';
import type { PauseNote, ScheduleWithLastRun } from '../tracking/schedule.store.js';
import type { CronRunStatus } from '../tracking/cron-run-status.js';
import { CronCatalog, type RegisteredCron } from '../cron/cron.catalog.js';
import { catchUpToText } from '../cron/cron.decorator.js';
import { CronSchedule } from '../cron/cron-schedule.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import { cronJobOptions, type CronJobData, type CronRunOutcome } from '../cron/cron-job-data.js';
import { MAINTENANCE_CRONS, isMaintenanceCron } from '../cron/cron-maintenance.js';

/** A cron job as the registry describes it: its schedule row, joined with what this process's code declares. */
export interface CronJobInfo {
  readonly name: string;
  readonly expression: string;
  readonly timeZone: string;
  /** `skip`, `latest` or `window:<ms>`. */
  readonly catchUp: string;
  /** `skip`, `bufferOne` or `allow`. */
  readonly overlap: string;
  /** `Class.method` of the handler. */
  readonly source: string | null;
  /** One of the library's own maintenance crons (lost-run sweep, retention prune). */
  readonly internal: boolean;
  /** Set while paused: why, by whom, since when. */
  readonly paused: { readonly reason: string | null; readonly by: string | null; readonly since: Date | null } | null;
  /** When a scheduler booted with code that no longer has it; such a cron fires no more. */
  readonly removedAt: Date | null;
  /** The latest tick a scheduler fired (or recorded MISSED). */
  readonly lastTick: Date | null;
  /** The next ticks, a preview (empty for a removed cron). */
  readonly nextTicks: Date[];
  /** The latest row in cron_job_runs (with `id` 0 where the schedules are in Redis: the latest run a worker noted). */
  readonly lastRun: { readonly id: number; readonly status: CronRunStatus; readonly scheduledAt: Date; readonly completedAt: Date | null } | null;
  /** What this process's code declares (lock TTL, attempts, tracking); undefined when it does not have this cron. */
  readonly declared?: { readonly lockTtlMs: number; readonly attempts: number; readonly track: boolean };
}

/** Options of {@link CronRegistry.list}. */
export interface CronListOptions {
  /** Include the library's own maintenance crons. Default false. */
  internal?: boolean;
  /** Include crons the code no longer has. Default false. */
  removed?: boolean;
  /** How many upcoming ticks to preview per cron. Default 5. */
  ticks?: number;
}

/**
 * The cron jobs of this deployment, as the cron_schedules table holds them:
 * list them with a preview of their next ticks, their last run and pause
 * state; pause, resume, and trigger one now. Inject it anywhere in an app
 * that imports TasksModule. It needs the run-tracking database, unless every
 * cron this process declares is `track: false`: then the schedules are in Redis.
 *
 * The library's own maintenance crons (`tasks.*`, `internal: true`) are listed
 * only with `list({ internal: true })`, shown by `get()`, and run on their own
 * schedule: pausing, resuming or triggering one throws `InternalCronError`.
 */
@Injectable()
export class CronRegistry {
  /** The process's one result listener of the cron queue. */
  private readonly outcomes: JobOutcomeListener;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly catalog: CronCatalog,
    private readonly schedules: ScheduleStoreSelector,
    @Inject(CRON_QUEUE_TOKEN) private readonly queue: Queue<CronJobData>,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    queues: QueueFactory,
    private readonly clock: TasksClock,
  ) {
    this.outcomes = queues.outcomes(queue.name);
  }

  /** Every cron job, sorted by name. Crons this process declares but no scheduler has reconciled yet are listed too. */
  async list({ internal = false, removed = false, ticks = 5 }: CronListOptions = {}): Promise<CronJobInfo[]> {
    const rows = await this.schedules.store.list();
    const byName = new Map(rows.map((row) => [row.schedule.name, row]));
    const names = new Set([...byName.keys(), ...this.catalog.names()]);
    return [...names]
      .sort()
      .map((name) => this.describe(name, byName.get(name), ticks))
      .filter((info) => (internal || !info.internal) && (removed || info.removedAt === null));
  }

  /** One cron job, or undefined. */
  async get(name: string, ticks = 5): Promise<CronJobInfo | undefined> {
    const [row] = await this.schedules.store.list(name);
    if (!row && !this.catalog.get(name)) return undefined;
    return this.describe(name, row, ticks);
  }

  /** The next `count` ticks of a cron this process declares, after `from` (default now). Throws `UnknownCronError` for a cron it does not declare. */
  nextTicks(name: string, count = 5, from?: Date): Date[] {
    return previewTicks(this.require(name).schedule, count, from?.getTime() ?? this.clock.now());
  }

  /**
   * Pauses a cron on every scheduler replica from its next tick on (a run
   * going is not stopped). Paused ticks are not enqueued and get no row.
   * Throws `UnknownCronError` when the cron has no schedule (none of that
   * name, or no scheduler booted with it yet), and `InternalCronError` for
   * one of the library's own.
   */
  async pause(name: string, note: PauseNote = {}): Promise<CronJobInfo> {
    this.assertNotInternal(name, 'paused');
    if (!(await this.schedules.store.pause(name, note))) throw await this.noSchedule(name);
    return (await this.get(name)) as CronJobInfo;
  }

  /** Resumes a paused cron from its next tick on; the ticks that fell while paused are not replayed. Throws as {@link pause} does. */
  async resume(name: string): Promise<CronJobInfo> {
    this.assertNotInternal(name, 'resumed');
    if (!(await this.schedules.store.resume(name))) throw await this.noSchedule(name);
    return (await this.get(name)) as CronJobInfo;
  }

  /**
   * Runs a cron job now, through the same lock and run tracking as its ticks
   * (also while it is paused). The handle resolves with the run's outcome.
   * Throws `UnknownCronError` for a cron this process's code does not
   * declare, and `InternalCronError` for one of the library's own.
   */
  async trigger(name: string): Promise<TaskHandle<CronRunOutcome>> {
    this.assertNotInternal(name, 'triggered');
    const cron = this.require(name);
    const jobId = `${name}@manual-${randomUUID()}`;
    await this.queue.add(name, { name, scheduledAt: this.clock.now(), trigger: 'manual' }, cronJobOptions(cron, jobId, this.options));
    return new EnqueuedTask<CronRunOutcome>(jobId, name, this.queue.name, this.outcomes);
  }

  private describe(name: string, row: ScheduleWithLastRun | undefined, ticks: number): CronJobInfo {
    const cron = this.catalog.get(name);
    const schedule = row?.schedule;
    const expression = schedule?.expression ?? (cron as RegisteredCron).expression;
    const timeZone = schedule?.timeZone ?? (cron as RegisteredCron).timeZone;
    const removedAt = schedule?.removedAt ?? null;
    let nextTicks: Date[] = [];
    if (!removedAt) nextTicks = previewTicks(cron?.schedule ?? new CronSchedule(expression, timeZone), ticks, this.clock.now());
    return {
      name,
      expression,
      timeZone,
      catchUp: schedule?.catchUp ?? catchUpToText((cron as RegisteredCron).catchUp),
      overlap: schedule?.overlap ?? (cron as RegisteredCron).overlap,
      source: schedule?.source ?? cron?.source ?? null,
      internal: schedule?.internal ?? cron?.internal ?? false,
      paused: schedule?.paused ? { reason: schedule.pausedReason, by: schedule.pausedBy, since: schedule.pausedAt } : null,
      removedAt,
      lastTick: schedule?.lastTickAt ?? null,
      nextTicks,
      lastRun: row?.lastRun ?? null,
      declared: cron ? { lockTtlMs: cron.lockTtlMs, attempts: cron.attempts, track: cron.track } : undefined,
    };
  }

  private require(name: string): RegisteredCron {
    const cron = this.catalog.get(name);
    if (cron) return cron;
    const declared = this.catalog.names();
    throw new UnknownCronError(unknownCron(name, declared), name, declared);
  }

  // By name rather than by this process's catalog: an app without crons of
  // its own (an api) registers no maintenance crons, yet shares their rows.
  private assertNotInternal(name: string, action: 'paused' | 'resumed' | 'triggered'): void {
    if (!isMaintenanceCron(name)) return;
    const { purpose, option } = MAINTENANCE_CRONS[name];
    throw new InternalCronError(internalCron(name, action, purpose, optionName(this.options.sources, option)), name);
  }

  /** The schedules' names are read again only on this failure path, to list what could have been meant. */
  private async noSchedule(name: string): Promise<UnknownCronError> {
    const store = this.schedules.store;
    const scheduled = (await store.list()).filter((row) => !row.schedule.internal).map((row) => row.schedule.name);
    const declaredHere = this.catalog.get(name) !== undefined;
    const message = cronWithoutSchedule(name, store.where, scheduled, declaredHere, this.options.prefix, optionName(this.options.sources, 'prefix'));
    return new UnknownCronError(message, name, scheduled);
  }
}

function previewTicks(schedule: CronSchedule, count: number, from: number): Date[] {
  const ticks: Date[] = [];
  let at = from;
  for (let i = 0; i < count; i++) {
    at = schedule.nextTick(at);
    ticks.push(new Date(at));
  }
  return ticks;
}
