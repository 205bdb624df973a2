import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import type { CronScheduleRecord } from './cron-schedule-record.entity.js';
import type { DeclaredSchedule, PauseNote, ScheduleStore, ScheduleWithLastRun } from './schedule.store.js';
import { CronRunStatus, type CronRunTrigger } from './cron-run-status.js';

/** A schedule as Redis keeps it, with the newest tick a worker took and did not find late (for the lateness check). */
export interface RedisSchedule extends ScheduleWithLastRun {
  /** The newest tick a worker ran, or found busy (SKIPPED), and that run's status; undefined before the first. */
  readonly admitted: { readonly tick: number; readonly status: CronRunStatus } | undefined;
}

// Every script leaves a cron alone until a scheduler has reconciled it (its hash exists), as an UPDATE of a missing row would.

// Notes the tick a scheduler fires (never moving back) and answers { paused, the last tick noted before }.
const BEFORE_TICK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, ''} end
local previous = redis.call('HGET', KEYS[1], 'last_tick_at')
if not previous or tonumber(previous) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'last_tick_at', ARGV[1]) end
local following = redis.call('HGET', KEYS[1], 'next_tick_at')
if not following or tonumber(following) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'next_tick_at', ARGV[2]) end
return {redis.call('HGET', KEYS[1], 'paused') == '1' and 1 or 0, previous or ''}`;

// ARGV: now, has reason, reason, has by, by. Pausing again keeps the time it has been paused since.
const PAUSE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'paused') ~= '1' then redis.call('HSET', KEYS[1], 'paused_at', ARGV[1]) end
redis.call('HSET', KEYS[1], 'paused', '1', 'updated_at', ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'paused_reason', ARGV[3]) else redis.call('HDEL', KEYS[1], 'paused_reason') end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'paused_by', ARGV[5]) else redis.call('HDEL', KEYS[1], 'paused_by') end
return 1`;

const RESUME = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'paused', '0', 'updated_at', ARGV[1])
redis.call('HDEL', KEYS[1], 'paused_reason', 'paused_by', 'paused_at')
return 1`;

// ARGV: tick, status, completed at ('' while RUNNING), check the pause ('1' for a scheduled tick about to start).
// Answers 0 when the cron is paused (nothing noted), else 1. The latest run is the one of the newest tick.
const NOTE_RUN = `
if ARGV[4] == '1' and redis.call('HGET', KEYS[1], 'paused') == '1' then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
local tick = tonumber(ARGV[1])
local latest = redis.call('HGET', KEYS[1], 'last_run_tick')
if not latest or tonumber(latest) <= tick then
  redis.call('HSET', KEYS[1], 'last_run_tick', ARGV[1], 'last_run_status', ARGV[2])
  if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'last_run_completed_at') else redis.call('HSET', KEYS[1], 'last_run_completed_at', ARGV[3]) end
end
if ARGV[2] ~= 'MISSED' then
  local admitted = redis.call('HGET', KEYS[1], 'admitted_tick')
  if not admitted or tonumber(admitted) <= tick then redis.call('HSET', KEYS[1], 'admitted_tick', ARGV[1], 'admitted_status', ARGV[2]) end
