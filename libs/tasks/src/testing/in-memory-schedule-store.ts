import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TasksClock } from '../options/tasks-clock.js';
import type { CronScheduleRecord } from '../tracking/cron-schedule-record.entity.js';
import type { DeclaredSchedule, PauseNote, ScheduleStore, ScheduleWithLastRun } from '../tracking/schedule.store.js';
import { CronRunStatus, type CronRunTrigger } from '../tracking/cron-run-status.js';
import type { RedisScheduleStore } from '../tracking/redis-schedule.store.js';

/** A row of cron_schedules as a plain object. */
type ScheduleRecord = { [K in keyof CronScheduleRecord]: CronScheduleRecord[K] };

/** The latest run of a cron, as `CronRegistry` shows it. */
export type LastRun = NonNullable<ScheduleWithLastRun['lastRun']>;

/**
 * The crons' schedules in memory (definition, pause state, last tick fired,
 * latest run), provided under the tokens of both production schedule stores:
 * `CronRegistry` pauses and lists through it, the kit's scheduler asks it
 * before every tick, and the run store asks it whether a tick's cron is
 * paused when the tick is claimed, as production does with cron_schedules.
 * Timestamps come from the kit's clock.
 */
@Injectable()
export class InMemoryScheduleStore implements ScheduleStore, Pick<RedisScheduleStore, 'startRun' | 'endRun'> {
  readonly where = 'the testing kit (in memory)';
  private readonly records = new Map<string, ScheduleRecord>();
  private readonly lastRuns = new Map<string, LastRun>();

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clock: TasksClock,
  ) {}

  async connect(): Promise<void> {}

  /** As a scheduler's boot: one record per declared cron (pause state and last tick kept), the others marked removed. */
  reconcile(declared: readonly DeclaredSchedule[]): Promise<Map<string, number>> {
    const now = this.date();
    const names = new Set(declared.map((cron) => cron.name));
    for (const cron of declared) {
      const existing = this.records.get(cron.name);
      const definition = {
        expression: cron.expression,
        timeZone: cron.timeZone,
        catchUp: cron.catchUp,
        overlap: cron.overlap,
        source: cron.source,
        internal: cron.internal,
      };
      if (!existing) {
        this.records.set(cron.name, {
          namespace: this.options.prefix,
          name: cron.name,
          ...definition,
          paused: false,
          pausedReason: null,
          pausedBy: null,
          pausedAt: null,
          lastTickAt: null,
          nextTickAt: new Date(cron.nextTick),
          removedAt: null,
          createdAt: now,
          updatedAt: now,
        });
        continue;
      }
      const changed = Object.entries(definition).some(([key, value]) => existing[key as keyof typeof definition] !== value) || existing.removedAt !== null;
      if (changed) Object.assign(existing, definition, { nextTickAt: new Date(cron.nextTick), removedAt: null, updatedAt: now });
      // The library's own crons are never left paused.
      if (existing.internal && existing.paused) Object.assign(existing, { paused: false, pausedReason: null, pausedBy: null, pausedAt: null, updatedAt: now });
    }
    for (const record of this.records.values()) {
      if (!names.has(record.name) && record.removedAt === null) Object.assign(record, { removedAt: now, updatedAt: now });
    }
    const lastTicks = new Map<string, number>();
    for (const record of this.records.values()) if (record.lastTickAt) lastTicks.set(record.name, record.lastTickAt.getTime());
    return Promise.resolve(lastTicks);
  }

  beforeTick(name: string, tick: number, nextTick: number): Promise<{ paused: boolean; previousTick: number | undefined }> {
    const record = this.records.get(name);
    if (!record) return Promise.resolve({ paused: false, previousTick: undefined });
    const previousTick = record.lastTickAt?.getTime();
    if (previousTick === undefined || previousTick < tick) record.lastTickAt = new Date(tick);
    if (record.nextTickAt === null || record.nextTickAt.getTime() < nextTick) record.nextTickAt = new Date(nextTick);
    return Promise.resolve({ paused: record.paused, previousTick });
  }

  pause(name: string, note: PauseNote): Promise<boolean> {
    const record = this.records.get(name);
    if (!record) return Promise.resolve(false);
    const now = this.date();
    Object.assign(record, { paused: true, pausedReason: note.reason ?? null, pausedBy: note.by ?? null, pausedAt: record.paused ? record.pausedAt : now, updatedAt: now });
    return Promise.resolve(true);
  }

  resume(name: string): Promise<boolean> {
    const record = this.records.get(name);
    if (!record) return Promise.resolve(false);
    Object.assign(record, { paused: false, pausedReason: null, pausedBy: null, pausedAt: null, updatedAt: this.date() });
    return Promise.resolve(true);
  }

  list(name?: string): Promise<ScheduleWithLastRun[]> {
    const records = name === undefined ? [...this.records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : [this.records.get(name)];
    return Promise.resolve(
      records.flatMap((record) => {
        if (!record) return [];
        const lastRun = this.lastRuns.get(record.name);
        return [{ schedule: { ...record }, lastRun: lastRun ? { id: lastRun.id, status: lastRun.status, scheduledAt: lastRun.scheduledAt, completedAt: lastRun.completedAt } : null }];
      }),
    );
  }

  /** Whether a scheduled tick of this cron must not run now. */
  isPaused(name: string): boolean {
    return this.records.get(name)?.paused ?? false;
  }

  /** Names of the crons with a schedule, sorted (removed ones too, as the table keeps them). */
  names(): string[] {
    return [...this.records.keys()].sort();
  }

  /**
   * The latest run of the cron is the one of the newest tick: the run store
   * notes every row it writes here (the row itself: it is read when listed).
   */
  noteRun(name: string, run: LastRun): void {
    const latest = this.lastRuns.get(name);
    if (!latest || latest.scheduledAt.getTime() <= run.scheduledAt.getTime()) this.lastRuns.set(name, run);
  }

  /** An untracked cron's tick starts (as its Redis schedule notes it): false for a scheduled tick of a paused cron. */
  startRun(name: string, tick: Date, trigger: CronRunTrigger): Promise<boolean> {
    if (trigger === 'schedule' && this.isPaused(name)) return Promise.resolve(false);
    if (this.records.has(name)) this.noteRun(name, { id: 0, status: CronRunStatus.RUNNING, scheduledAt: tick, completedAt: null });
    return Promise.resolve(true);
  }

  endRun(name: string, tick: Date, status: CronRunStatus): Promise<void> {
    if (this.records.has(name)) this.noteRun(name, { id: 0, status, scheduledAt: tick, completedAt: this.date() });
    return Promise.resolve();
  }

  /** Forgets every schedule and latest run. */
  reset(): void {
    this.records.clear();
    this.lastRuns.clear();
  }

  private date(): Date {
    return new Date(this.clock.now());
  }
}
