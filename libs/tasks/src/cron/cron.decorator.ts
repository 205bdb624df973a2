import { SetMetadata } from '@nestjs/common';
import { CRON_METADATA } from '../options/tasks.constants.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import {
  invalidCronExpression,
  invalidCronName,
  invalidLockTtl,
  invalidTaskOption,
  unknownTimeZone,
} from '../errors/tasks.messages.js';
import { CronSchedule, isValidTimeZone } from './cron-schedule.js';

/**
 * What happens to ticks that fell due while no scheduler ran, the process was
 * frozen, or no worker took them:
 * - `'skip'` (default): only a tick at most `cronCatchUpMs` (10 s) old, and
 *   not superseded by a newer one, still runs, so a redeploy does not drop
 *   the tick in progress; every older one is recorded MISSED.
 * - `'latest'`: the most recent missed tick runs once, however old; the others are MISSED.
 * - `{ windowMs }`: every missed tick at most `windowMs` old is enqueued (the overlap policy then
 *   applies to them as to any tick); older ones are MISSED.
 */
export type CronCatchUp = 'skip' | 'latest' | { readonly windowMs: number };

/**
 * What a tick does when the previous run of the job is still going:
 * - `'skip'` (default): it is recorded SKIPPED and does not run.
 * - `'bufferOne'`: it waits and starts when the run ends; at most one tick
 *   waits, any further one is SKIPPED.
 * - `'allow'`: it runs beside the other (no lock); still one row per tick.
 */
export type CronOverlap = 'skip' | 'bufferOne' | 'allow';

/** Options of `@Cron(expression, options)`. */
export interface CronOptions {
  /** Missed ticks: `'skip'` (default), `'latest'` or `{ windowMs }`. See {@link CronCatchUp}. */
  catchUp?: CronCatchUp;
  /** A tick that finds a run going: `'skip'` (default), `'bufferOne'` or `'allow'`. See {@link CronOverlap}. */
  overlap?: CronOverlap;
  /**
   * Milliseconds a crashed run can keep the job locked (default 300000). A
   * live run extends its lock automatically, however long it takes.
   */
  lockTtlMs?: number;
  /** IANA time zone the expression is read in. Default `UTC`. */
  timeZone?: string;
  /** Name of the job: its lock key and `job_name` in cron_job_runs. Defaults to the method name. */
  name?: string;
  /** Runs per tick before it is recorded FAILED. Default 1: the next tick is the retry. */
  attempts?: number;
  /**
   * Record runs in cron_job_runs. Default true. With false a run has no row
   * and no fencing token (`ctx.runId` and `ctx.fencingToken` are 0). An app
   * whose crons are all `track: false` needs no database (no TypeORM): it
   * keeps their schedules, pause state and latest run in Redis.
   */
  track?: boolean;
}

/** What `@Cron()` stores on a method; read by the explorer at boot. */
export interface CronMetadata {
  readonly name: string;
  readonly expression: string;
  readonly lockTtlMs: number;
  readonly timeZone: string;
  readonly attempts: number;
  readonly track: boolean;
  readonly catchUp: CronCatchUp;
  readonly overlap: CronOverlap;
  readonly schedule: CronSchedule;
}

export const DEFAULT_LOCK_TTL_MS = 300_000;
const CRON_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * Marks a provider method as a periodic job. Each tick runs once across all
 * schedulers and workers, under a lock, and is recorded in cron_job_runs.
 * The decorator only stores metadata (validated at once, so a bad expression
 * fails at import): the worker runs the job through its run pipeline.
 *
 * @param expression five fields `minute hour day month weekday`, or six with leading seconds
 * @param lockTtlSecondsOrOptions lock TTL in whole seconds, or options (`lockTtlMs` there)
 */
export function Cron(expression: string, lockTtlSecondsOrOptions: number | CronOptions = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const where = `@Cron() on ${target.constructor.name}.${String(key)}`;
    const metadata = buildCronMetadata(where, String(key), expression, lockTtlSecondsOrOptions);
    return SetMetadata(CRON_METADATA, metadata)(target, key, descriptor);
  };
}

export function buildCronMetadata(
  where: string,
  defaultName: string,
  expression: string,
  lockTtlSecondsOrOptions: number | CronOptions,
): CronMetadata {
  let options: CronOptions;
  let lockTtlMs: number;
  if (typeof lockTtlSecondsOrOptions === 'number') {
    const seconds = lockTtlSecondsOrOptions;
    if (!Number.isInteger(seconds) || seconds < 1) throw new TasksConfigurationError(invalidLockTtl(where, 'lockTtl', seconds, 'a positive whole number of seconds'));
    options = {};
    lockTtlMs = seconds * 1_000;
  } else {
    options = lockTtlSecondsOrOptions;
    lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    if (typeof lockTtlMs !== 'number' || !Number.isInteger(lockTtlMs) || lockTtlMs < 100) {
      throw new TasksConfigurationError(invalidLockTtl(where, 'lockTtlMs', lockTtlMs, 'a whole number of milliseconds, at least 100'));
    }
  }
  const name = options.name ?? defaultName;
  if (typeof name !== 'string' || !CRON_NAME.test(name)) {
    throw new TasksConfigurationError(invalidCronName(where, String(name)));
  }
  const timeZone = options.timeZone ?? 'UTC';
  if (!isValidTimeZone(timeZone)) throw new TasksConfigurationError(unknownTimeZone(where, timeZone));
  const attempts = options.attempts ?? 1;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new TasksConfigurationError(invalidTaskOption(where, 'attempts', attempts, 'a positive integer'));
  }
  const catchUp = options.catchUp ?? 'skip';
  const validWindow =
    typeof catchUp === 'object' && catchUp !== null && Number.isInteger(catchUp.windowMs) && catchUp.windowMs >= 0;
  if (catchUp !== 'skip' && catchUp !== 'latest' && !validWindow) {
    throw new TasksConfigurationError(
      invalidTaskOption(where, 'catchUp', JSON.stringify(catchUp), `'skip', 'latest' or { windowMs: <non-negative integer> }`),
    );
  }
  const overlap = options.overlap ?? 'skip';
  if (overlap !== 'skip' && overlap !== 'bufferOne' && overlap !== 'allow') {
    throw new TasksConfigurationError(invalidTaskOption(where, 'overlap', JSON.stringify(overlap), `'skip', 'bufferOne' or 'allow'`));
  }
  let schedule: CronSchedule;
  try {
    schedule = new CronSchedule(expression, timeZone);
  } catch (error) {
    throw new TasksConfigurationError(invalidCronExpression(where, String(expression), (error as Error).message));
  }
  const frozenCatchUp: CronCatchUp = typeof catchUp === 'object' ? { windowMs: catchUp.windowMs } : catchUp;
  return { name, expression, lockTtlMs, timeZone, attempts, track: options.track ?? true, catchUp: frozenCatchUp, overlap, schedule };
}

/** How `catchUp` is stored in cron_schedules: `skip`, `latest` or `window:<ms>`. */
export function catchUpToText(catchUp: CronCatchUp): string {
  return typeof catchUp === 'object' ? `window:${catchUp.windowMs}` : catchUp;
}