end
return 1`;

/** The definition fields a scheduler's reconcile writes, by hash field. */
const DEFINITION = {
  expression: 'expression',
  time_zone: 'timeZone',
  catch_up: 'catchUp',
  overlap: 'overlap',
  source: 'source',
  internal: 'internal',
} as const satisfies Record<string, keyof DeclaredSchedule>;

/**
 * The schedules of an app whose crons are all `track: false`, kept in Redis
 * instead of cron_schedules, with the same meaning: one hash per cron
 * (`<prefix>:cron-schedule:<name>`: definition, pause state, last tick
 * fired) and the set of names (`<prefix>:cron-schedules`). Without rows, it
 * also keeps each cron's latest run (status and tick), which a worker notes
 * as it starts and ends.
 */
@Injectable()
export class RedisScheduleStore implements ScheduleStore {
  readonly where: string;

  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
  ) {
    this.where = `Redis (${options.prefix}:cron-schedule:*)`;
  }

  /** Nothing to find: Redis is the deployment's own, checked at boot. */
  async connect(): Promise<void> {}

  async reconcile(declared: readonly DeclaredSchedule[]): Promise<Map<string, number>> {
    const now = String(Date.now());
    const known = await this.redis().smembers(this.namesKey);
    const current = await this.readAll(declared.map((cron) => cron.name));
    const writes = this.redis().multi();
    declared.forEach((cron, i) => {
      const key = this.keyOf(cron.name);
      const fields = Object.fromEntries(Object.entries(DEFINITION).map(([field, property]) => [field, String(cron[property])]));
      const existing = current[i];
      const changed = Object.entries(fields).some(([field, value]) => existing[field] !== value) || existing.removed_at !== undefined;
      writes.hset(key, { ...fields, next_tick_at: String(cron.nextTick), ...(changed ? { updated_at: now } : {}) });
      writes.hsetnx(key, 'created_at', now).hdel(key, 'removed_at').sadd(this.namesKey, cron.name);
    });
    const names = new Set(declared.map((cron) => cron.name));
    for (const name of known) if (!names.has(name)) writes.hsetnx(this.keyOf(name), 'removed_at', now);
    await writes.exec();
    const ticks = new Map<string, number>();
    declared.forEach((cron, i) => {
      const tick = current[i].last_tick_at;
      if (tick !== undefined) ticks.set(cron.name, Number(tick));
    });
    return ticks;
  }

  async beforeTick(name: string, tick: number, nextTick: number): Promise<{ paused: boolean; previousTick: number | undefined }> {
    const [paused, previous] = (await this.redis().eval(BEFORE_TICK, 1, this.keyOf(name), String(tick), String(nextTick))) as [number, string];
    return { paused: paused === 1, previousTick: previous === '' ? undefined : Number(previous) };
  }

  async pause(name: string, note: PauseNote): Promise<boolean> {
    const flag = (value: string | undefined) => [value === undefined ? '0' : '1', value ?? ''];
    return (await this.redis().eval(PAUSE, 1, this.keyOf(name), String(Date.now()), ...flag(note.reason), ...flag(note.by))) === 1;
  }

  async resume(name: string): Promise<boolean> {
    return (await this.redis().eval(RESUME, 1, this.keyOf(name), String(Date.now()))) === 1;
  }

  async list(name?: string): Promise<ScheduleWithLastRun[]> {
    const names = name === undefined ? (await this.redis().smembers(this.namesKey)).sort() : [name];
    const hashes = await this.readAll(names);
    return names.flatMap((cron, i) => (hashes[i].expression === undefined ? [] : [this.toSchedule(cron, hashes[i])]));
  }

  /** One cron's schedule, latest run and admitted tick; undefined until a scheduler has reconciled it. */
  async get(name: string): Promise<RedisSchedule | undefined> {
    const [hash] = await this.readAll([name]);
    return hash.expression === undefined ? undefined : this.toSchedule(name, hash);
  }

  /**
   * A worker takes a tick of an untracked cron: false (and nothing noted)
   * when it is a scheduled tick of a paused cron, else notes it RUNNING.
   */
  async startRun(name: string, tick: Date, trigger: CronRunTrigger): Promise<boolean> {
    return (await this.noteRun(name, tick, CronRunStatus.RUNNING, undefined, trigger === 'schedule')) === 1;
  }

  /** Notes how a run ended, or a tick that did not run (SKIPPED, MISSED). */
  async endRun(name: string, tick: Date, status: CronRunStatus): Promise<void> {
    await this.noteRun(name, tick, status, new Date(), false);
  }

  private noteRun(name: string, tick: Date, status: CronRunStatus, completedAt: Date | undefined, checkPause: boolean): Promise<unknown> {
    const args = [String(tick.getTime()), status, completedAt ? String(completedAt.getTime()) : '', checkPause ? '1' : '0'];
    return this.redis().eval(NOTE_RUN, 1, this.keyOf(name), ...args);
  }

  private redis() {
    return this.clients.failFast;
  }

  private get namesKey(): string {
    return `${this.options.prefix}:cron-schedules`;
  }

  private keyOf(name: string): string {
    return `${this.options.prefix}:cron-schedule:${name}`;
  }

  private async readAll(names: readonly string[]): Promise<Record<string, string | undefined>[]> {
    if (names.length === 0) return [];
    const pipeline = this.redis().pipeline();
    for (const name of names) pipeline.hgetall(this.keyOf(name));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, hash]) => {
      if (error) throw error;
      return hash as Record<string, string | undefined>;
    });
  }

  private toSchedule(name: string, hash: Record<string, string | undefined>): RedisSchedule {
    const date = (field: string) => (hash[field] === undefined ? null : new Date(Number(hash[field])));
    const schedule: CronScheduleRecord = {
      namespace: this.options.prefix,
      name,
      expression: hash.expression as string,
      timeZone: hash.time_zone as string,
      catchUp: hash.catch_up as string,
      overlap: hash.overlap as string,
      source: hash.source ?? null,
      internal: hash.internal === 'true',
      paused: hash.paused === '1',
      pausedReason: hash.paused_reason ?? null,
      pausedBy: hash.paused_by ?? null,
      pausedAt: date('paused_at'),
      lastTickAt: date('last_tick_at'),
      nextTickAt: date('next_tick_at'),
      removedAt: date('removed_at'),
      createdAt: date('created_at') as Date,
      updatedAt: date('updated_at') ?? (date('created_at') as Date),
    };
    const lastRun =
      hash.last_run_tick === undefined
        ? null
        : { id: 0, status: hash.last_run_status as CronRunStatus, scheduledAt: new Date(Number(hash.last_run_tick)), completedAt: date('last_run_completed_at') };
    const admitted = hash.admitted_tick === undefined ? undefined : { tick: Number(hash.admitted_tick), status: hash.admitted_status as CronRunStatus };
    return { schedule, lastRun, admitted };
  }
}
